#!/usr/bin/env bash
# Builds the desktop app's installers for this OS (release build): .deb and .rpm on Linux,
# .msi/.exe on Windows, .dmg/.app on macOS (bundle settings in src-tauri/tauri.conf.json).
# AppImage is left out: its bundler downloads tools at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
case "$(uname -s)" in
  Linux) bundles="deb,rpm" ;;
  Darwin) bundles="app,dmg" ;;
  *) bundles="msi,nsis" ;;
esac
ui/node_modules/.bin/tauri build --bundles "$bundles" "$@"
ls -l "$CARGO_TARGET_DIR"/release/bundle/*/* 2>/dev/null || true
