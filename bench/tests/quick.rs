//! The benchmark suite's quick mode against the `kefu` built next to it: a real server
//! process, real worker processes, every scenario at a small scale. Only robust facts are
//! asserted (counts, no lost/duplicated/reordered message, memory with a wide margin);
//! timings are printed, never gated — this machine is shared.

use std::{path::Path, process::Command};

use serde_json::Value;

#[test]
fn quick_run_loses_nothing_and_idle_shoppers_are_cheap() {
    let bench = Path::new(env!("CARGO_BIN_EXE_kefu-bench"));
    let kefu = bench.with_file_name("kefu");
    assert!(
        kefu.exists(),
        "{} is missing: build it first (cargo build -p kefu-server)",
        kefu.display()
    );
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("results.json");
    let run = Command::new(bench)
        .args(["run", "--quick", "--kefu"])
        .arg(&kefu)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "kefu-bench failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();

    // Every message acknowledged once, delivered once, in order.
    let v = &r["verdict"];
    assert!(v["sent"].as_u64().unwrap() > 2_000, "{v}");
    for what in ["unacked", "lost", "duplicated", "reordered"] {
        assert_eq!(v[what], 0, "{what}: {v}");
    }
    assert_eq!(r["errors"], 0, "protocol errors: {}", r["error_samples"]);

    // All connected, one descriptor each; memory per idle shopper far under a debug
    // build's worst case (the 8 KiB budget is for release builds; see docs/BENCHMARKS.md).
    let idle = &r["idle"];
    assert_eq!(idle["shoppers"], 1000, "{idle}");
    assert_eq!(idle["agents"], 20, "{idle}");
    assert!(idle["per_shopper_kib"].as_f64().unwrap() < 32.0, "{idle}");
    assert!(idle["fds_per_shopper"].as_f64().unwrap() <= 1.01, "{idle}");

    // The disk floor was measured: every one of its syncs.
    assert_eq!(r["disk"]["sync_4k"]["count"], 100, "{}", r["disk"]);

    // Each rate's messages all arrived (and were counted by the histograms).
    let load = &r["rates"][0];
    assert_eq!(load["ack"]["count"], 2_000, "{load}");
    assert_eq!(load["to_agent"]["count"], 2_000, "{load}");
    assert_eq!(
        load["to_shopper"]["count"], 200,
        "agents answer every 10th: {load}"
    );

    // Every agent heard of every queued conversation.
    let fanout = &r["fanout"];
    assert_eq!(fanout["conversations"], 20, "{fanout}");
    assert_eq!(fanout["incomplete"], 0, "{fanout}");

    // The stalled agent caught up; the storm leaked no descriptors.
    assert!(
        r["stall"]["stalled_agent_caught_up"].as_u64().unwrap() > 0,
        "{}",
        r["stall"]
    );
    let storm = &r["storm"];
    assert!(storm["reconnects"].as_u64().unwrap() >= 400, "{storm}");
    assert!(
        storm["fds_after"].as_u64() <= storm["fds_before"].as_u64(),
        "{storm}"
    );

    // The floor was measured too.
    assert_eq!(r["echo"][0]["ack"]["count"], 2_000, "{}", r["echo"]);
}
