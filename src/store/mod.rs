//! The store: the only place with SQL. One writer thread owns the read-write connection and takes work over a
//! channel; reads run on blocking threads with cloned connections. Nothing here runs on an async worker.

pub mod activities;
pub mod audit;
pub mod config;
mod damaged;
pub mod exchange;
pub mod filings;
pub mod materials;
mod migrate;
pub mod places;
pub mod policy;
pub mod portal;
pub mod portal_filings;
pub mod roles;
pub mod sessions;
pub mod sms;
pub mod users;
pub mod workflow;

use std::path::Path;
use std::sync::{Arc, Mutex};

use duckdb::Connection;
use tokio::sync::{oneshot, watch};

use crate::domain::FieldErrors;
use crate::domain::region::{Adcode, RegionTree};

pub use audit::{Actor, AuditFilter, AuditPage, AuditRecord, NewAudit};
pub use migrate::{LATEST_VERSION, MigrateError};
pub use roles::{Role, RoleUse};
pub use sessions::{LoginOutcome, Session, SessionState};
pub use users::{NewUser, User, UserFilter, UserPage, UserUpdate};

/// What a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DuckDB failed.
    #[error("database: {0}")]
    Db(#[from] duckdb::Error),
    /// The object does not exist (or is outside the caller's reach).
    #[error("not found")]
    NotFound,
    /// The change is refused because of the current state; the message is Chinese, for the page.
    #[error("{0}")]
    Conflict(String),
    /// Input refused with field messages.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The store is shutting down or its writer has stopped.
    #[error("the store is not available")]
    Unavailable,
}

/// The result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The health of the database. It turns red, for good, on the first error that invalidates the database.
#[derive(Debug, Clone)]
pub struct Health {
    tx: Arc<watch::Sender<Option<String>>>,
}

impl Health {
    fn new() -> Self {
        Self { tx: Arc::new(watch::channel(None).0) }
    }

    /// The fatal error, if one happened.
    pub fn fatal(&self) -> Option<String> {
        self.tx.borrow().clone()
    }

    /// Marks the database as unusable. Only the first message is kept.
    pub fn set_fatal(&self, message: impl Into<String>) {
        let message = message.into();
        self.tx.send_if_modified(|cur| {
            if cur.is_some() {
                return false;
            }
            *cur = Some(message);
            true
        });
    }

    /// A receiver that changes when the database turns fatal.
    pub fn watch(&self) -> watch::Receiver<Option<String>> {
        self.tx.subscribe()
    }

    fn observe<T>(&self, r: &StoreResult<T>) {
        if let Err(StoreError::Db(e)) = r {
            let msg = e.to_string();
            if is_fatal_message(&msg) {
                self.set_fatal(msg);
            }
        }
    }
}

/// Whether a DuckDB error message means the database instance can no longer be used.
pub fn is_fatal_message(msg: &str) -> bool {
    msg.contains("FATAL Error") || msg.contains("database has been invalidated") || msg.contains("INTERNAL Error")
}

/// The store handle; cheap to clone. When the last clone is dropped, the connections close and the writer thread
/// is joined, so that the database file is closed (and may be opened again) once the store is gone.
#[derive(Clone)]
pub struct Store {
    writer: std::sync::mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    base: Arc<Mutex<Connection>>,
    health: Health,
    // Declared last: dropped after the fields above, so the writer's channel is closed when it joins the thread.
    _closer: Arc<Closer>,
}

/// Joins the writer thread when the last store handle goes.
struct Closer(Mutex<Option<std::thread::JoinHandle<()>>>);

impl Drop for Closer {
    fn drop(&mut self) {
        let handle = self.0.get_mut().ok().and_then(Option::take);
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `None`; applies migrations,
    /// loads the regions, turns off external access and starts the writer thread. A damaged file or write-ahead log
    /// is refused with [`MigrateError::Damaged`] after copies were kept aside (see `damaged`).
    pub fn open(path: Option<&Path>, regions: &RegionTree) -> Result<Self, MigrateError> {
        let conn = match path {
            Some(p) => {
                damaged::check_before_open(p)?;
                open_connection(Some(p), regions).map_err(|e| damaged::on_open_error(p, e))?
            }
            None => open_connection(None, regions)?,
        };
        let base = conn.try_clone()?;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("anxu-writer".into())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| MigrateError::Io(e.to_string()))?;
        Ok(Self {
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            base: Arc::new(Mutex::new(base)),
            health: Health::new(),
            _closer: Arc::new(Closer(Mutex::new(Some(handle)))),
        })
    }

    /// The database's health.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Runs `f` in one transaction on the writer thread: committed when `f` returns `Ok`, rolled back otherwise.
    ///
    /// A transaction that fails on a DuckDB transaction conflict ([`is_conflict_message`]) is rolled back and `f`
    /// runs again, [`WRITE_ATTEMPTS`] times in all; a conflict that persists is reported as
    /// [`StoreError::Conflict`] with a Chinese message. With the one writer thread owning the only connection that
    /// writes, DuckDB has no concurrent writer to conflict with, so this should never happen; the retry is the safety
    /// net should a write ever run elsewhere (a reader connection writing, a second process). `f` must therefore be
    /// safe to run again: it only works inside `tx`.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&duckdb::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        if self.health.fatal().is_some() {
            return Err(StoreError::Unavailable);
        }
        let (tx, rx) = oneshot::channel();
        let health = self.health.clone();
        let job: Job = Box::new(move |conn| {
            let result = transact_retrying(conn, f, WRITE_ATTEMPTS);
            health.observe(&result);
            let _ = tx.send(result);
        });
        self.writer.send(job).map_err(|_| StoreError::Unavailable)?;
        rx.await.map_err(|_| StoreError::Unavailable)?
    }

    /// Runs `f` with a read connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        if self.health.fatal().is_some() {
            return Err(StoreError::Unavailable);
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.take_reader()?;
            let result = f(&conn);
            store.health.observe(&result);
            if let Ok(mut pool) = store.readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|_| StoreError::Unavailable)?
    }

    /// Checks that the database answers a query.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i32>(0)).map(|_| ())?)).await
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        if let Some(c) = self.readers.lock().map_err(|_| StoreError::Unavailable)?.pop() {
            return Ok(c);
        }
        let base = self.base.lock().map_err(|_| StoreError::Unavailable)?;
        Ok(base.try_clone()?)
    }

    /// Runs `f` on the writer thread outside any transaction and waits for it, from synchronous code (start-up and
    /// CLI commands only).
    pub fn write_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&duckdb::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(transact(conn, f));
        });
        self.writer.send(job).map_err(|_| StoreError::Unavailable)?;
        rx.recv().map_err(|_| StoreError::Unavailable)?
    }
}

/// Opens the database and readies it: migrations, regions, external access off. On an error the connection is
/// closed before returning, so that the files may be copied.
fn open_connection(path: Option<&Path>, regions: &RegionTree) -> Result<Connection, MigrateError> {
    let mut conn = match path {
        Some(p) => Connection::open(p)?,
        None => Connection::open_in_memory()?,
    };
    migrate::migrate(&mut conn)?;
    migrate::load_regions(&mut conn, regions)?;
    conn.execute_batch("SET enable_external_access = false; SET autoinstall_known_extensions = false; SET autoload_known_extensions = false;")?;
    Ok(conn)
}

/// How many times [`Store::write`] runs a transaction that fails on a transaction conflict before reporting it.
pub const WRITE_ATTEMPTS: u32 = 3;

/// Whether a DuckDB error message is a transaction conflict (another transaction changed the same rows or catalog
/// entry first), which a fresh run of the transaction may not meet again: DuckDB reports them as
/// `TransactionContext Error: … conflict …` ("Conflict on tuple deletion!", "Catalog write-write conflict on …",
/// "Transaction conflict: …").
pub fn is_conflict_message(msg: &str) -> bool {
    !is_fatal_message(msg)
        && ((msg.contains("TransactionContext Error") && msg.to_ascii_lowercase().contains("conflict"))
            || msg.contains("write-write conflict"))
}

/// Runs `f` in a transaction on `conn` (see [`transact`]), again while it fails on a transaction conflict, at most
/// `attempts` runs in all; a conflict on the last run is reported as [`StoreError::Conflict`].
fn transact_retrying<T>(
    conn: &mut Connection,
    mut f: impl FnMut(&duckdb::Transaction<'_>) -> StoreResult<T>,
    attempts: u32,
) -> StoreResult<T> {
    let mut attempt = 1;
    loop {
        let detail = match transact(conn, &mut f) {
            Err(StoreError::Db(e)) if is_conflict_message(&e.to_string()) => e.to_string(),
            other => return other,
        };
        if attempt >= attempts {
            tracing::error!(attempts, %detail, "transaction conflict persisted; reported");
            return Err(StoreError::Conflict(format!(
                "数据正被同时修改，已重试 {attempts} 次仍未成功，本次未做任何修改。请稍后重试。"
            )));
        }
        tracing::warn!(attempt, %detail, "transaction conflict; running the transaction again");
        attempt += 1;
    }
}

/// Runs `f` in a transaction on `conn`: committed on `Ok`, rolled back (by drop) on `Err`.
fn transact<T>(conn: &mut Connection, f: impl FnOnce(&duckdb::Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
    let t = conn.transaction()?;
    let v = f(&t)?;
    t.commit()?;
    Ok(v)
}

/// Reads a stored adcode column.
fn adcode_at(row: &duckdb::Row<'_>, idx: usize) -> duckdb::Result<Adcode> {
    let v: i64 = row.get(idx)?;
    Adcode::from_stored(v).ok_or_else(|| {
        duckdb::Error::FromSqlConversionFailure(idx, duckdb::types::Type::BigInt, format!("bad adcode {v}").into())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::domain::region::DEFAULT_REGIONS_CSV;

    fn store() -> Store {
        Store::open(None, &RegionTree::parse_csv(DEFAULT_REGIONS_CSV).unwrap()).unwrap()
    }

    /// The error DuckDB raises when another transaction deleted the same row first.
    fn conflict() -> StoreError {
        StoreError::Db(duckdb::Error::DuckDBFailure(
            duckdb::ffi::Error::new(duckdb::ffi::DuckDBError),
            Some("TransactionContext Error: Conflict on tuple deletion!".into()),
        ))
    }

    async fn probe_tables(store: &Store) -> i64 {
        store
            .read(|c| {
                Ok(c.query_row("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'retry_probe'", [], |r| {
                    r.get::<_, i64>(0)
                })?)
            })
            .await
            .unwrap()
    }

    #[test]
    fn conflict_messages() {
        assert!(is_conflict_message("TransactionContext Error: Conflict on tuple deletion!"));
        assert!(is_conflict_message("TransactionContext Error: Conflict on update!"));
        assert!(is_conflict_message("TransactionContext Error: Catalog write-write conflict on create with \"t\""));
        assert!(is_conflict_message(
            "TransactionContext Error: Transaction conflict: attempting to insert into table \"t\" but it has been \
             altered by a different transaction"
        ));
        assert!(!is_conflict_message("Constraint Error: Duplicate key \"id: 1\" violates primary key constraint"));
        assert!(!is_conflict_message("TransactionContext Error: cannot start a transaction within a transaction"));
        assert!(!is_conflict_message("FATAL Error: write-write conflict"));
    }

    #[tokio::test]
    async fn a_conflict_is_run_again_then_reported_and_nothing_is_kept() {
        let store = store();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let out = store
            .write(move |tx| -> StoreResult<()> {
                counted.fetch_add(1, Ordering::SeqCst);
                tx.execute_batch("CREATE TABLE retry_probe (n INTEGER); INSERT INTO retry_probe VALUES (1);")?;
                Err(conflict())
            })
            .await;
        assert_eq!(runs.load(Ordering::SeqCst), WRITE_ATTEMPTS);
        match out {
            Err(StoreError::Conflict(m)) => assert!(m.contains("已重试 3 次") && m.contains("未做任何修改"), "{m}"),
            other => panic!("expected a reported conflict, got {other:?}"),
        }
        assert!(store.health().fatal().is_none());
        assert_eq!(probe_tables(&store).await, 0, "every run was rolled back");
    }

    #[tokio::test]
    async fn a_conflict_that_goes_away_commits_once() {
        let store = store();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let rows = store
            .write(move |tx| {
                tx.execute_batch("CREATE TABLE retry_probe (n INTEGER); INSERT INTO retry_probe VALUES (1);")?;
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(conflict());
                }
                Ok(tx.query_row("SELECT count(*) FROM retry_probe", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!((runs.load(Ordering::SeqCst), rows), (2, 1));
        assert_eq!(probe_tables(&store).await, 1);
    }

    #[tokio::test]
    async fn other_errors_are_not_run_again() {
        let store = store();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let out = store
            .write(move |tx| -> StoreResult<()> {
                counted.fetch_add(1, Ordering::SeqCst);
                tx.execute_batch("SELEC 1")?;
                Ok(())
            })
            .await;
        assert!(matches!(out, Err(StoreError::Db(_))), "{out:?}");
        let counted = runs.clone();
        let out = store
            .write(move |_tx| -> StoreResult<()> {
                counted.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Conflict("该申请已被他人处理".into()))
            })
            .await;
        assert!(matches!(out, Err(StoreError::Conflict(m)) if m == "该申请已被他人处理"));
        assert_eq!(runs.load(Ordering::SeqCst), 2, "one run each");
    }
}
