# Shared by run.sh and test.sh: one cargo target directory outside the clone, so every
# checkout and CI run on this machine reuses the same build.
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/kefu-target}"
mkdir -p "$CARGO_TARGET_DIR"
