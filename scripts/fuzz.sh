#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for
# KGW_FUZZ_SECONDS seconds (default 5) under ASan+UBSan through ctest.
#   scripts/fuzz.sh                     build and run all
#   KGW_FUZZ_SECONDS=600 scripts/fuzz.sh -R MetadataResponse   longer, one target
#   scripts/fuzz.sh --build-only        build, do not run
# Extra arguments go to ctest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
dir="$ROOT/build-fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DKGW_FUZZ=ON -DKGW_FUZZ_SECONDS="${KGW_FUZZ_SECONDS:-5}" >/dev/null
ninja -C "$dir" kgw_fuzzers
if [[ "${1:-}" == "--build-only" ]]; then exit 0; fi
ctest --test-dir "$dir" -L fuzz --output-on-failure "$@"
