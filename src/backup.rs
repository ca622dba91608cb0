//! Offline commands on the data directory of a stopped server: `anxu backup`, `anxu restore` and
//! `anxu audit verify`. They open the database file directly (the server holds DuckDB's file lock while it runs, so
//! they refuse, saying so, while it does).
//!
//! A backup is a directory:
//!
//! | path            | what |
//! |-----------------|------|
//! | `db/`           | DuckDB's `EXPORT DATABASE` (CSV): `schema.sql`, `load.sql`, one CSV file per table |
//! | `files/`        | the attachments, under their SM3 names as in the data directory |
//! | `signing.key`   | the side's SM2 signing key — a secret: keep backups as safe as the server |
//! | `manifest.json` | every table with its row count and SM3, every attachment and the key with their SM3 |
//!
//! A table's SM3 covers its name, its columns (name and type, in order) and its rows in `ORDER BY ALL` order, every
//! value tagged and length-prefixed, so that the same data gives the same hash in any database.
//!
//! Two details of DuckDB's export are handled here. Sequences are exported at their current value (`START n`), so
//! ids continue after a restore; the restore still checks every sequence behind an id column against the table's
//! largest id and moves it past with `setval` if needed (counted in the report). DuckDB's CSV reader refuses
//! records longer than 2 MB by default, which large BLOBs (stored bundles) exceed; the backup adds `max_line_size`
//! and `buffer_size` to those files' `COPY` in `load.sql`, so that a plain `IMPORT DATABASE` reads them back.
//!
//! Every backup is proven by a trial import into a scratch database before its manifest is written; a restore
//! imports under a temporary name, checks every table, attachment and the key against the manifest, and only then
//! renames the database to `anxu.duckdb`. On any failure both remove what they wrote.

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use duckdb::types::Value;
use duckdb::{AccessMode, Config, Connection};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::store::LATEST_VERSION;
use crate::store::audit::{self, CHAIN_SINCE_VERSION};

/// The database file of a data directory.
pub const DB_FILE: &str = "anxu.duckdb";
/// The attachment directory of a data directory (and of a backup).
pub const FILES_DIR: &str = "files";
/// The signing key of a data directory (and of a backup).
pub const KEY_FILE: &str = "signing.key";
/// The manifest of a backup.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The directory of a backup holding DuckDB's export.
pub const EXPORT_DIR: &str = "db";
/// The manifest's format tag.
pub const FORMAT: &str = "anxu-backup/1";

/// The database a restore imports into before everything is verified.
const RESTORING_DB: &str = "anxu.duckdb.restoring";
/// The scratch database of a backup's trial import.
const TRIAL_DB: &str = "trial-import.duckdb";
/// DuckDB's CSV reader refuses longer records unless `max_line_size` says otherwise.
const CSV_DEFAULT_MAX_LINE: u64 = 2_000_000;
/// Head room added to a file's longest record when its `max_line_size` is raised.
const CSV_LINE_MARGIN: u64 = 1 << 20;

/// `manifest.json`: what a backup holds and the hashes a restore checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The anxu version that wrote it.
    pub anxu_version: String,
    /// When (UTC, RFC 3339).
    pub created_at: String,
    /// The database's schema version.
    pub schema_version: i32,
    /// Every table, by name.
    pub tables: Vec<TableEntry>,
    /// Every attachment, by name.
    pub files: Vec<FileEntry>,
    /// SM3 of `signing.key`, when the data directory had one.
    pub signing_key: Option<String>,
}

/// One table in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Table name.
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// SM3 over its columns and rows.
    pub sm3: String,
}

/// One attachment in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name in `files/`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SM3 of the content.
    pub sm3: String,
}

impl Manifest {
    fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    fn bytes(&self) -> u64 {
        self.files.iter().map(|x| x.size).sum()
    }
}

/// What `anxu backup` wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// The backup directory.
    pub out: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let (tables, rows, files, bytes) = (m.tables.len(), m.rows(), m.files.len(), m.bytes());
        let (key_zh, key_en) = match m.signing_key {
            Some(_) => ("含签名密钥", "included"),
            None => ("无签名密钥", "absent"),
        };
        writeln!(
            f,
            "备份完成：{tables} 张表 {rows} 行，{files} 个附件 {bytes} 字节，{key_zh}；已试恢复并按清单校验。备份目录 {}",
            self.out.display()
        )?;
        write!(
            f,
            "backup written and verified by a trial import: {tables} tables, {rows} rows, {files} attachments \
             ({bytes} bytes), signing key {key_en}: {}",
            self.out.display()
        )
    }
}

/// What `anxu restore` restored.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The new data directory.
    pub data_dir: PathBuf,
    /// The backup's manifest, every entry of which was verified.
    pub manifest: Manifest,
    /// Sequences that had to be moved past their table's largest id (normally none).
    pub sequences_fixed: usize,
}

impl fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let (tables, rows, files, bytes) = (m.tables.len(), m.rows(), m.files.len(), m.bytes());
        let key = if m.signing_key.is_some() { "、签名密钥" } else { "" };
        let dir = self.data_dir.display();
        writeln!(
            f,
            "恢复完成：{tables} 张表 {rows} 行、{files} 个附件（{bytes} 字节）{key}，均已按清单校验；\
             可用 anxu serve --data-dir {dir} 启动"
        )?;
        if self.sequences_fixed > 0 {
            writeln!(f, "（{} 个序列已移到其表的最大编号之后）", self.sequences_fixed)?;
        }
        write!(
            f,
            "restored and verified against the manifest: {tables} tables, {rows} rows, {files} attachments \
             ({bytes} bytes), {} sequence(s) moved; start it with anxu serve --data-dir {dir}",
            self.sequences_fixed
        )
    }
}

/// `anxu audit verify`: checks the audit chain of a stopped server's database, read-only. Intact: the summary;
/// broken: an error carrying the summary (the command exits non-zero).
pub fn verify_audit(data_dir: &Path) -> anyhow::Result<String> {
    let conn = open_stopped(data_dir)?;
    let version = schema_version(&conn)?;
    if version < CHAIN_SINCE_VERSION {
        bail!(
            "数据库结构版本为 {version}，尚无审计链：请先用本版 anxu serve 启动一次以完成升级 / schema version \
             {version} predates the audit chain: start this anxu once to upgrade the database"
        );
    }
    let report = audit::verify(&conn)?;
    if !report.is_intact() {
        bail!("{}", report.summary());
    }
    Ok(report.summary())
}

/// `anxu backup`: writes a backup of the stopped server's `data_dir` into `out`, a new or empty directory, and
/// proves it by a trial import before writing the manifest. On failure nothing of the backup is left.
pub fn backup(data_dir: &Path, out: &Path) -> anyhow::Result<BackupReport> {
    let conn = open_stopped(data_dir)?;
    let created = prepare_empty_dir(out, "备份目录", "backup directory")?;
    match write_backup(conn, data_dir, out) {
        Ok(manifest) => Ok(BackupReport { out: out.to_path_buf(), manifest }),
        Err(e) => {
            let trial = out.join(TRIAL_DB);
            remove_database(&trial);
            remove_written(out, &[EXPORT_DIR, FILES_DIR, KEY_FILE, MANIFEST_FILE], created);
            Err(e.context("备份失败，写了一半的备份已删除 / backup failed; the partial backup was removed"))
        }
    }
}

fn write_backup(conn: Connection, data_dir: &Path, out: &Path) -> anyhow::Result<Manifest> {
    let schema_version = schema_version(&conn)?;
    let export = out.join(EXPORT_DIR);
    // CSV is DuckDB's default export format (the parquet extension is not compiled in).
    conn.execute_batch(&format!("EXPORT DATABASE {}", sql_path(&export)?)).context("EXPORT DATABASE")?;
    let tables = table_digests(&conn)?;
    // The source is no longer needed: release its lock before the slower steps.
    drop(conn);
    allow_long_csv_records(&export)?;
    sync_files_in(&export)?;
    let files = copy_files(&data_dir.join(FILES_DIR), &out.join(FILES_DIR))?;
    let signing_key = copy_key(data_dir, out)?;
    let manifest = Manifest {
        format: FORMAT.to_string(),
        anxu_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        schema_version,
        tables,
        files,
        signing_key,
    };
    let trial = out.join(TRIAL_DB);
    let imported = import_and_verify(out, &manifest, &trial);
    remove_database(&trial);
    imported.context("试恢复校验失败 / the trial import does not match the source")?;
    let text = serde_json::to_string_pretty(&manifest)?;
    write_synced(&out.join(MANIFEST_FILE), text.as_bytes())?;
    Ok(manifest)
}

/// `anxu restore`: restores the backup in `from` into `data_dir`, which must not exist or be empty. On any mismatch
/// with the manifest everything written is removed, so no half-restored database is left.
pub fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<RestoreReport> {
    let manifest = read_manifest(from)?;
    if manifest.schema_version > LATEST_VERSION {
        bail!(
            "备份来自更新的 anxu（结构版本 {}，本程序支持到 {LATEST_VERSION}）/ the backup was made by a newer anxu \
             (schema version {}; this program knows up to {LATEST_VERSION})",
            manifest.schema_version,
            manifest.schema_version
        );
    }
    let created = prepare_empty_dir(data_dir, "目标数据目录", "target data directory")?;
    match restore_into(from, data_dir, &manifest) {
        Ok(sequences_fixed) => Ok(RestoreReport { data_dir: data_dir.to_path_buf(), manifest, sequences_fixed }),
        Err(e) => {
            remove_database(&data_dir.join(RESTORING_DB));
            remove_database(&data_dir.join(DB_FILE));
            remove_written(data_dir, &[FILES_DIR, KEY_FILE], created);
            Err(e.context(
                "恢复失败：已删除写入目标目录的全部内容，没有留下数据库 / restore failed; everything written to the \
                 target directory was removed",
            ))
        }
    }
}

fn restore_into(from: &Path, data_dir: &Path, manifest: &Manifest) -> anyhow::Result<usize> {
    let partial = data_dir.join(RESTORING_DB);
    let fixed = import_and_verify(from, manifest, &partial)?;
    let files = copy_files(&from.join(FILES_DIR), &data_dir.join(FILES_DIR))?;
    compare_files(&manifest.files, &files)?;
    if copy_key(from, data_dir)? != manifest.signing_key {
        bail!("签名密钥与清单不符（备份已被改动） / signing.key does not match the manifest (the backup was altered)");
    }
    // Only a fully verified database gets the name the server opens.
    let db = data_dir.join(DB_FILE);
    fs::rename(&partial, &db).with_context(|| format!("renaming {} to {}", partial.display(), db.display()))?;
    let wal = wal_of(&partial);
    if wal.exists() {
        fs::rename(&wal, wal_of(&db)).with_context(|| format!("renaming {}", wal.display()))?;
    }
    let _ = fs::remove_dir_all(with_suffix(&partial, ".tmp"));
    Ok(fixed)
}

/// Imports the backup's export into a new database at `db` and checks it against the manifest: schema version,
/// every table's rows and hash, every sequence past its table's largest id. Returns how many sequences were moved.
fn import_and_verify(backup: &Path, manifest: &Manifest, db: &Path) -> anyhow::Result<usize> {
    let conn = Connection::open_with_flags(db, Config::default().enable_autoload_extension(false)?)
        .with_context(|| format!("creating {}", db.display()))?;
    conn.execute_batch(&format!("IMPORT DATABASE {}", sql_path(&backup.join(EXPORT_DIR))?))
        .context("IMPORT DATABASE（备份的数据库部分无法读入 / the backup's database part cannot be read）")?;
    let fixed = fix_sequences(&conn)?;
    let version = schema_version(&conn)?;
    if version != manifest.schema_version {
        bail!(
            "结构版本 {version} 与清单的 {} 不符 / schema version {version} does not match the manifest's {}",
            manifest.schema_version,
            manifest.schema_version
        );
    }
    compare_tables(&manifest.tables, &table_digests(&conn)?)?;
    conn.execute_batch("CHECKPOINT")?;
    Ok(fixed)
}

/// Opens the database of `data_dir` read-only, for a command run while the server is stopped.
fn open_stopped(data_dir: &Path) -> anyhow::Result<Connection> {
    let db = data_dir.join(DB_FILE);
    if !db.is_file() {
        let shown = db.display();
        bail!("{shown} 不存在：这不是 anxu 的数据目录 / {shown} does not exist: not an anxu data directory");
    }
    let config = Config::default().access_mode(AccessMode::ReadOnly)?.enable_autoload_extension(false)?;
    Connection::open_with_flags(&db, config).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("Could not set lock") || msg.contains("Conflicting lock") {
            anyhow!(
                "{}：数据库正被另一个进程使用（anxu serve 是否仍在运行？），请先停止服务再执行 / the database is in use \
                 by another process (is anxu serve still running?); stop the server first: {msg}",
                db.display()
            )
        } else {
            anyhow!("{}: {msg}", db.display())
        }
    })
}

fn schema_version(conn: &Connection) -> anyhow::Result<i32> {
    Ok(conn.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |r| r.get(0))?)
}

/// Creates `dir`, or accepts it when it exists and is empty; returns whether it was created.
fn prepare_empty_dir(dir: &Path, zh: &str, en: &str) -> anyhow::Result<bool> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        return Ok(true);
    }
    let mut entries =
        fs::read_dir(dir).with_context(|| format!("{zh} {} 不是可读的目录 / not a directory", dir.display()))?;
    if entries.next().is_some() {
        bail!(
            "{zh} {} 不为空：只能写入新的或空的目录 / the {en} {} is not empty: only a new or empty directory is used",
            dir.display(),
            dir.display()
        );
    }
    Ok(false)
}

/// Removes the entries `names` of `dir` (files or directories) and, when it was created here, `dir` itself.
fn remove_written(dir: &Path, names: &[&str], created: bool) {
    for name in names {
        let path = dir.join(name);
        if path.is_dir() {
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
    if created {
        let _ = fs::remove_dir(dir);
    }
}

/// Removes a database file, its write-ahead log and its spill directory, if present.
fn remove_database(db: &Path) {
    let _ = fs::remove_file(db);
    let _ = fs::remove_file(wal_of(db));
    let _ = fs::remove_dir_all(with_suffix(db, ".tmp"));
}

/// DuckDB's write-ahead log of the database at `db`.
fn wal_of(db: &Path) -> PathBuf {
    with_suffix(db, ".wal")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn read_manifest(from: &Path) -> anyhow::Result<Manifest> {
    let path = from.join(MANIFEST_FILE);
    let text = fs::read_to_string(&path).with_context(|| {
        let (from, path) = (from.display(), path.display());
        format!("{from} 不是 anxu 备份（无法读取 {MANIFEST_FILE}） / not an anxu backup: cannot read {path}")
    })?;
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{} 格式有误 / is malformed", path.display()))?;
    if manifest.format != FORMAT {
        bail!("{}：未知的备份格式 {} / unknown backup format {}", path.display(), manifest.format, manifest.format);
    }
    Ok(manifest)
}

/// Every table of the database with its row count and SM3, by name.
fn table_digests(conn: &Connection) -> anyhow::Result<Vec<TableEntry>> {
    let mut stmt = conn.prepare(
        "SELECT table_name FROM information_schema.tables
         WHERE table_catalog = current_database() AND table_schema = 'main' AND table_type = 'BASE TABLE'
         ORDER BY table_name",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    names.iter().map(|name| table_digest(conn, name)).collect()
}

/// SM3 over a table: its name, its columns (name and type, in order) and its rows in `ORDER BY ALL` order, each value
/// tagged and length-prefixed (`N` null, `S` text, `B` blob, `V` any other value by its debug form).
fn table_digest(conn: &Connection, table: &str) -> anyhow::Result<TableEntry> {
    let mut hasher = Sm3::new();
    feed(&mut hasher, b'T', table.as_bytes());
    let columns = {
        let mut stmt = conn.prepare(
            "SELECT column_name, data_type FROM information_schema.columns
             WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ?
             ORDER BY ordinal_position",
        )?;
        let all = stmt.query_map([table], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        all.collect::<Result<Vec<_>, _>>()?
    };
    for (name, data_type) in &columns {
        feed(&mut hasher, b'C', name.as_bytes());
        feed(&mut hasher, b'Y', data_type.as_bytes());
    }
    let mut stmt = conn.prepare(&format!("SELECT * FROM {} ORDER BY ALL", ident(table)))?;
    let mut rows = stmt.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        count += 1;
        hasher.update(b"R");
        for i in 0..columns.len() {
            feed_value(&mut hasher, &row.get::<_, Value>(i)?);
        }
    }
    Ok(TableEntry { name: table.to_string(), rows: count, sm3: hex::encode(hasher.finalize()) })
}

fn feed(hasher: &mut Sm3, tag: u8, bytes: &[u8]) {
    hasher.update([tag]);
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

fn feed_value(hasher: &mut Sm3, value: &Value) {
    match value {
        Value::Null => hasher.update(b"N"),
        Value::Text(text) => feed(hasher, b'S', text.as_bytes()),
        Value::Blob(bytes) => feed(hasher, b'B', bytes),
        other => feed(hasher, b'V', format!("{other:?}").as_bytes()),
    }
}

fn compare_tables(expected: &[TableEntry], found: &[TableEntry]) -> anyhow::Result<()> {
    for e in expected {
        let Some(f) = found.iter().find(|f| f.name == e.name) else {
            bail!("表 {} 在恢复的数据库中不存在 / table {} is missing after the import", e.name, e.name);
        };
        if f.rows != e.rows || f.sm3 != e.sm3 {
            bail!(
                "表 {} 与清单不符（清单 {} 行，读入 {} 行；SM3 {}）——备份已被改动或损坏 / table {} does not match the \
                 manifest ({} rows expected, {} read; SM3 {}): the backup was altered or damaged",
                e.name,
                e.rows,
                f.rows,
                if f.sm3 == e.sm3 { "相同" } else { "不同" },
                e.name,
                e.rows,
                f.rows,
                if f.sm3 == e.sm3 { "equal" } else { "differs" }
            );
        }
    }
    if let Some(extra) = found.iter().find(|f| !expected.iter().any(|e| e.name == f.name)) {
        bail!("恢复的数据库中多出清单之外的表 {} / table {} is not in the manifest", extra.name, extra.name);
    }
    Ok(())
}

/// Moves every sequence behind an id column past its table's largest id. `EXPORT DATABASE` writes sequences at their
/// current value, so this normally changes nothing; it guards against an export that did not. Returns how many
/// sequences were moved, and fails when one would still hand out a used id.
fn fix_sequences(conn: &Connection) -> anyhow::Result<usize> {
    let mut fixed = 0;
    for (table, column, sequence) in sequence_columns(conn)? {
        let max_sql = format!("SELECT max({}) FROM {}", ident(&column), ident(&table));
        let Some(max) = conn.query_row(&max_sql, [], |r| r.get::<_, Option<i64>>(0))? else {
            continue;
        };
        if next_value(conn, &sequence)? <= max {
            conn.query_row(&format!("SELECT setval({}, {max})", literal(&sequence)), [], |r| r.get::<_, i64>(0))?;
            fixed += 1;
        }
        let next = next_value(conn, &sequence)?;
        if next <= max {
            bail!(
                "序列 {sequence} 的下一个值 {next} 不大于表 {table} 的最大编号 {max} / sequence {sequence} would hand out \
                 {next}, not above the largest {table}.{column} {max}"
            );
        }
    }
    Ok(fixed)
}

/// Table, column and sequence name of every column whose default is `nextval('…')`.
fn sequence_columns(conn: &Connection) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name, column_default FROM duckdb_columns()
         WHERE database_name = current_database() AND schema_name = 'main' AND column_default ILIKE '%nextval(%'
         ORDER BY table_name, column_name",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(table, column, expr)| -> anyhow::Result<(String, String, String)> {
            let sequence = expr
                .split('\'')
                .nth(1)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| anyhow!("{table}.{column}: unexpected default {expr}"))?
                .to_string();
            Ok((table, column, sequence))
        })
        .collect()
}

/// The value the sequence hands out next.
fn next_value(conn: &Connection, sequence: &str) -> anyhow::Result<i64> {
    let name = sequence.rsplit('.').next().unwrap_or(sequence);
    let (start, last, step): (i64, Option<i64>, i64) = conn
        .query_row(
            "SELECT start_value, last_value, increment_by FROM duckdb_sequences()
             WHERE database_name = current_database() AND sequence_name = ?",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .with_context(|| format!("sequence {sequence}"))?;
    Ok(last.map_or(start, |last| last + step))
}

/// Gives the `COPY` of every CSV file whose longest record exceeds DuckDB's default `max_line_size` the options to
/// read it back, so that `IMPORT DATABASE` restores large values as they were.
fn allow_long_csv_records(export: &Path) -> anyhow::Result<()> {
    const MARKER: &str = "' (FORMAT 'csv'";
    let load = export.join("load.sql");
    let text = fs::read_to_string(&load).with_context(|| format!("reading {}", load.display()))?;
    let mut patched = String::with_capacity(text.len() + 256);
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let Some(at) = line.find(MARKER) else {
            patched.push_str(line);
            continue;
        };
        let Some(file) = line[..at].rsplit(['/', '\\']).next().filter(|f| f.ends_with(".csv")) else {
            patched.push_str(line);
            continue;
        };
        let longest = longest_csv_record(&export.join(file))?;
        if longest + CSV_LINE_MARGIN <= CSV_DEFAULT_MAX_LINE {
            patched.push_str(line);
            continue;
        }
        let max = longest + CSV_LINE_MARGIN;
        let split = at + MARKER.len();
        patched.push_str(&line[..split]);
        patched.push_str(&format!(", max_line_size {max}, buffer_size {}", 2 * max));
        patched.push_str(&line[split..]);
        changed = true;
    }
    if changed {
        write_synced(&load, patched.as_bytes())?;
    }
    Ok(())
}

/// The length in bytes of the longest record of a CSV file (quoted line breaks belong to their record).
fn longest_csv_record(path: &Path) -> anyhow::Result<u64> {
    let mut file = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut longest, mut current, mut quoted) = (0u64, 0u64, false);
    loop {
        let n = file.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            current += 1;
            if b == b'"' {
                quoted = !quoted;
            } else if b == b'\n' && !quoted {
                longest = longest.max(current);
                current = 0;
            }
        }
    }
    Ok(longest.max(current))
}

/// The attachment names of `dir` (none when it does not exist), sorted. Unfinished writes (`*.tmp`) are skipped;
/// anything but a plain file with a plain name is refused, so that nothing is left out unnoticed.
fn attachment_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| anyhow!("{} 中有非 UTF-8 文件名 / non-UTF-8 file name {n:?}", dir.display()))?;
        let plain =
            !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !entry.file_type()?.is_file() || !plain {
            bail!("{} 中有意外的条目 {name}（附件目录只应有附件文件） / unexpected entry {name}", dir.display());
        }
        if !name.ends_with(".tmp") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Copies every attachment of `from` into `to` (created) and returns each copy's size and SM3.
fn copy_files(from: &Path, to: &Path) -> anyhow::Result<Vec<FileEntry>> {
    let names = attachment_names(from)?;
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    names
        .into_iter()
        .map(|name| -> anyhow::Result<FileEntry> {
            let dest = to.join(&name);
            copy_synced(&from.join(&name), &dest)?;
            let (size, sm3) = sm3_file(&dest)?;
            Ok(FileEntry { name, size, sm3 })
        })
        .collect()
}

fn compare_files(expected: &[FileEntry], found: &[FileEntry]) -> anyhow::Result<()> {
    for e in expected {
        match found.iter().find(|f| f.name == e.name) {
            None => bail!("备份中缺少附件 {} / attachment {} is missing from the backup", e.name, e.name),
            Some(f) if f.size != e.size || f.sm3 != e.sm3 => bail!(
                "附件 {} 的 SM3 与清单不符（已被改动或损坏） / attachment {} does not match its SM3 in the manifest",
                e.name,
                e.name
            ),
            Some(_) => {}
        }
    }
    if let Some(extra) = found.iter().find(|f| !expected.iter().any(|e| e.name == f.name)) {
        bail!("备份中有清单之外的附件 {} / attachment {} is not in the manifest", extra.name, extra.name);
    }
    Ok(())
}

/// Copies `signing.key` of `from_dir` into `to_dir` and returns the copy's SM3; `None` when there is none.
fn copy_key(from_dir: &Path, to_dir: &Path) -> anyhow::Result<Option<String>> {
    let from = from_dir.join(KEY_FILE);
    if !from.exists() {
        return Ok(None);
    }
    let to = to_dir.join(KEY_FILE);
    copy_synced(&from, &to)?;
    Ok(Some(sm3_file(&to)?.1))
}

/// Copies a file (with its permissions) and flushes the copy to disk.
fn copy_synced(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    fs::File::open(to).and_then(|f| f.sync_all()).with_context(|| format!("flushing {}", to.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", path.display()))
}

/// Flushes every file of `dir` to disk.
fn sync_files_in(dir: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            fs::File::open(&path).and_then(|f| f.sync_all()).with_context(|| format!("flushing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Size and SM3 of a file, read in pieces.
fn sm3_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sm3::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// A SQL identifier, quoted.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A path as a SQL string literal.
fn sql_path(path: &Path) -> anyhow::Result<String> {
    let text = path.to_str().ok_or_else(|| anyhow!("路径须为 UTF-8 / the path must be UTF-8: {}", path.display()))?;
    Ok(literal(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_are_measured_with_their_quoted_line_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        fs::write(&path, "id,text\n1,\"a\nbcdefghij\"\n2,x\n").unwrap();
        assert_eq!(longest_csv_record(&path).unwrap(), "1,\"a\nbcdefghij\"\n".len() as u64);
    }

    #[test]
    fn long_records_get_a_larger_line_limit_in_load_sql() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path();
        let big = format!("1,{}\n", "x".repeat(2_500_000));
        fs::write(export.join("big.csv"), format!("id,v\n{big}")).unwrap();
        fs::write(export.join("small.csv"), "id,v\n1,y\n").unwrap();
        let load = format!(
            "COPY big FROM '{0}/big.csv' (FORMAT 'csv', allow_quoted_nulls false, header 1);\n\
             COPY small FROM '{0}/small.csv' (FORMAT 'csv', allow_quoted_nulls false, header 1);\n",
            export.display()
        );
        fs::write(export.join("load.sql"), &load).unwrap();
        allow_long_csv_records(export).unwrap();
        let patched = fs::read_to_string(export.join("load.sql")).unwrap();
        let lines: Vec<&str> = patched.lines().collect();
        let max = big.len() as u64 + CSV_LINE_MARGIN;
        let options = format!("(FORMAT 'csv', max_line_size {max}, buffer_size {}", 2 * max);
        assert!(lines[0].contains(&options), "{patched}");
        assert_eq!(lines[1], load.lines().nth(1).unwrap());
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
