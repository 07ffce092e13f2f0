//! The `kefu` binary embeds the shopper widget built from `widget/`. Without the built file
//! the build stops here with what to run, rather than with a bare `include_bytes!` error.

use std::path::Path;

fn main() {
    let widget = Path::new(env!("CARGO_MANIFEST_DIR")).join("../widget/dist/widget.js");
    println!("cargo:rerun-if-changed={}", widget.display());
    if !widget.is_file() {
        panic!(
            "{} is missing: build the shopper widget first with \
             `npm --prefix widget ci && npm --prefix widget run build` \
             (scripts/setup.sh and scripts/test.sh do this)",
            widget.display()
        );
    }
}
