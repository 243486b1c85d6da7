# One small image with kgw-agent, kgw-coordinator and kgwctl.
#
#   docker build -t kgw:local .
#   docker run --rm kgw:local kgw-agent --help
#
# The build stage runs exactly the README's scripts (scripts/install-deps.sh,
# scripts/build.sh), so a step that breaks for users breaks here too. The
# runtime stage holds the three binaries and the Debian packages of the shared
# libraries they load; tests/deploy/deploy_files_test.cc checks that list
# against `ldd` of the built binaries. The image runs as the unprivileged user
# kgw (uid 10001) and starts kgw-agent unless told otherwise
# (`command: ["kgw-coordinator"]` in compose/docker-compose.yml).

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
# --build-only: what scripts/build.sh needs, without the test tools (Maven,
# kcat, HAProxy, ...).
RUN scripts/install-deps.sh --build-only
RUN scripts/build.sh && strip build/bin/kgw-agent build/bin/kgw-coordinator build/bin/kgwctl

FROM debian:bookworm-slim AS runtime
# Shared libraries of the binaries (Debian 12 package names), CA certificates
# for TLS to the brokers (KAFKA_SSL_CA_FILE defaults to the system's), and curl
# for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libabsl20220623 libgoogle-glog0v6 libgrpc++1.51 libgrpc29 libprometheus-cpp-core1.0 \
        libjemalloc2 libprotobuf32 librdkafka1 librdkafka++1 libssl3 libstdc++6 \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 kgw \
    && useradd --system --uid 10001 --gid kgw --no-create-home --shell /usr/sbin/nologin kgw
COPY --from=build /src/build/bin/kgw-agent /src/build/bin/kgw-coordinator /src/build/bin/kgwctl \
     /usr/local/bin/
USER 10001:10001
# Agent client ports (GATEWAY_PORT_START, one per broker from there), the
# coordinator's gRPC port (GATEWAY_GRPC_PORT) and every node's HTTP endpoint
# (GATEWAY_HTTP_PORT): the documented defaults.
EXPOSE 6969-6974 6900 8888
# Ready: an agent knows the brokers and has bound its ports; a coordinator is
# a group member and knows the brokers. The endpoint listens on
# GATEWAY_BIND_HOST (agents) or GATEWAY_GRPC_BIND_HOST (coordinators), by
# default every address, 127.0.0.1 included.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${GATEWAY_HTTP_PORT:-8888}/health/ready" || exit 1
# SIGTERM drains an agent (docs/operations.md); give it time (stop_grace_period,
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
CMD ["kgw-agent"]
