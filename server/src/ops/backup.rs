//! `kefu backup FILE` and `kefu restore FILE` for the embedded SQLite store. (PostgreSQL
//! has its own tools: `pg_dump`, see docs/OPERATIONS.md.)
//!
//! A backup is one tar file:
//! - `kefu-backup.json`: what it holds ([`Manifest`]), first, so a restore knows at once;
//! - `kefu.db`: a snapshot taken by SQLite's `VACUUM INTO` while kefu serves. It reads in
//!   one transaction, so every message committed (and so acked) before it began is in, and
//!   nothing after it is half in;
//! - `attachments/<id>`: the uploads, read after the snapshot. An upload's file is in place
//!   before its row is written (gateway/attachments.rs), so every attachment the snapshot
//!   names is in the archive.
//!
//! Both commands write to a `.partial` name and rename at the end: a run that stops half
//! way leaves no file that looks complete.

use std::{
    fs::File,
    path::{Component, Path, PathBuf},
};

use anyhow::{Context, bail, ensure};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::config::Settings;

const MANIFEST: &str = "kefu-backup.json";
const DATABASE: &str = "kefu.db";
const ATTACHMENTS: &str = "attachments";
const FORMAT: u32 = 1;

/// What a backup holds; checked again after a restore.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    /// The kefu that wrote it.
    pub kefu_version: String,
    pub schema_version: i64,
    pub conversations: i64,
    pub messages: i64,
    pub attachments: u64,
    /// Unix milliseconds when the snapshot was taken.
    pub created_at: i64,
}

impl std::fmt::Display for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} conversations, {} messages, {} attachments (schema version {}, kefu {})",
            self.conversations,
            self.messages,
            self.attachments,
            self.schema_version,
            self.kefu_version
        )
    }
}

/// Writes a backup of the running (or stopped) installation's data to `file`.
pub fn backup(settings: &Settings, file: &Path) -> anyhow::Result<Manifest> {
    let database = sqlite_file(settings)?;
    ensure!(
        database.exists(),
        "no database at {}: is this the configuration kefu runs with (--config)?",
        database.display()
    );
    ensure!(
        !file.exists(),
        "{} exists; backups are never overwritten, choose a new name",
        file.display()
    );
    let parent = parent_of(file);
    let staging = tempfile::Builder::new()
        .prefix(".kefu-backup-")
        .tempdir_in(&parent)
        .with_context(|| format!("making a staging folder in {}", parent.display()))?;
    let snapshot = staging.path().join(DATABASE);
    {
        let source = Connection::open_with_flags(&database, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", database.display()))?;
        // The writer holds the write lock for a moment per batch; readers never wait for it
        // under WAL, but a checkpoint may.
        source.busy_timeout(std::time::Duration::from_secs(30))?;
        let target = snapshot
            .to_str()
            .context("the backup's path must be UTF-8")?;
        source
            .execute("vacuum into ?1", [target])
            .with_context(|| format!("copying {} (VACUUM INTO)", database.display()))?;
    }
    let attachments = attachment_files(&settings.attachment_dir())?;
    let manifest = Manifest {
        attachments: attachments.len() as u64,
        ..describe(&snapshot)?
    };

    let partial = partial_name(file);
    let out = File::options()
        .write(true)
        .create_new(true)
        .open(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let written = (|| -> anyhow::Result<File> {
        let mut tar = tar::Builder::new(out);
        let json = serde_json::to_vec_pretty(&manifest)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_mtime((manifest.created_at / 1000) as u64);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())?;
        tar.append_path_with_name(&snapshot, DATABASE)?;
        for path in &attachments {
            let name = path.file_name().context("an attachment without a name")?;
            tar.append_path_with_name(path, Path::new(ATTACHMENTS).join(name))?;
        }
        Ok(tar.into_inner()?)
    })();
    let out = match written {
        Ok(out) => out,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context(format!("writing {}", partial.display())));
        }
    };
    out.sync_all()?;
    std::fs::rename(&partial, file)
        .with_context(|| format!("renaming {} to {}", partial.display(), file.display()))?;
    sync_dir(&parent);
    Ok(manifest)
}

/// Restores `file` into the configured data directory, which must hold no database and no
/// attachments yet: a restore never mixes two installations' data.
pub fn restore(settings: &Settings, file: &Path) -> anyhow::Result<Manifest> {
    let database = sqlite_file(settings)?;
    for existing in [
        database.clone(),
        with_suffix(&database, "-wal"),
        with_suffix(&database, "-shm"),
    ] {
        ensure!(
            !existing.exists(),
            "{} exists: restore goes into an empty data directory. Stop kefu and move the \
             database (and its -wal and -shm files) away first",
            existing.display()
        );
    }
    let attachment_dir = settings.attachment_dir();
    if attachment_dir.exists() {
        ensure!(
            std::fs::read_dir(&attachment_dir)?.next().is_none(),
            "{} holds files: restore goes into an empty data directory; move them away first",
            attachment_dir.display()
        );
    }
    let data_dir = parent_of(&database);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".kefu-restore-")
        .tempdir_in(&data_dir)
        .with_context(|| format!("making a staging folder in {}", data_dir.display()))?;

    let archive = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut tar = tar::Archive::new(archive);
    let mut manifest: Option<Manifest> = None;
    let mut restored_attachments = 0u64;
    let staged_attachments = staging.path().join(ATTACHMENTS);
    std::fs::create_dir(&staged_attachments)?;
    let not_a_backup = || format!("{} is not a kefu backup", file.display());
    for entry in tar.entries().with_context(not_a_backup)? {
        let mut entry = entry.with_context(not_a_backup)?;
        let path = entry.path().with_context(not_a_backup)?.into_owned();
        if path == Path::new(MANIFEST) {
            let m: Manifest = serde_json::from_reader(&mut entry)
                .with_context(|| format!("{}: reading {MANIFEST}", not_a_backup()))?;
            ensure!(
                m.format == FORMAT,
                "{} is a backup in format {}; this kefu reads format {FORMAT}",
                file.display(),
                m.format
            );
            manifest = Some(m);
        } else if path == Path::new(DATABASE) {
            entry.unpack(staging.path().join(DATABASE))?;
        } else if let Some(name) = attachment_name(&path) {
            entry.unpack(staged_attachments.join(name))?;
            restored_attachments += 1;
        } else {
            bail!("{}: unexpected entry {}", not_a_backup(), path.display());
        }
    }
    let manifest = manifest.with_context(|| format!("{}: no {MANIFEST}", not_a_backup()))?;
    let staged_db = staging.path().join(DATABASE);
    ensure!(staged_db.exists(), "{}: no {DATABASE}", not_a_backup());
    let found = Manifest {
        attachments: restored_attachments,
        kefu_version: manifest.kefu_version.clone(),
        created_at: manifest.created_at,
        ..describe(&staged_db)?
    };
    ensure!(
        found == manifest,
        "{} is damaged: it says it holds {manifest}, but holds {found}",
        file.display()
    );
    let newest = crate::store::latest_schema_version(false);
    ensure!(
        manifest.schema_version <= newest,
        "the backup has schema version {}, newer than this kefu knows (up to {newest}): \
         restore it with the kefu that wrote it ({}) or a later one",
        manifest.schema_version,
        manifest.kefu_version
    );

    std::fs::rename(&staged_db, &database)
        .with_context(|| format!("moving the database to {}", database.display()))?;
    if attachment_dir.exists() {
        std::fs::remove_dir(&attachment_dir)?; // empty, checked above
    }
    if let Some(parent) = attachment_dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&staged_attachments, &attachment_dir).or_else(|_| {
        // Another file system: copy file by file.
        std::fs::create_dir_all(&attachment_dir)?;
        for f in std::fs::read_dir(&staged_attachments)? {
            let f = f?;
            std::fs::copy(f.path(), attachment_dir.join(f.file_name()))?;
        }
        anyhow::Ok(())
    })?;
    sync_dir(&data_dir);
    Ok(manifest)
}

/// The SQLite file `store.url` (or the data directory) names; PostgreSQL is refused.
fn sqlite_file(settings: &Settings) -> anyhow::Result<PathBuf> {
    if settings.store_is_postgres() {
        bail!(
            "this installation keeps its data in PostgreSQL (store.url): back it up with \
             PostgreSQL's tools, e.g. `pg_dump --format=custom --file=kefu.dump <url>` and \
             `pg_restore` (docs/OPERATIONS.md); attachments are files in {}",
            settings.attachment_dir().display()
        );
    }
    super::sqlite_file(settings)
}

/// Schema version and row counts of the SQLite database at `path`, after SQLite's own
/// consistency check.
fn describe(path: &Path) -> anyhow::Result<Manifest> {
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = db.query_row("pragma integrity_check", [], |r| r.get(0))?;
    ensure!(
        check == "ok",
        "the database copy fails SQLite's integrity check: {check}"
    );
    let count = |table: &str| -> anyhow::Result<i64> {
        db.query_row(&format!("select count(*) from {table}"), [], |r| r.get(0))
            .with_context(|| format!("counting {table} rows: is this a kefu database?"))
    };
    Ok(Manifest {
        format: FORMAT,
        kefu_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: super::sqlite_schema_version(&db)?
            .context("no schema version: is this a kefu database?")?,
        conversations: count("conversation")?,
        messages: count("message")?,
        attachments: 0,
        created_at: crate::store::now_ms(),
    })
}

/// Stored uploads (not the `.part` files of uploads in flight), sorted by name.
fn attachment_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_file() && path.extension().is_none_or(|e| e != "part") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `attachments/<name>` with one plain name: nothing that climbs out of the folder.
fn attachment_name(path: &Path) -> Option<&std::ffi::OsStr> {
    let mut parts = path.components();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Component::Normal(dir)), Some(Component::Normal(name)), None)
            if dir == ATTACHMENTS =>
        {
            Some(name)
        }
        _ => None,
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn partial_name(file: &Path) -> PathBuf {
    with_suffix(file, ".partial")
}

/// Makes a rename in `dir` durable (best effort: not every file system allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_under_attachments_are_restored() {
        assert!(attachment_name(Path::new("attachments/0190-abc")).is_some());
        for bad in [
            "attachments/../kefu.db",
            "attachments/a/b",
            "/attachments/a",
            "other/a",
            "attachments",
            "../attachments/a",
        ] {
            assert!(attachment_name(Path::new(bad)).is_none(), "{bad}");
        }
    }

    #[test]
    fn partial_names_keep_the_whole_name() {
        assert_eq!(
            partial_name(Path::new("/b/kefu.tar")),
            Path::new("/b/kefu.tar.partial")
        );
        assert_eq!(parent_of(Path::new("kefu.tar")), Path::new("."));
    }
}
