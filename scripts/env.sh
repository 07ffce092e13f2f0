# Shared by run.sh and test.sh: one cargo target directory outside the clone, so every
# checkout and CI run on this machine reuses the same build.
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/kefu-target}"
mkdir -p "$CARGO_TARGET_DIR"
# Node.js for the UI's and widget's npm scripts: when the node on PATH is missing or too old
# for vite (Debian 12 and Ubuntu 24.04 ship 18), scripts/node.sh prints the bin directory of
# the one setup.sh installed under /var/tmp/kefu-tools; otherwise it prints nothing and PATH
# stays as it is.
kefu_node_bin="$(bash "$(dirname "${BASH_SOURCE[0]}")/node.sh")"
[ -z "$kefu_node_bin" ] || export PATH="$kefu_node_bin:$PATH"
unset kefu_node_bin
