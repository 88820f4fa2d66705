#!/usr/bin/env bash
# Every include in the libraries and the program names the folder it reaches into, and every
# arrow points down: base < io, nets < experiments/config < data < eval < model < report <
# experiments/run.c < workbench. io and nets stand side by side and do not include each other.
# Usage: check_includes.sh REPO_ROOT. Prints each violation as FILE:LINE: message; exit 1 if any.
set -u
cd "$1" || exit 2
rank() {
  case $1 in
    base) echo 0 ;; io|nets) echo 1 ;;
    experiments/config) echo 2 ;; experiments/data) echo 3 ;; experiments/eval) echo 4 ;;
    experiments/model) echo 5 ;; experiments/report) echo 6 ;; experiments) echo 7 ;;
    workbench) echo 8 ;; *) echo -1 ;;
  esac
}
bad=0 n=0
while IFS= read -r f; do
  from=$(dirname "$f")
  rf=$(rank "$from")
  while IFS=: read -r line text; do
    inc=$(sed -E 's/^#include "([^"]+)".*/\1/' <<<"$text")
    n=$((n + 1))
    case $inc in
      base/*|io/*|nets/*|experiments/*|workbench/*) to=$(dirname "$inc") ;;
      */*) continue ;;  # a dependency's own header (DCMTK, ITK)
      *) echo "$f:$line: include \"$inc\" does not name its folder (write \"$from/$inc\")"; bad=1; continue ;;
    esac
    [ -e "$inc" ] || { echo "$f:$line: \"$inc\" does not exist"; bad=1; continue; }
    [ "$to" = "$from" ] && continue
    rt=$(rank "$to")
    if [ "$rt" -lt 0 ] || [ "$rt" -ge "$rf" ]; then
      echo "$f:$line: $from includes $inc: the arrow points up or sideways"
      bad=1
    fi
  done < <(grep -n '^#include "' "$f")
done < <(find base io nets experiments workbench -name '*.[ch]' -o -name '*.cpp' | sort)
echo "checked $n includes"
exit $bad
