#!/usr/bin/env bash
# Quick start, command 1: build and start the kefu server on its embedded SQLite database
# with demo data (a demo site, groups, and the admin `demo` / `kefu-demo`).
# Extra arguments go to kefu, e.g. `scripts/run.sh -config=kefu.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build -p kefu-server --bin kefu
exec "$CARGO_TARGET_DIR/debug/kefu" --demo "$@"
