#!/usr/bin/env bash
# Fuzzes the REST API of a live kefu with schemathesis (PyPI) against the OpenAPI description
# kefu serves (generated from the code, `server/src/gateway/openapi.rs`), signed in as the
# demo admin, with every check; exits non-zero on any failure. Settings and the few
# operations left out (each with why) are in scripts/schemathesis.toml.
#
# Uses the kefu and kefu-testkit binaries already built in $CARGO_TARGET_DIR/debug (run after
# `cargo test --workspace`, as scripts/test.sh does): it builds nothing. schemathesis lives in
# a venv in the user's cache ($HOME/.cache/kefu-venv), installed once.
set -euo pipefail
cd "$(dirname "$0")/.."

schemathesis_version=4.32.5
target="${CARGO_TARGET_DIR:-/var/tmp/kefu-target}/debug"
for bin in kefu kefu-testkit; do
  if [ ! -x "$target/$bin" ]; then
    echo "schemathesis.sh: $target/$bin is missing; build it first (cargo build --workspace)" >&2
    exit 1
  fi
done

venv="${XDG_CACHE_HOME:-$HOME/.cache}/kefu-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$schemathesis_version"; then
  # Debian's python3 makes venvs only with python3-venv (ensurepip).
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-venv
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

# kefu --demo (admin `demo`, site `demo`) on a free port with a temp database, started the way
# the widget's end-to-end tests start it; it stops when its stdin closes.
work="$(mktemp -d)"
mkfifo "$work/stdin"
"$target/kefu-testkit" serve --origin http://127.0.0.1:9 <"$work/stdin" >"$work/serve.json" 2>"$work/serve.log" &
server=$!
exec {hold}>"$work/stdin"
cleanup() {
  [ -z "${hold:-}" ] || exec {hold}>&-
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 600); do
  [ -s "$work/serve.json" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "schemathesis.sh: kefu-testkit serve failed:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done
url="$("$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["url"])' <"$work/serve.json")"
token="$("$venv/bin/python" - "$url" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(
    sys.argv[1] + "/api/v1/auth/login",
    data=json.dumps({"username": "demo", "password": "kefu-demo"}).encode(),
    headers={"Content-Type": "application/json"},
)
print(json.load(urllib.request.urlopen(req, timeout=30))["token"])
EOF
)"

echo "schemathesis $schemathesis_version against kefu on $url"
"$venv/bin/schemathesis" --config-file scripts/schemathesis.toml run "$url/api/openapi.json" \
  --header "Authorization: Bearer $token" "$@"
