//! A damaged database at start: DuckDB cannot replay the write-ahead log, or cannot read the file. anxu deletes
//! nothing: the files stay where they are, copies are kept aside (`<file>.broken-<UTC time>`), and the start is
//! refused with a message naming the files and how to restore from a backup.

use std::path::{Path, PathBuf};

use super::MigrateError;

/// The first bytes of every DuckDB write-ahead log: its header entry begins with field 100 (`wal_type`) holding 98
/// (`WAL_VERSION`). DuckDB takes a log that does not start with its header for one torn at byte 0 and drops all of it
/// without a word — with it the writes it held, which their clients were told had been saved — so anxu refuses such
/// a log instead of letting DuckDB start without it.
const WAL_MAGIC: [u8; 3] = [0x64, 0x00, 0x62];

/// The endings of the write-ahead logs DuckDB keeps beside a database file.
const WAL_SUFFIXES: [&str; 3] = [".wal", ".wal.checkpoint", ".wal.recovery"];

/// Words of DuckDB's messages that mean the file or its log cannot be read back (as opposed to, say, a lock held by
/// another process).
const DAMAGE_WORDS: [&str; 5] = ["WAL", "Corrupt", "corrupt", "not a valid DuckDB database file", "checksum"];

/// `p` with `suffix` appended to its file name.
fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The first bytes of `p`, or `None` when it is missing, empty or unreadable (DuckDB then reports what it finds).
fn head(p: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(WAL_MAGIC.len());
    std::fs::File::open(p).ok()?.take(WAL_MAGIC.len() as u64).read_to_end(&mut buf).ok()?;
    (!buf.is_empty()).then_some(buf)
}

/// Checks, before DuckDB opens `db`, what DuckDB would otherwise pass over in silence: a write-ahead log without a
/// database file (DuckDB would delete the log and start empty) and a log that does not begin with a log header
/// (DuckDB would skip all of it). A log shorter than its header is a write torn by a crash and is left to DuckDB.
pub(super) fn check_before_open(db: &Path) -> Result<(), MigrateError> {
    let Some(first) = head(&with_suffix(db, ".wal")) else { return Ok(()) };
    if !db.exists() {
        return Err(keep_aside(db, "the database file is missing but its write-ahead log is there"));
    }
    let n = first.len().min(WAL_MAGIC.len());
    if first[..n] != WAL_MAGIC[..n] {
        let reason = "its write-ahead log does not begin with a DuckDB log header, so none of it can be replayed";
        return Err(keep_aside(db, reason));
    }
    Ok(())
}

/// Whether DuckDB's message `msg` says that the database file or its log is damaged.
pub(super) fn is_damage(msg: &str) -> bool {
    DAMAGE_WORDS.iter().any(|w| msg.contains(w))
}

/// Turns an error of opening `db` into [`MigrateError::Damaged`], with the files kept aside, when DuckDB says the file
/// or its log is damaged; any other error is returned as it is.
pub(super) fn on_open_error(db: &Path, err: MigrateError) -> MigrateError {
    let damaged = matches!(&err, MigrateError::Db(e) if is_damage(&e.to_string()));
    if damaged { keep_aside(db, &format!("DuckDB cannot open it: {err}")) } else { err }
}

/// Copies `db` and its logs aside and builds the refusal.
fn keep_aside(db: &Path, reason: &str) -> MigrateError {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let files: Vec<PathBuf> = std::iter::once(db.to_path_buf())
        .chain(WAL_SUFFIXES.iter().map(|s| with_suffix(db, s)))
        .filter(|p| p.exists())
        .collect();
    let mut msg = format!("the database {} is damaged and anxu will not start on it: {reason}.\n", db.display());
    msg.push_str("anxu deleted nothing: the files stay where they are");
    let mut kept = String::new();
    let mut failed = String::new();
    for f in &files {
        match keep_copy(f, &stamp) {
            Ok(copy) => kept.push_str(&format!("\n  {} -> {}", f.display(), copy.display())),
            Err(e) => failed.push_str(&format!("\n  {}: {e}", f.display())),
        }
    }
    if kept.is_empty() {
        msg.push('.');
    } else {
        msg.push_str(", and copies were kept aside:");
        msg.push_str(&kept);
    }
    if !failed.is_empty() {
        msg.push_str("\nThese could not be copied (copy them by hand before anything else):");
        msg.push_str(&failed);
    }
    let dir = db.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    msg.push_str(&format!(
        "\nTo go on, restore the latest backup into a new, empty data directory and start anxu there:\n  \
         anxu restore --from <backup> --data-dir <new data directory>\n  \
         anxu serve --data-dir <new data directory>\n\
         Keep {} and the copies for investigation.",
        dir.display()
    ));
    tracing::error!(database = %db.display(), %reason, "damaged database: start refused");
    MigrateError::Damaged(msg)
}

/// Copies `src` to `<src>.broken-<stamp>` (never overwriting) and returns the copy's path; reuses a copy an earlier
/// refused start made when `src` has not changed since, so that a supervisor restarting anxu in a loop does not fill
/// the disk.
fn keep_copy(src: &Path, stamp: &str) -> std::io::Result<PathBuf> {
    if let Some(existing) = earlier_copy(src) {
        return Ok(existing);
    }
    let base = with_suffix(src, &format!(".broken-{stamp}"));
    let mut target = base.clone();
    let mut n = 1;
    while target.exists() {
        n += 1;
        target = with_suffix(&base, &format!("-{n}"));
    }
    std::fs::copy(src, &target)?;
    Ok(target)
}

/// A kept copy of `src` of the same length made after `src` last changed.
fn earlier_copy(src: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(src).ok()?;
    let modified = meta.modified().ok()?;
    let dir = src.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!("{}.broken-", src.file_name()?.to_string_lossy());
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name().to_string_lossy().starts_with(&prefix)
                && e.metadata().is_ok_and(|m| m.len() == meta.len() && m.modified().is_ok_and(|t| t >= modified))
        })
        .map(|e| e.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_without_its_header_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("anxu.duckdb");
        let wal = dir.path().join("anxu.duckdb.wal");
        // No log, an empty log, a torn header: left to DuckDB.
        assert!(check_before_open(&db).is_ok());
        std::fs::write(&db, b"db").unwrap();
        std::fs::write(&wal, b"").unwrap();
        assert!(check_before_open(&db).is_ok());
        std::fs::write(&wal, [0x64, 0x00]).unwrap();
        assert!(check_before_open(&db).is_ok());
        std::fs::write(&wal, [0x64, 0x00, 0x62, 0x65, 0x00, 0x02]).unwrap();
        assert!(check_before_open(&db).is_ok());
        std::fs::write(&wal, b"garbage garbage").unwrap();
        let err = check_before_open(&db).unwrap_err().to_string();
        assert!(err.contains("anxu.duckdb") && err.contains("anxu restore"), "{err}");
        assert_eq!(std::fs::read(&wal).unwrap(), b"garbage garbage", "the log is left as it was");
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into())
                .collect();
            v.sort();
            v
        };
        let after_first = names();
        assert_eq!(after_first.iter().filter(|n| n.starts_with("anxu.duckdb.broken-")).count(), 1, "{after_first:?}");
        assert_eq!(after_first.iter().filter(|n| n.starts_with("anxu.duckdb.wal.broken-")).count(), 1);
        let copy = after_first.iter().find(|n| n.starts_with("anxu.duckdb.wal.broken-")).unwrap();
        assert_eq!(std::fs::read(dir.path().join(copy)).unwrap(), b"garbage garbage");
        // A second refused start reuses the copies.
        assert!(check_before_open(&db).is_err());
        assert_eq!(names(), after_first);
        // A log without its database.
        std::fs::remove_file(&db).unwrap();
        std::fs::write(&wal, [0x64, 0x00, 0x62, 0x65]).unwrap();
        assert!(check_before_open(&db).unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn damage_is_told_from_other_errors() {
        assert!(is_damage("Failure while replaying WAL file \"x.wal\": Corrupt WAL file: entry at byte position 90"));
        assert!(is_damage("IO Error: The file \"x\" exists, but it is not a valid DuckDB database file!"));
        assert!(is_damage("Corrupt database file: computed checksum 1 does not match stored checksum 2"));
        assert!(!is_damage("IO Error: Could not set lock on file \"x\": Conflicting lock is held"));
    }
}
