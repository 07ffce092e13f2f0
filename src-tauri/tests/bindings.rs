//! The UI's TS bindings are generated from the Rust commands and types; this fails when
//! they are stale. Regenerate: `KEFU_WRITE_BINDINGS=1 cargo test -p kefu-desk --test bindings`.

use std::path::Path;

#[test]
fn ts_bindings_match_the_rust_commands() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("bindings.ts");
    kefu_desk::app::export_bindings(&fresh).unwrap();
    let fresh = std::fs::read_to_string(&fresh).unwrap();
    assert!(fresh.contains("export const commands"), "{fresh}");
    assert!(fresh.contains("signIn"), "commands are camelCase in TS");
    if std::env::var_os("KEFU_WRITE_BINDINGS").is_some() {
        std::fs::write(&committed, &fresh).unwrap();
    }
    let current = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        current == fresh,
        "ui/src/lib/bindings.ts is stale: run `KEFU_WRITE_BINDINGS=1 cargo test -p kefu-desk --test bindings`"
    );
}
