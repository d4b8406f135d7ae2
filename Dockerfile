# syntax=docker/dockerfile:1
# Signal Hub server image: `docker build -t signal-hub .` from the repository root.
# Runs hub-server as an unprivileged user, logs JSON, keeps its data (inboxes,
# histories: durability = disk) in the /var/lib/signal-hub volume. It listens on
# 0.0.0.0:8080 and so refuses to start without authentication: pass a JWT key, e.g.
#   docker run -p 8080:8080 -e SIGNAL_HUB_JWT_HMAC_SECRET=... signal-hub
# (or SIGNAL_HUB_INSECURE=true to run open on purpose). Every key is SIGNAL_HUB_<KEY>;
# a file: mount it and pass SIGNAL_HUB_CONFIG=/etc/signal-hub/config.toml
# (`docker run --rm signal-hub genconfig` prints a commented one).
# Stop: SIGTERM drains the sessions in waves (drain_batch_size, drain_batch_interval_ms)
# within shutdown_timeout_ms (10 s); give `docker stop` more than that (-t 15).

# Bases pinned to a release each (bump them on purpose). The build keeps
# cargo's registry and target directory in BuildKit cache mounts, so a
# rebuild after a code change compiles the hub's crates, not its ~600
# dependencies. The release profile strips debug info: the binary is small.

FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p hub-server \
 && install -D target/release/hub-server /out/hub-server

FROM debian:12.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/signal-hub --create-home signal-hub
COPY --from=build /out/hub-server /usr/local/bin/hub-server
USER signal-hub
WORKDIR /var/lib/signal-hub
ENV SIGNAL_HUB_BIND=0.0.0.0:8080 SIGNAL_HUB_DATA_DIR=/var/lib/signal-hub SIGNAL_HUB_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/signal-hub"]
STOPSIGNAL SIGTERM
# `hub-server healthcheck` asks this server's /ready (with the same config).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/hub-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/hub-server"]
