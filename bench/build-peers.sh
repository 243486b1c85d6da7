#!/usr/bin/env bash
# Builds a peer Kafka proxy that the benchmark compares kgw with, from its public source, into
# the peers directory bench/compare.py reads (--peers-dir; default $KGW_PEERS_DIR, else
# ~/.cache/kgw/peers). Neither peer is published ready-made on Maven Central or the Go module
# proxy, so the benchmark needs this once per machine:
#
#   bench/build-peers.sh kafka-proxy  GIT_DIR   # grepplabs/kafka-proxy -> PEERS/bin/kafka-proxy
#   bench/build-peers.sh kroxylicious GIT_DIR   # kroxylicious/kroxylicious -> PEERS/kroxylicious/
#
# GIT_DIR is a clone of the project's repository (bare is fine), e.g.
#   git clone --bare https://github.com/grepplabs/kafka-proxy.git kafka-proxy.git
# The tag built is v0.4.3 for kafka-proxy and v0.23.0 for Kroxylicious (KAFKA_PROXY_REF,
# KROXYLICIOUS_REF). kafka-proxy needs Go (its dependencies are vendored); Kroxylicious needs a
# JDK 21 or newer (JAVA_HOME, or one under /usr/lib/jvm) and Maven 3.9 or newer, which is
# fetched from Maven Central when the installed one is older.
set -euo pipefail
usage="usage: bench/build-peers.sh kafka-proxy|kroxylicious GIT_DIR"
peer="${1:?$usage}"
git_dir="$(readlink -f "${2:?$usage}")"
peers="${KGW_PEERS_DIR:-$HOME/.cache/kgw/peers}"
mkdir -p "$peers/bin" "$peers/src"

fail() { echo "build-peers: $*" >&2; exit 2; }

# The tree of tag $1 of the repository, in $2 (replacing what was there).
checkout() {
  git --git-dir="$git_dir" rev-parse --verify -q "$1^{commit}" >/dev/null ||
    fail "$git_dir has no $1 (fetch its tags)"
  rm -rf "$2"
  mkdir -p "$2"
  git --git-dir="$git_dir" archive "$1" | tar -x -C "$2"
}

build_kafka_proxy() {
  local ref="${KAFKA_PROXY_REF:-v0.4.3}" src="$peers/src/kafka-proxy"
  command -v go >/dev/null || fail "kafka-proxy needs Go (apt-get install golang-go)"
  checkout "$ref" "$src"
  (cd "$src" && go build -mod=vendor -o "$peers/bin/kafka-proxy" \
     -ldflags "-s -w -X github.com/grepplabs/kafka-proxy/config.Version=$ref" .)
  "$peers/bin/kafka-proxy" version
}

# A JDK of version 21 or newer: JAVA_HOME, else the newest under /usr/lib/jvm.
find_jdk() {
  local home
  for home in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    home="${home%/}"
    [[ -n "$home" && -x "$home/bin/javac" ]] || continue
    if "$home/bin/java" -version 2>&1 | grep -qE 'version "(2[1-9]|[3-9][0-9])'; then
      echo "$home"
      return
    fi
  done
  fail "Kroxylicious needs a JDK 21 or newer: set JAVA_HOME"
}

# mvn 3.9 or newer (Kroxylicious's build refuses older): the installed one, or Apache Maven's
# distribution from Maven Central, which the installed one can fetch.
find_maven() {
  if mvn -v 2>/dev/null | grep -qE 'Apache Maven (3\.(9|[1-9][0-9])|[4-9])'; then
    echo mvn
    return
  fi
  local version=3.9.11 dir="$peers/maven"
  if [[ ! -x "$dir/apache-maven-$version/bin/mvn" ]]; then
    command -v mvn >/dev/null || fail "Kroxylicious needs Maven (apt-get install maven)"
    mkdir -p "$dir"
    mvn -q dependency:copy -Dartifact="org.apache.maven:apache-maven:$version:tar.gz:bin" \
      -DoutputDirectory="$dir" >&2
    tar -xzf "$dir/apache-maven-$version-bin.tar.gz" -C "$dir"
  fi
  echo "$dir/apache-maven-$version/bin/mvn"
}

build_kroxylicious() {
  local ref="${KROXYLICIOUS_REF:-v0.23.0}" src="$peers/src/kroxylicious" jdk mvn dist
  jdk="$(find_jdk)"
  export JAVA_HOME="$jdk" PATH="$jdk/bin:$PATH"
  mvn="$(find_maven)"
  checkout "$ref" "$src"
  # Only the proxy's application is needed. Some other modules (the Kubernetes operator, the
  # docs, the benchmarks, the filter archetype) and the application's test-scoped dependencies
  # need artifacts Maven Central does not serve, so they are left out of the build.
  python3 - "$src" <<'EOF'
import re
import sys

root = sys.argv[1]
with open(f"{root}/pom.xml") as f:
    pom = f.read()
for module in ("kroxylicious-kubernetes", "kroxylicious-docs", "kroxylicious-filter-archetype",
               "kroxylicious-openmessaging-benchmarks"):
    pom = pom.replace(f"<module>{module}</module>", "")
with open(f"{root}/pom.xml", "w") as f:
    f.write(pom)
with open(f"{root}/kroxylicious-app/pom.xml") as f:
    app = f.read()
test_only = re.compile(
    r"\s*<dependency>(?:(?!</dependency>).)*?<scope>test</scope>\s*</dependency>", re.S)
with open(f"{root}/kroxylicious-app/pom.xml", "w") as f:
    f.write(test_only.sub("", app))
EOF
  (cd "$src" && "$mvn" -B -ntp -q -Pdist -pl kroxylicious-app -am package \
     -DskipTests -Dmaven.test.skip=true -Dquick -Derrorprone.skip=true \
     -Dmaven.gitcommitid.skip=true -DwithAdditionalFilters=false -DskipContainerImageBuild=true)
  dist="$(find "$src/kroxylicious-app/target" -path '*/bin/kroxylicious-start.sh' | head -1)"
  [[ -n "$dist" ]] || fail "the Kroxylicious build made no distribution (no kroxylicious-start.sh)"
  rm -rf "$peers/kroxylicious"
  cp -r "$(dirname "$(dirname "$dist")")" "$peers/kroxylicious"
  echo "Kroxylicious $ref in $peers/kroxylicious (the benchmark runs it with a Java 21 or newer)"
}

case "$peer" in
  kafka-proxy) build_kafka_proxy ;;
  kroxylicious) build_kroxylicious ;;
  *) fail "$usage" ;;
esac
