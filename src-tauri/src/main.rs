// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(e) = kefu_desk::app::run() {
        eprintln!("kefu-desk: {e:#}");
        std::process::exit(1);
    }
}
