# syntax=docker/dockerfile:1
# The Kefu server (`kefu`) in a container: built from this repository in three stages, run
# as an unprivileged user. No container engine runs on the project's machines, so this file
# is checked (scripts/check-ops.sh: every COPY source exists), not built, there. See
# ops/README.md for docker-compose.yml (Kefu cluster + PostgreSQL + NATS + Prometheus +
# Grafana).
#
#   docker build -t kefu .
#   docker run -p 8080:8080 -v kefu-data:/var/lib/kefu kefu          # SQLite in the volume
#   docker run ... kefu --config /etc/kefu/kefu.toml                   # with a config file

# 1. The shopper widget (widget/dist/widget.js), which the kefu binary embeds.
FROM node:20-bookworm-slim AS widget
WORKDIR /src/widget
COPY widget/package.json widget/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY widget ./
RUN npm run build

# 2. The kefu binary (release). Only kefu-server is built, but cargo reads every workspace
#    member's manifest, so the whole source tree is copied (.dockerignore keeps build output,
#    node_modules and data out).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=widget /src/widget/dist widget/dist
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kefu-server --bin kefu \
    && install -m 0755 target/release/kefu /usr/local/bin/kefu

# 3. The runtime: Debian slim, CA certificates (TLS to PostgreSQL, NATS, back offices,
#    webhooks), curl for the health check, and kefu as user `kefu` (uid 10001).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/kefu --shell /usr/sbin/nologin kefu \
    && mkdir -p /var/lib/kefu/attachments /etc/kefu \
    && chown -R kefu:kefu /var/lib/kefu
COPY --from=build /usr/local/bin/kefu /usr/local/bin/kefu
COPY server/kefu.example.toml /etc/kefu/kefu.example.toml
# Every KEFU_* variable overrides the config file (`__` separates sections).
ENV KEFU_SERVER__LISTEN=0.0.0.0:8080 \
    KEFU_SERVER__DATA_DIR=/var/lib/kefu \
    KEFU_LOG__FORMAT=json
USER kefu
WORKDIR /var/lib/kefu
VOLUME ["/var/lib/kefu"]
# 8080: shoppers, agents, REST, /metrics unless [metrics] listen moves it (9464 in ops/docker).
EXPOSE 8080 9464
# /healthz: the process answers. (/readyz, which also asks the database, is for load
# balancers: a container restarted for a database outage would not help.)
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "--max-time", "4", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["kefu"]
