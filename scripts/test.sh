#!/usr/bin/env bash
# Quick start, command 2: every check and test — formatting, lints, the desktop UI's and the
# shopper widget's type checks and unit tests, every Rust unit, integration and end-to-end
# test, the widget's end-to-end tests in chromium against a real kefu, and schemathesis
# fuzzing the REST API against its OpenAPI description.
# No external services are needed: tests start kefu on 127.0.0.1 with temp databases, and
# the desktop tests run in a throw-away desktop session (scripts/desktop-session.sh). The
# server's tests run twice: on SQLite, then on PostgreSQL (scripts/postgres.sh uses the
# server on 127.0.0.1:5432, or installs one and starts a throwaway cluster); that pass also
# runs cluster mode's tests: three kefu nodes and three NATS servers (scripts/nats.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
log="$(mktemp)"
pg_cluster="$(mktemp)" # the throwaway cluster's data directory, if postgres.sh starts one
cleanup() {
  if [ -s "$pg_cluster" ]; then
    pg_data="$(cat "$pg_cluster")"
    pg_ctl="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/pg_ctl"
    if [ "$(id -u)" -eq 0 ]; then
      runuser -u postgres -- "$pg_ctl" -D "$pg_data" stop -m immediate >/dev/null 2>&1
    else
      "$pg_ctl" -D "$pg_data" stop -m immediate >/dev/null 2>&1
    fi
    rm -rf "$(dirname "$pg_data")"
  fi
  rm -f "$log" "$pg_cluster"
}
trap cleanup EXIT

# Setup's Node step with the system node hidden from PATH (a fresh Debian's is too old).
bash scripts/test-node-setup.sh
cargo fmt --all -- --check
# The GitHub Actions workflows (.github/workflows/desktop.yml builds the Windows and macOS
# installers), with shellcheck on their scripts.
actionlint="$(bash scripts/actionlint.sh)"
"$actionlint" .github/workflows/*.yml
(cd ui && npm run check && npm test) 2>&1 | tee "$log"
(cd widget && npm run gen:check && npm run check && npm test) 2>&1 | tee -a "$log"
# The app embeds ui/dist and kefu embeds widget/dist when compiled: build both first.
(cd ui && npm run build)
(cd widget && npm run build && npm run size)
cargo clippy --workspace --all-targets -- -D warnings
set +e
scripts/desktop-session.sh cargo test --workspace --no-fail-fast 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
# Every server test again on PostgreSQL: each test server gets a fresh database there
# (kefu-testkit's TestDatabase), dropped when the test ends. It runs the kefu-server test
# binaries the run above built, from server/ as cargo does: `cargo test -p kefu-server`
# would resolve dependency features for that package alone and rebuild much of the tree.
mapfile -t server_tests < <(cargo test --workspace --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    a = json.loads(line)
    if a.get("reason") == "compiler-artifact" and a["profile"]["test"] and a.get("executable") \
            and ("/server#" in a["package_id"] or a["package_id"].startswith("kefu-server ")):
        print(a["executable"])')
if [ "${#server_tests[@]}" -eq 0 ]; then
  echo "test.sh: found no kefu-server test binaries for the PostgreSQL run" | tee -a "$log"
  pg_status=1
elif pg_url="$(bash scripts/postgres.sh "$pg_cluster")" &&
  NATS_SERVER_BIN="$(bash scripts/nats.sh)"; then
  # Cluster mode's tests (server/tests/cluster.rs) start NATS servers of their own with it
  # (not a KEFU_ name: kefu reads those as config, and refuses unknown ones).
  export NATS_SERVER_BIN
  echo "test.sh: the server's tests on PostgreSQL ($pg_url)" | tee -a "$log"
  pg_status=0
  for test_bin in "${server_tests[@]}"; do
    (cd server && TEST_POSTGRES_URL="$pg_url" "$test_bin") 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || pg_status=1
  done
else
  echo "test.sh: no PostgreSQL or NATS server for the second run (scripts/postgres.sh or nats.sh failed)" | tee -a "$log"
  pg_status=1
fi
[ "$status" -eq 0 ] && status=$pg_status
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
# Dashboards, alerts, compose file and Dockerfile (promtool check/test rules, check config;
# no container engine runs here: mounts and COPY sources are checked instead).
bash scripts/check-ops.sh 2>&1 | tee -a "$log"
ops_status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && status=$ops_status
# The server's .deb and .rpm: built (release), linted, installed, upgraded, run as the
# systemd unit would run it, removed and purged (root; systemd need not run).
bash scripts/test-install.sh 2>&1 | tee -a "$log"
install_status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && status=$install_status
set -e
# One closing line for the whole run, summed over every test binary and the UI's tests.
awk '/^test result:/ { passed += $4; failed += $6 }
     /^ +Tests +[0-9]/ { for (i = 2; i < NF; i++) { if ($(i+1) == "passed") passed += $i; if ($(i+1) == "failed") failed += $i } }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
