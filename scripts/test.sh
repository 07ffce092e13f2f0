#!/usr/bin/env bash
# Quick start, command 2: every check and test (formatting, lints, unit, integration).
# No external services are needed: the tests start kefu on 127.0.0.1 with temp databases.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
