#!/usr/bin/env bash
# Installs the Debian 12 packages the workbench needs (only those missing; as root directly,
# otherwise through sudo), then configures and builds into build/.
#   ./setup.sh          install + build (build/)
#   ./setup.sh --asan   also build with AddressSanitizer + UBSan (build-asan/), and install the
#                       test tools (xmllint, Chromium for the report's browser test, Slurm and
#                       munge for tests/cluster)
#   ./setup.sh --fuzz   also install clang + libFuzzer and build the fuzz targets (build-fuzz/,
#                       clang, ASan + UBSan; tests/fuzz/run.sh runs them)
# The flags combine: ./setup.sh --asan --fuzz
set -euo pipefail
cd "$(dirname "$0")"
asan=0 fuzz=0
for a in "$@"; do
  case $a in
    --asan) asan=1 ;;
    --fuzz) fuzz=1 ;;
    *) echo "setup: unknown option '$a' (use --asan, --fuzz)" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential cmake pkg-config libdcmtk-dev dcmtk libinsighttoolkit5-dev
      libopenblas-dev libyaml-dev libsqlite3-dev libhdf5-dev zlib1g-dev dicom3tools libopenjp2-7-dev libexpat1-dev
      libpng-dev libjpeg62-turbo-dev)
[ $fuzz -eq 0 ] || pkgs+=(clang libclang-rt-14-dev)
# the test command (--asan) also checks the HTML report: xmllint and headless Chromium; and
# submits a run to a single-node Slurm it starts (tests/cluster): slurm-wlm and munge
[ $asan -eq 0 ] || pkgs+=(libxml2-utils chromium slurm-wlm munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
if [ $asan -eq 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DWB_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
fi
if [ $fuzz -eq 1 ]; then
  # Only the fuzz targets and the libraries they link (the CLI and tests stay gcc-built).
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWB_FUZZ=ON \
    -DWB_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target wb_fuzz
fi
