#!/usr/bin/env bash
# Installs everything kgw needs to build and test, from Debian's packages (and
# helm, built from source: see install_helm).
# Idempotent: packages already present are skipped by apt, and apt-get update is
# run only when something is missing.
#   scripts/install-deps.sh                everything: build and test (the default)
#   scripts/install-deps.sh --build-only   only what scripts/build.sh needs (the
#                                          Dockerfile's build stage): no Maven, kcat,
#                                          haproxy, promtool, helm or other test tools
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librdkafka-dev libssl-dev libgoogle-glog-dev libgflags-dev
  libgtest-dev libgmock-dev googletest libasio-dev prometheus-cpp-dev libbenchmark-dev
  libyaml-cpp-dev
  # the servers' allocator: it returns memory after connections close
  libjemalloc-dev
  # a JRE: tests/e2e's CMakeLists.txt finds Java when the build is configured
  default-jdk-headless
  # code generation (the Kafka codec is generated from message descriptions)
  python3
)
TEST_PACKAGES=(
  # test tools: Maven for the Kafka harness, kcat and haproxy as reference peers
  maven kcat haproxy openssl unzip procps netcat-openbsd curl iproute2
  # a real browser, headless, for the coordinators' fleet view
  chromium
)

TESTS=1
case "${1:-}" in
  "") PACKAGES+=("${TEST_PACKAGES[@]}") ;;
  --build-only) TESTS=0 ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# promtool alone, for the checks of the alert rules: Debian ships it in the
# prometheus package, whose server (and its service) the tests do not want.
# The package is unpacked into a cache and only promtool is put on the PATH.
install_promtool() {
  command -v promtool >/dev/null && return 0
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/kgw/promtool"
  if [[ ! -x $cache/usr/bin/promtool ]]; then
    local tmp
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download -q prometheus 2>/dev/null); then
      $SUDO apt-get update -q
      (cd "$tmp" && apt-get download -q prometheus 2>/dev/null)
    fi
    mkdir -p "$cache"
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$cache" ./usr/bin/promtool
    rm -rf "$tmp"
  fi
  $SUDO ln -sf "$cache/usr/bin/promtool" /usr/local/bin/promtool
  echo "install-deps: promtool from Debian's prometheus package ($cache)"
}
if ((TESTS)); then install_promtool; fi

# helm, for the render test of the Helm chart (compose/helm/kgw). Debian has
# no package for it, so it is built from its pinned source release with Go's
# module proxy, which checks every module against the public checksum
# database. That needs a Go newer than Debian's golang-go: the official
# toolchain in /usr/local/go is preferred, then any go on the PATH; without Go
# the test skips. The binary is kept in a cache named by its version, so a
# machine that has built it once never builds it again (a cold build takes
# minutes).
HELM_VERSION=v4.3.2
install_helm() {
  local go=""
  if [[ -x /usr/local/go/bin/go ]]; then
    go=/usr/local/go/bin/go
  elif command -v go >/dev/null; then
    go=$(command -v go)
  else
    echo "install-deps: no Go found: helm is not installed and the Helm chart test skips"
    return 0
  fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/kgw/helm-${HELM_VERSION}"
  if [[ ! -x $cache/helm ]]; then
    echo "install-deps: building helm ${HELM_VERSION} with $("$go" version) (minutes)"
    mkdir -p "$cache"
    if ! GOBIN="$cache" "$go" install "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"; then
      echo "install-deps: building helm ${HELM_VERSION} failed with $("$go" version);" \
        "it needs the Go its go.mod names (https://go.dev/dl)" >&2
      return 1
    fi
  fi
  $SUDO ln -sf "$cache/helm" /usr/local/bin/helm
  echo "install-deps: helm ${HELM_VERSION} ($cache)"
}
if ((TESTS)); then install_helm; fi
