#!/usr/bin/env bash
# Quick start, command 1: build and start the kefu server on its embedded SQLite database
# with demo data (a demo site, groups, and the admin `demo` / `kefu-demo`), next to the demo
# back office (sample customers, orders and returns) that feeds the agent's customer view,
# a demo shop website with the shopper chat widget embedded (http://127.0.0.1:8090), and —
# where a display exists — the agent desktop app, ready to sign in to it.
# Three scripted shoppers chat with the demo site meanwhile, so the supervisor's live floor
# moves (`DEMO_SHOPPERS=0 scripts/run.sh` for none; not a KEFU_ name: kefu reads those).
# Extra arguments go to kefu, e.g. `scripts/run.sh -config=kefu.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
desktop=""
[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && desktop=1
if [ -n "$desktop" ]; then
  (cd ui && npm run build) # the app embeds ui/dist
  cargo build -p kefu-server --bin kefu -p kefu-demo-backoffice --bin kefu-demo-backoffice \
    -p kefu-desk --bin kefu-desk
else
  cargo build -p kefu-server --bin kefu -p kefu-demo-backoffice --bin kefu-demo-backoffice
fi

backoffice_listen="${KEFU_DEMO_BACKOFFICE:-127.0.0.1:8090}"
"$CARGO_TARGET_DIR/debug/kefu-demo-backoffice" --listen "$backoffice_listen" \
  --shoppers "${DEMO_SHOPPERS:-3}" &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
if [ -n "$desktop" ]; then
  # The app, once the server answers (sign in as demo / kefu-demo at http://127.0.0.1:8080).
  (
    for _ in $(seq 300); do curl -fs http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break; sleep 0.2; done
    exec "$CARGO_TARGET_DIR/debug/kefu-desk"
  ) &
  pids+=($!)
fi
export KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL="${KEFU_INTEGRATIONS__BACKOFFICE__BASE_URL:-http://$backoffice_listen}"
"$CARGO_TARGET_DIR/debug/kefu" --demo "$@"
