#!/usr/bin/env bash
# Quick start, command 2: every check and test — formatting, lints, the desktop UI's and the
# shopper widget's type checks and unit tests, every Rust unit, integration and end-to-end
# test, the widget's end-to-end tests in chromium against a real kefu, and schemathesis
# fuzzing the REST API against its OpenAPI description.
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
(cd widget && npm run gen:check && npm run check && npm test) 2>&1 | tee -a "$log"
# The app embeds ui/dist and kefu embeds widget/dist when compiled: build both first.
(cd ui && npm run build)
(cd widget && npm run build && npm run size)
cargo clippy --workspace --all-targets -- -D warnings
set +e
scripts/desktop-session.sh cargo test --workspace --no-fail-fast 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
# The widget against the kefu binary the tests just built.
(cd widget && npm run e2e) 2>&1 | tee -a "$log"
e2e_status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && status=$e2e_status
# Every fuzz target for a short while from its committed corpus (scripts/fuzz.sh without an
# argument runs them 5 minutes each).
bash scripts/fuzz.sh 20 2>&1 | tee -a "$log"
fuzz_status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && status=$fuzz_status
# The REST API fuzzed by schemathesis against its OpenAPI description, on the same binaries.
bash scripts/schemathesis.sh
schemathesis_status=$?
[ "$status" -eq 0 ] && status=$schemathesis_status
set -e
# One closing line for the whole run, summed over every test binary and the UI's tests.
awk '/^test result:/ { passed += $4; failed += $6 }
     /^ +Tests +[0-9]/ { for (i = 2; i < NF; i++) { if ($(i+1) == "passed") passed += $i; if ($(i+1) == "failed") failed += $i } }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
