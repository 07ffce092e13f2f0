//! The disk floor: what making a write durable costs on the disk under kefu's database,
//! measured next to it before the scenarios. Every ack waits for an fsync, and under load
//! the writer moves ~10 KiB per message, so on a small virtual machine the durable figures
//! follow this floor as much as the cores: one day's machine here wrote 237–293 MB/s under
//! load, the next day's 58 MB/s of fsync'd 2 MiB blocks (`dd oflag=dsync`).

use std::{fs::File, io::Write, path::Path, time::Instant};

use serde::Serialize;

use super::report::Lat;
use crate::{clock::now_ns, track};

#[derive(Debug, Serialize)]
pub struct Disk {
    /// A 4 KiB append followed by `fdatasync`: a small commit.
    pub sync_4k: Lat,
    /// MiB/s appending 1 MiB at a time, each followed by `fdatasync`: a busy commit.
    pub sync_mib_per_sec: f64,
}

/// Measures in a scratch file inside `dir`, removed afterwards. `small` 4 KiB syncs, then
/// `large` 1 MiB ones.
pub fn measure(dir: &Path, small: usize, large: usize) -> std::io::Result<Disk> {
    let scratch = tempfile::NamedTempFile::new_in(dir)?;
    let mut file: &File = scratch.as_file();
    let mut hist = track::hist();
    let page = noise(4096);
    for _ in 0..small {
        let start = now_ns();
        file.write_all(&page)?;
        file.sync_data()?;
        track::record(&mut hist, start, now_ns());
    }
    let chunk = noise(1 << 20);
    let t = Instant::now();
    for _ in 0..large {
        file.write_all(&chunk)?;
        file.sync_data()?;
    }
    Ok(Disk {
        sync_4k: Lat::of(&hist),
        sync_mib_per_sec: large as f64 / t.elapsed().as_secs_f64(),
    })
}

/// Bytes no storage layer can compress or deduplicate away (a virtual disk may do both
/// with constant ones), from a xorshift generator.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = (0x9e37_79b9_7f4a_7c15 ^ now_ns()) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_sync_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let disk = measure(dir.path(), 20, 2).unwrap();
        assert_eq!(disk.sync_4k.count, 20);
        assert!(disk.sync_4k.p50_ms > 0.0 && disk.sync_4k.p50_ms <= disk.sync_4k.p99_ms);
        assert!(disk.sync_mib_per_sec > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
