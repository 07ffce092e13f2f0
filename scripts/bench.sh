#!/usr/bin/env bash
# The full benchmark suite of docs/BENCHMARKS.md: release builds of kefu and kefu-bench, then
# every scenario against a fresh kefu on a temp SQLite database (about 8 minutes on 2 cores).
# Prints the tables; the JSON goes to test-output/bench-results.json.
# Extra arguments go to `kefu-bench run`, e.g. `scripts/bench.sh --quick` or `--shoppers 5000`;
# `--store "$(scripts/postgres.sh)"` measures kefu on PostgreSQL instead, and adding
# `--nodes 3` measures three cluster nodes on it (with a NATS cluster the run starts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo build --release -p kefu-server --bin kefu -p kefu-bench --bin kefu-bench
mkdir -p test-output
exec "$CARGO_TARGET_DIR/release/kefu-bench" run --json test-output/bench-results.json "$@"
