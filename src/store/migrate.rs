//! Versioned schema migrations, embedded in the binary and applied at start, each once, each in a transaction.

use duckdb::{Connection, params};

use crate::domain::region::RegionTree;

/// One migration: version, name and SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "foundation", sql: include_str!("migrations/0001_foundation.sql") },
    Migration { version: 2, name: "workflow", sql: include_str!("migrations/0002_workflow.sql") },
    Migration { version: 3, name: "portal", sql: include_str!("migrations/0003_portal.sql") },
    Migration { version: 4, name: "audit_chain", sql: include_str!("migrations/0004_audit_chain.sql") },
    Migration { version: 5, name: "security_policy", sql: include_str!("migrations/0005_security_policy.sql") },
    Migration { version: 6, name: "activity_places", sql: include_str!("migrations/0006_activity_places.sql") },
];

/// The schema version this binary writes.
pub const LATEST_VERSION: i32 = 6;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// DuckDB failed.
    #[error("database error: {0}")]
    Db(#[from] duckdb::Error),
    /// The database was written by a newer anxu.
    #[error(
        "the database has schema version {found}, newer than this program's {supported}; \
         run the newer anxu release that wrote it, or restore a backup made for this version"
    )]
    TooNew {
        /// Version in the database.
        found: i32,
        /// Newest version this binary knows.
        supported: i32,
    },
    /// Something else at start.
    #[error("{0}")]
    Io(String),
    /// The database file or its write-ahead log is damaged: the files were left in place, copies kept aside, and
    /// the message says which and how to restore (see `store::damaged`).
    #[error("{0}")]
    Damaged(String),
}

/// Applies every migration newer than the database's version. Running it again changes nothing.
pub fn migrate(conn: &mut Connection) -> Result<i32, MigrateError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)",
    )?;
    let current: i32 = conn.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if current > LATEST_VERSION {
        return Err(MigrateError::TooNew { found: current, supported: LATEST_VERSION });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let t = conn.transaction()?;
        t.execute_batch(m.sql)?;
        if m.version == super::audit::CHAIN_SINCE_VERSION {
            // Chains the audit records written before the chain existed, in the same transaction.
            super::audit::chain_unchained(&t)?;
        }
        if m.version == super::places::SINCE_VERSION {
            // Derives the places of the activities written before the table existed.
            super::places::rebuild(&t)?;
        }
        t.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", params![m.version, m.name])?;
        t.commit()?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(LATEST_VERSION)
}

/// Replaces the `regions` table with `tree`, so that SQL can scope by region path.
pub fn load_regions(conn: &mut Connection, tree: &RegionTree) -> Result<(), MigrateError> {
    let t = conn.transaction()?;
    let before = super::places::Paths::load(&t)?;
    t.execute("DELETE FROM regions", [])?;
    {
        let mut stmt = t.prepare("INSERT INTO regions (adcode, name, level, parent, path) VALUES (?, ?, ?, ?, ?)")?;
        for r in tree.all() {
            stmt.execute(params![
                r.adcode.get(),
                r.name,
                r.level.code(),
                r.parent.map(|p| p.get()),
                tree.path_key(r.adcode)
            ])?;
        }
    }
    if super::places::Paths::load(&t)? != before {
        // A changed tree (new geodata) changes where activities are held at each level.
        super::places::rebuild(&t)?;
    }
    t.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT table_name FROM information_schema.tables ORDER BY 1").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn migrations_run_twice_change_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), LATEST_VERSION);
        let before = tables(&conn);
        let rows: i64 = conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), LATEST_VERSION);
        assert_eq!(tables(&conn), before);
        let again: i64 = conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, again);
        assert_eq!(rows, MIGRATIONS.len() as i64);
    }

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, 'future')", [LATEST_VERSION + 1])
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, MigrateError::TooNew { found, .. } if found == LATEST_VERSION + 1), "{err}");
        assert!(err.to_string().contains("newer than this program"));
    }

    #[test]
    fn versions_are_ascending_and_latest_matches() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(versions.last().copied(), Some(LATEST_VERSION));
    }
}
