#!/usr/bin/env bash
# report.html in a real browser: well-formed XML (so every inline SVG parses), opened by
# headless Chromium with no console message at all (the page has no scripts; a blocked
# fetch or a parse problem would log one), a screenshot and a printed PDF produced.
# A control page with a console error must be caught, so the check itself can fail.
# Args: WORKBENCH FIXTURE_RUN_DIR OUT_DIR [SVG_PLOTS (default 6: a binary run's)]
# FIXTURE_RUN_DIR may also be a `workbench predict` output directory (its report as written).
set -euo pipefail
wb=$1 fix=$2 out=$3 want_svg=${4:-6}
rm -rf "$out"; mkdir -p "$out/run"
. "$(dirname "$0")/../cli/lib.sh"
for tool in xmllint chromium; do
  command -v "$tool" >/dev/null || { echo "missing $tool: ./setup.sh --asan installs libxml2-utils and chromium" >&2; exit 1; }
done
cp -r "$fix"/. "$out/run/"
# an external validation's report is written by `workbench predict` (there is no run to report on)
if grep -q '"kind": "external_validation"' "$out/run/metrics.json"; then
  expect_exit 0 test -s "$out/run/report.html"
else
  expect_exit 0 "$wb" report "$out/run"
fi
checks=$((checks + 1))
xmllint --noout "$out/run/report.html" 2>"$out/xmllint.err" || { fails=$((fails + 1)); echo "FAIL: report.html is not well-formed XML:" >&2; head -20 "$out/xmllint.err" >&2; }
# each SVG on its own, as a standalone document
grep -o '<svg .*</svg>' "$out/run/report.html" | awk -v d="$out" '{f = sprintf("%s/plot%d.svg", d, NR); print > f; close(f)}'
n_svg=$(ls "$out"/plot*.svg | wc -l)
expect_eq "$n_svg" "$want_svg" "SVG plots"
for s in "$out"/plot*.svg; do
  checks=$((checks + 1)); xmllint --noout "$s" 2>/dev/null || { fails=$((fails + 1)); echo "FAIL: $s does not parse" >&2; }
done

# Chromium: every console message is printed as "...:CONSOLE..." with --enable-logging=stderr
browse() { # PAGE SCREENSHOT -> console lines in $out/console.txt
  timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$out/profile" --enable-logging=stderr --v=0 --window-size=1280,2400 \
    --screenshot="$2" "file://$1" >"$out/chromium.out" 2>&1 || true
  grep -a 'CONSOLE' "$out/chromium.out" >"$out/console.txt" || true
}
cat >"$out/control.html" <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"/><title>control</title></head>
<body><p>control</p><script>console.error("control page error")</script></body></html>
HTML
browse "$out/control.html" "$out/control.png"
expect_grep 'control page error' "$out/console.txt"

browse "$(cd "$out/run" && pwd)/report.html" "$out/report.png"
checks=$((checks + 1))
if [ -s "$out/console.txt" ]; then fails=$((fails + 1)); echo "FAIL: console messages from report.html:" >&2; cat "$out/console.txt" >&2; fi
checks=$((checks + 1))
size=$(stat -c %s "$out/report.png" 2>/dev/null || echo 0)
[ "$size" -gt 50000 ] || { fails=$((fails + 1)); echo "FAIL: screenshot missing or blank ($size bytes)" >&2; cat "$out/chromium.out" >&2; }
# printable: Chromium prints it to PDF
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$out/profile" \
  --print-to-pdf="$out/report.pdf" --no-pdf-header-footer "file://$(cd "$out/run" && pwd)/report.html" >/dev/null 2>&1 || true
checks=$((checks + 1))
head -c 5 "$out/report.pdf" 2>/dev/null | grep -q '%PDF-' || { fails=$((fails + 1)); echo "FAIL: no PDF printed" >&2; }
echo "screenshot: $out/report.png, PDF: $out/report.pdf"
finish
