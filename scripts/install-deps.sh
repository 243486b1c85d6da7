#!/usr/bin/env bash
# Installs everything kgw needs to build and test, from Debian's packages.
# Idempotent: packages already present are skipped by apt, and apt-get update is
# run only when something is missing.
#   scripts/install-deps.sh                everything: build and test (the default)
#   scripts/install-deps.sh --build-only   only what scripts/build.sh needs (the
#                                          Dockerfile's build stage): no Maven, kcat,
#                                          haproxy or other test tools
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache clang libclang-rt-14-dev
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librdkafka-dev libssl-dev libgoogle-glog-dev libgflags-dev
  libgtest-dev libgmock-dev googletest libasio-dev prometheus-cpp-dev libbenchmark-dev
  libyaml-cpp-dev
  # a JRE: tests/e2e's CMakeLists.txt finds Java when the build is configured
  default-jdk-headless
  # code generation (the Kafka codec is generated from message descriptions)
  python3
)
TEST_PACKAGES=(
  # test tools: Maven for the Kafka harness, kcat and haproxy as reference peers
  maven kcat haproxy openssl unzip procps netcat-openbsd curl iproute2
)

case "${1:-}" in
  "") PACKAGES+=("${TEST_PACKAGES[@]}") ;;
  --build-only) ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
