//! Compiles `kefu/v1/*.proto` with protox (pure Rust, no `protoc` needed) and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["kefu/v1/envelope.proto", "kefu/v1/close.proto"];
    println!("cargo:rerun-if-changed=kefu");
    let descriptors = protox::compile(files, ["."])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
