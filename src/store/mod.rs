//! The store: the only place with SQL. One writer thread owns the read-write connection and takes work over a
//! channel; reads run on blocking threads with cloned connections. Nothing here runs on an async worker.

pub mod activities;
pub mod audit;
pub mod config;
pub mod exchange;
pub mod filings;
pub mod materials;
mod migrate;
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
    /// loads the regions, turns off external access and starts the writer thread.
    pub fn open(path: Option<&Path>, regions: &RegionTree) -> Result<Self, MigrateError> {
        let mut conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        migrate::migrate(&mut conn)?;
        migrate::load_regions(&mut conn, regions)?;
        conn.execute_batch("SET enable_external_access = false; SET autoinstall_known_extensions = false; SET autoload_known_extensions = false;")?;
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
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&duckdb::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        if self.health.fatal().is_some() {
            return Err(StoreError::Unavailable);
        }
        let (tx, rx) = oneshot::channel();
        let health = self.health.clone();
        let job: Job = Box::new(move |conn| {
            let result = transact(conn, f);
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
