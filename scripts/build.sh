#!/usr/bin/env bash
# Configures and builds kgw. Used by the README's commands; usable alone.
#   scripts/build.sh            plain build in build/
#   scripts/build.sh --asan     ASan+UBSan build in build-asan/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

dir="${ROOT}/build"
extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
case "${1:-}" in
  "") ;;
  # Debug keeps DCHECKs and asserts on under the sanitizers.
  --asan) dir="${ROOT}/build-asan"; extra=(-DCMAKE_BUILD_TYPE=Debug -DKGW_SANITIZE=ON) ;;
  *) echo "usage: $0 [--asan]" >&2; exit 2 ;;
esac

# ccache keeps rebuilds on the same machine cheap; its cache lives outside the tree.
export CCACHE_DIR="${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
# Paths relative to the checkout, so a fresh clone elsewhere (as CI makes)
# still hits the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

cmake -S "$ROOT" -B "$dir" -G Ninja "${extra[@]}" >/dev/null
ninja -C "$dir"
