#!/usr/bin/env bash
# Builds the server's Linux packages, kefu_<version>-1_<arch>.deb (cargo-deb) and
# kefu-<version>-1.<arch>.rpm (cargo-generate-rpm), from ONE release build of `kefu`,
# stripped once and packed unchanged into both. Metadata: [package.metadata.deb] and
# [package.metadata.generate-rpm] in server/Cargo.toml; files: packaging/ (README there).
#
#   scripts/package-server.sh [--version X.Y.Z] [--out DIR] [--fast]
#
#   --version  package version instead of the workspace's (the binary is the same); the
#              upgrade check of scripts/test-install.sh builds an "older" package this way
#   --out      where the packages go (default: $CARGO_TARGET_DIR/packages)
#   --fast     quicker, lighter compression (bigger files): for throwaway test packages
#
# Needs cargo-deb and cargo-generate-rpm (scripts/setup.sh installs them) and the built
# shopper widget (widget/dist/widget.js, also scripts/setup.sh). Prints each package's path
# and size, then "deb=<path>" and "rpm=<path>" lines for scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

version=""
out="$CARGO_TARGET_DIR/packages"
fast=()
rpm_compress=zstd
while (($#)); do
  case "$1" in
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --version=*) version="${1#*=}"; shift ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --fast) fast=(--fast); rpm_compress=gzip; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "package-server.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

for tool in cargo-deb cargo-generate-rpm; do
  command -v "$tool" >/dev/null || {
    echo "package-server.sh: $tool is missing: run scripts/setup.sh (or cargo install $tool --locked)" >&2
    exit 1
  }
done
[ -f widget/dist/widget.js ] || {
  echo "package-server.sh: widget/dist/widget.js is missing: run scripts/setup.sh first (kefu embeds the widget)" >&2
  exit 1
}

workspace_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
version="${version:-$workspace_version}"
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || { echo "package-server.sh: bad version '$version'" >&2; exit 2; }

echo "== building kefu (release)"
cargo build --release --locked -p kefu-server --bin kefu

# Both tools take the binary from "target/release/kefu", mapped to the target directory
# they are given: point them at a staging directory holding the stripped copy, so the
# cargo build output stays as cargo wrote it and both packages carry the same bytes.
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage="$out/.stage"
rm -rf "$stage"
mkdir -p "$stage/release"
# As Debian's dh_strip does for executables: symbols and the .comment/.note sections.
strip --strip-all --remove-section=.comment --remove-section=.note \
  -o "$stage/release/kefu" "$CARGO_TARGET_DIR/release/kefu"

deb="$out/kefu_${version}-1_$(dpkg --print-architecture).deb"
rpm="$out/kefu-${version}-1.$(uname -m).rpm"
rm -f "$deb" "$rpm"

echo "== cargo deb ($version)"
CARGO_TARGET_DIR="$stage" cargo deb -p kefu-server --no-build --no-strip --locked "${fast[@]}" \
  --deb-version "${version}-1" --output "$deb"

echo "== cargo generate-rpm ($version)"
cargo generate-rpm -p server --target-dir "$stage" --output "$rpm" --payload-compress "$rpm_compress" \
  --set-metadata "version = \"$version\"" --set-metadata 'release = "1"'

rm -rf "$stage"
echo "== packages"
for f in "$deb" "$rpm"; do
  [ -s "$f" ] || { echo "package-server.sh: $f was not written" >&2; exit 1; }
  printf '%s  %s bytes (%s)\n' "$f" "$(stat -c %s "$f")" "$(du -h "$f" | cut -f1)"
done
echo "deb=$deb"
echo "rpm=$rpm"
