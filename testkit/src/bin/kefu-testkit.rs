//! `kefu-testkit serve --origin URL`: a `kefu --demo` process for tests written in another
//! language (the widget's end-to-end tests), started the way the Rust tests start it. It
//! prints one JSON line — where kefu listens and how to sign in — and keeps kefu running
//! until it gets SIGTERM or SIGINT or its stdin closes (so kefu does not outlive a test
//! runner that died), then kills it.

use std::{io::Read, process::ExitCode};

use kefu_testkit::KefuCommand;
use serde_json::json;

const USAGE: &str = "usage: kefu-testkit serve --origin URL [--site ID]\n\
    Starts `kefu --demo` (demo admin `demo` / `kefu-demo`) with one site whose pages live at \
    URL, offers not auto-accepted, and prints {\"url\", \"pid\", \"data_dir\", \"site\", \
    \"admin\"} as one JSON line.";

/// What `serve` was asked for.
struct Serve {
    origin: String,
    site: String,
}

fn parse(args: &[String]) -> Option<Serve> {
    let (command, mut rest) = args.split_first()?;
    if command != "serve" {
        return None;
    }
    let mut serve = Serve {
        origin: String::new(),
        site: "demo".into(),
    };
    while let [flag, value, tail @ ..] = rest {
        match flag.as_str() {
            "--origin" => serve.origin.clone_from(value),
            "--site" => serve.site.clone_from(value),
            _ => return None,
        }
        rest = tail;
    }
    (rest.is_empty() && !serve.origin.is_empty()).then_some(serve)
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(serve) = parse(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let kefu = KefuCommand::new()
        .config(format!(
            "[routing]\nauto_accept = false\n\n[[sites]]\nid = {}\nname = \"E2E shop\"\n\
             allowed_origins = [{}]\nidentity_secret = \"e2e-identity-secret\"\n\
             default_group = \"pre-sales\"\n",
            toml_str(&serve.site),
            toml_str(&serve.origin)
        ))
        .arg("--demo")
        .start();
    let kefu = match kefu {
        Ok(k) => k,
        Err(e) => {
            eprintln!("kefu-testkit: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{}",
        json!({
            "url": kefu.url(""),
            "pid": kefu.pid(),
            "data_dir": kefu.data_dir(),
            "site": serve.site,
            "admin": {"username": "demo", "password": "kefu-demo"},
        })
    );

    let (closed_tx, closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = closed_tx.send(());
    });
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kefu-testkit: listening for SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = closed => {}
    }
    drop(kefu);
    ExitCode::SUCCESS
}
