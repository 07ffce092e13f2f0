#!/usr/bin/env bash
# Quick start, command 2: every check and test — formatting, lints, the desktop UI's type
# check and component tests, and every Rust unit, integration and end-to-end test.
# No external services are needed: tests start kefu on 127.0.0.1 with temp databases, and
# the desktop tests run in a throw-away desktop session (scripts/desktop-session.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

cargo fmt --all -- --check
(cd ui && npm run check && npm test) 2>&1 | tee "$log"
# The app embeds ui/dist when it is compiled: build the UI first.
(cd ui && npm run build)
cargo clippy --workspace --all-targets -- -D warnings
set +e
scripts/desktop-session.sh cargo test --workspace 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, summed over every test binary and the UI's tests.
awk '/^test result:/ { passed += $4; failed += $6 }
     /^ +Tests +[0-9]/ { for (i = 2; i < NF; i++) { if ($(i+1) == "passed") passed += $i; if ($(i+1) == "failed") failed += $i } }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
