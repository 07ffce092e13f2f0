#!/usr/bin/env bash
# Quick start, command 1: build and start the kefu server on its embedded SQLite database
# with demo data (a demo site, groups, and the admin `demo` / `kefu-demo`), next to the demo
# back office (sample customers, orders and returns) that feeds the agent's customer view.
# Extra arguments go to kefu, e.g. `scripts/run.sh -config=kefu.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build -p kefu-server --bin kefu -p kefu-demo-backoffice --bin kefu-demo-backoffice

backoffice_listen="${KEFU_DEMO_BACKOFFICE:-127.0.0.1:8090}"
"$CARGO_TARGET_DIR/debug/kefu-demo-backoffice" --listen "$backoffice_listen" &
backoffice=$!
trap 'kill "$backoffice" 2>/dev/null || true' EXIT INT TERM
export KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL="${KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL:-http://$backoffice_listen}"
"$CARGO_TARGET_DIR/debug/kefu" --demo "$@"
