#!/usr/bin/env bash
# Checks setup's Node step on a machine without a usable Node, as on a fresh Debian 12 or
# Ubuntu 24.04 (Node 18): with node, npm and npx hidden from PATH, scripts/node.sh must
# install one (or reuse the one it installed before) that runs, is new enough for vite and
# whose npm runs lifecycle scripts; env.sh must put it on PATH; a second run must reuse the
# install without downloading; a Node 18 on PATH is passed over; and setup.sh as a whole must
# pass without asking apt for Debian's nodejs. Uses the real tools folder (/var/tmp/kefu-tools, or
# KEFU_TOOLS), so only the first run on a machine downloads (~60 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's helpers run as _apt and look up gpgv etc. on this PATH
fail() { echo "test-node-setup: FAIL: $*" >&2; exit 1; }

# PATH without Node: a directory of symlinks to every command on PATH (the first of each
# name wins, as in a PATH lookup) except Node's. Robust wherever node lives (/usr/bin here,
# /usr/local/bin, nvm...), and keeps python3, pip's shims etc. working.
hidden="$tmp/path"
mkdir "$hidden"
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  [ -d "$d" ] && [ "$d" != "$hidden" ] || continue
  ln -s "$d"/* "$hidden"/ 2>/dev/null || true # existing names stay: earlier PATH dirs win
done
rm -f "$hidden"/{node,nodejs,npm,npx,corepack}
export PATH="$hidden"
! command -v node >/dev/null && ! command -v npm >/dev/null || fail "node/npm still on the hidden PATH"
echo "test-node-setup: PATH with node, npm and npx hidden (node: $(command -v node || echo none))"

# 1. The step as setup.sh runs it.
start=$SECONDS
before="installed it"
[ -e "${KEFU_TOOLS:-/var/tmp/kefu-tools}/node-$(sed -n 's/^version="\(.*\)"$/\1/p' scripts/node.sh)" ] &&
  before="found it installed by an earlier run"
bin="$(bash scripts/node.sh)" || fail "scripts/node.sh failed"
[ -n "$bin" ] || fail "scripts/node.sh printed no bin directory though PATH has no node"
echo "test-node-setup: run 1: scripts/node.sh $before: $bin ($((SECONDS - start)) s)"
marker="$(stat -c '%i %Y' "$(dirname "$bin")")"

# 2. What it gives works from that PATH alone.
export PATH="$bin:$hidden"
[ "$(command -v node)" = "$bin/node" ] || fail "node on PATH is $(command -v node), not $bin/node"
v="$(node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  if (!((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 23)) process.exit(1);
  console.log(process.version)')" || fail "node $(node --version) is not ^20.19 or >= 22.12"
echo "test-node-setup: node -e: $v (^20.19.0 || >=22.12.0, as vite 7 requires)"
npm_v="$(npm --version)" || fail "npm --version failed"
npx_v="$(npx --version)" || fail "npx --version failed"
echo "test-node-setup: npm --version: $npm_v, npx --version: $npx_v"
# npm ci in a package with a lockfile and an install script that runs `node`, as native
# addons' install scripts do, and a script using npm's bundled node-gyp (which builds them).
pkg="$tmp/pkg"
mkdir "$pkg"
cat >"$pkg/package.json" <<'EOF'
{ "name": "kefu-node-check", "version": "1.0.0", "private": true,
  "scripts": { "install": "node -e \"require('fs').writeFileSync('installed', process.version)\"",
               "gyp": "node-gyp --version" } }
EOF
cat >"$pkg/package-lock.json" <<'EOF'
{ "name": "kefu-node-check", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": { "": { "name": "kefu-node-check", "version": "1.0.0", "hasInstallScript": true } } }
EOF
(cd "$pkg" && npm ci --no-audit --no-fund --offline >"$tmp/npm.log" 2>&1) ||
  { cat "$tmp/npm.log" >&2; fail "npm ci failed"; }
[ "$(cat "$pkg/installed")" = "$v" ] || fail "npm ci's install script did not run with $v"
echo "test-node-setup: npm ci ran the package's install script with node $(cat "$pkg/installed")"
gyp="$(cd "$pkg" && npm run --silent gyp)" || fail "npm run gyp (npm's node-gyp) failed"
echo "test-node-setup: npm run gyp: node-gyp $gyp"

# 3. env.sh (run.sh and test.sh source it after setup.sh) puts it on PATH.
export PATH="$hidden"
env_node="$(source scripts/env.sh && command -v node)" || fail "env.sh put no node on PATH"
[ "$env_node" = "$bin/node" ] || fail "after env.sh, node is $env_node, not $bin/node"
echo "test-node-setup: after env.sh, node is $env_node"

# 4. A second run reuses the install: pip may not reach an index, and the folder is unchanged.
start=$SECONDS
bin2="$(PIP_NO_INDEX=1 PIP_INDEX_URL=http://127.0.0.1:9/ bash scripts/node.sh)" ||
  fail "second run of scripts/node.sh failed (tried to download again?)"
[ "$bin2" = "$bin" ] || fail "second run gave $bin2, not $bin"
[ "$(stat -c '%i %Y' "$(dirname "$bin")")" = "$marker" ] || fail "second run replaced $(dirname "$bin")"
echo "test-node-setup: run 2: reused $bin2 without pip ($((SECONDS - start)) s)"

# 4b. An old system Node, as Debian 12's and Ubuntu 24.04's (18), is passed over the same way.
mkdir "$tmp/old"
printf '#!/bin/sh\necho v18.19.1\n' >"$tmp/old/node"
printf '#!/bin/sh\necho 9.2.0\n' >"$tmp/old/npm"
chmod +x "$tmp/old/node" "$tmp/old/npm"
bin3="$(PATH="$tmp/old:$hidden" bash scripts/node.sh)" || fail "scripts/node.sh failed with node 18 on PATH"
[ "$bin3" = "$bin" ] || fail "with node 18 on PATH, scripts/node.sh printed '$bin3', not $bin"
echo "test-node-setup: with node v18.19.1 on PATH, scripts/node.sh also gives $bin3"

# 5. setup.sh as a whole on that PATH: it must get its Node from node.sh, not ask apt for
#    Debian's (18 on Debian 12). apt-get is wrapped to refuse nodejs/npm; anything else it
#    may still install. Quick when setup has already run (test.sh runs it first).
real_apt=false
[ -L "$hidden/apt-get" ] && real_apt="$(readlink -f "$hidden/apt-get")" # /usr/bin/apt-get
rm -f "$hidden/apt-get"
printf '%s\n' '#!/bin/sh' \
  'for a in "$@"; do case "$a" in nodejs|npm) echo "apt-get: setup asked for $a" >&2; exit 1;; esac; done' \
  "exec $real_apt \"\$@\"" >"$hidden/apt-get"
chmod +x "$hidden/apt-get"
start=$SECONDS
PATH="$hidden" bash scripts/setup.sh >"$tmp/setup.log" 2>&1 ||
  { tail -n 20 "$tmp/setup.log" >&2; fail "setup.sh failed with node hidden"; }
echo "test-node-setup: scripts/setup.sh with node hidden: ok, no apt nodejs/npm ($((SECONDS - start)) s)"

# 6. With a good Node on PATH it prints nothing, so setup changes nothing there.
out="$(PATH="$bin:$hidden" bash scripts/node.sh)" || fail "scripts/node.sh failed with a good node on PATH"
[ -z "$out" ] || fail "scripts/node.sh printed '$out' though PATH's node is new enough"
echo "test-node-setup: with a node >= 20.19 on PATH, scripts/node.sh prints nothing"
echo "test-node-setup: ok"
