//! `anxu backup` and `anxu restore`: a restored data directory has every table row and attachment of the original,
//! opens with the normal start-up and continues its ids; a non-empty target and a changed backup are refused, leaving
//! nothing behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anxu::clock::{Clock, ManualClock};
use anxu::config::Config;
use anxu::setup::{load_or_create_key, seed_demo};
use anxu::store::audit;
use axum::http::StatusCode;
use chrono::NaiveDate;

use crate::harness::TestApp;

const SURVEY: &[(&str, &str)] = &[
    ("survey_date", "2026-12-02"),
    ("surveyors", "张三、李四"),
    ("report", "场地出入口设置合理，疏散通道畅通。"),
    ("rectifications", "增设应急照明\n"),
];

const UPLOADED: &[u8] = b"%PDF-1.4\n% backup test attachment\n%%EOF\n";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(2, 0, 0).unwrap()))
}

/// A data directory with the demo users, an imported application with its attachments, a survey with an uploaded
/// report, a stored bundle larger than a CSV line may be by default (2 MB) and a signing key; the app is closed.
async fn data_dir_with_data(clock: &Arc<ManualClock>) -> Arc<tempfile::TempDir> {
    let data = Arc::new(tempfile::tempdir().unwrap());
    let db = data.path().join("anxu.duckdb");
    load_or_create_key(data.path()).unwrap();
    let state = TestApp::open(Some(&db), &data, clock.clone(), Config::default());
    seed_demo(&state.store, &state.regions, clock.now()).unwrap();
    let app = TestApp::from_state(state, clock.clone(), data.clone());
    let id = app.seed_application("备份演练", "330106", 1200).await;
    let c = app.login_as("xh_keyuan").await;
    let r = c.post_multipart(&format!("/permits/{id}/survey"), SURVEY, &[("file", "report.pdf", UPLOADED)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    app.state
        .store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO exports (sequence, bundle_hash, bundle, results, created_by, created_at)
                 VALUES (999, ?, ?, 0, 1, TIMESTAMP '2026-12-01 02:00:00')",
                duckdb::params![anxu::exchange::sm3_hex(&big), big],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    data
}

/// Every table of the database at `db`: its rows as text, sorted.
fn tables(db: &Path) -> BTreeMap<String, Vec<String>> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    let conn = duckdb::Connection::open_with_flags(db, config).unwrap();
    let names: Vec<String> = {
        let mut stmt = conn
            .prepare(
                "SELECT table_name FROM information_schema.tables
                 WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    names
        .into_iter()
        .map(|name| {
            let mut stmt = conn.prepare(&format!("SELECT CAST(t AS VARCHAR) FROM \"{name}\" t ORDER BY 1")).unwrap();
            let rows: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
            (name, rows)
        })
        .collect()
}

/// The SM3 of every file in `dir`, by name.
fn attachments(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().into_string().unwrap(), anxu::exchange::sm3_hex(&std::fs::read(e.path()).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn a_restored_backup_has_every_row_and_attachment() {
    let clock = clock();
    let data = data_dir_with_data(&clock).await;
    let before_tables = tables(&data.path().join("anxu.duckdb"));
    let before_files = attachments(&data.path().join("files"));
    assert!(before_files.len() >= 2, "{before_files:?}");
    assert!(before_files.values().any(|h| *h == anxu::exchange::sm3_hex(UPLOADED)));

    let out = tempfile::tempdir().unwrap();
    let backup_dir = out.path().join("backup");
    let report = anxu::backup::backup(data.path(), &backup_dir).unwrap();
    assert_eq!(report.manifest.files.len(), before_files.len());
    assert_eq!(report.manifest.tables.len(), before_tables.len());
    assert!(report.manifest.signing_key.is_some());
    assert!(backup_dir.join("manifest.json").is_file() && !backup_dir.join("trial-import.duckdb").exists());
    // Only the table with the large bundle needed a larger CSV line limit.
    let load = std::fs::read_to_string(backup_dir.join("db/load.sql")).unwrap();
    let raised: Vec<&str> = load.lines().filter(|l| l.contains("max_line_size")).collect();
    assert!(raised.len() == 1 && raised[0].contains("exports.csv"), "{load}");

    let target = Arc::new(tempfile::tempdir().unwrap());
    let restored = anxu::backup::restore(&backup_dir, target.path()).unwrap();
    assert_eq!(restored.sequences_fixed, 0, "EXPORT DATABASE keeps the sequences' current values");
    let restored_db = target.path().join("anxu.duckdb");
    assert!(!target.path().join("anxu.duckdb.restoring").exists());

    // Every table, every row, every attachment and the key, compared independently of the manifest.
    let after_tables = tables(&restored_db);
    assert_eq!(after_tables.keys().collect::<Vec<_>>(), before_tables.keys().collect::<Vec<_>>());
    for (name, rows) in &before_tables {
        assert_eq!(after_tables[name].len(), rows.len(), "rows of {name}");
        assert!(after_tables[name] == *rows, "table {name} differs after the restore");
    }
    assert_eq!(attachments(&target.path().join("files")), before_files);
    assert_eq!(
        std::fs::read(target.path().join("signing.key")).unwrap(),
        std::fs::read(data.path().join("signing.key")).unwrap()
    );
    let verified = anxu::backup::verify_audit(target.path()).unwrap();
    assert!(verified.contains("审计链完整"), "{verified}");

    // The restored directory opens with the normal start-up and goes on: new ids follow the old ones.
    let state = TestApp::open(Some(&restored_db), &target, clock.clone(), Config::default());
    let app = TestApp::from_state(state, clock.clone(), target.clone());
    let last_audit = app.scalar("SELECT max(id) FROM audit_log").await;
    let last_role = app.scalar("SELECT max(id) FROM approval_roles").await;
    let admin = app.login_as("hz_admin").await;
    let r = admin.post_form("/config/roles", &[("name", "恢复后新角色"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(app.scalar("SELECT max(id) FROM audit_log").await > last_audit);
    assert!(app.role_id("恢复后新角色").await > last_role);
    assert!(app.state.store.read(audit::verify).await.unwrap().is_intact());
    // The uploaded report downloads as it was uploaded.
    let file_id = app.scalar("SELECT file_id FROM surveys").await;
    let r = app.login_as("xh_keyuan").await.get(&format!("/permits/files/{file_id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.bytes, UPLOADED);
}

#[tokio::test]
async fn restore_refuses_a_non_empty_directory_and_a_changed_backup() {
    let clock = clock();
    let data = data_dir_with_data(&clock).await;
    let out = tempfile::tempdir().unwrap();
    let backup_dir = out.path().join("backup");
    anxu::backup::backup(data.path(), &backup_dir).unwrap();
    // Neither command writes into a directory that has something in it.
    let err = anxu::backup::backup(data.path(), &backup_dir).unwrap_err();
    assert!(format!("{err:#}").contains("不为空"), "{err:#}");
    let busy = tempfile::tempdir().unwrap();
    std::fs::write(busy.path().join("keep.txt"), "mine").unwrap();
    let err = anxu::backup::restore(&backup_dir, busy.path()).unwrap_err();
    assert!(format!("{err:#}").contains("不为空"), "{err:#}");
    assert_eq!(std::fs::read_dir(busy.path()).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(busy.path().join("keep.txt")).unwrap(), "mine");

    // A changed row in an exported table.
    let target = out.path().join("restored");
    let users_csv = backup_dir.join("db").join("users.csv");
    let original = std::fs::read_to_string(&users_csv).unwrap();
    assert!(original.contains("省厅审计管理员"));
    std::fs::write(&users_csv, original.replacen("省厅审计管理员", "省厅审计管理贝", 1)).unwrap();
    let err = anxu::backup::restore(&backup_dir, &target).unwrap_err();
    assert!(format!("{err:#}").contains("表 users 与清单不符"), "{err:#}");
    assert!(!target.exists(), "a failed restore leaves nothing behind");
    std::fs::write(&users_csv, &original).unwrap();

    // A changed attachment.
    let files = attachments(&backup_dir.join("files"));
    let name = files.keys().next().unwrap().clone();
    let path = backup_dir.join("files").join(&name);
    let bytes = std::fs::read(&path).unwrap();
    let mut changed = bytes.clone();
    changed.push(b' ');
    std::fs::write(&path, &changed).unwrap();
    let err = anxu::backup::restore(&backup_dir, &target).unwrap_err();
    assert!(format!("{err:#}").contains(&format!("附件 {name} 的 SM3 与清单不符")), "{err:#}");
    assert!(!target.exists(), "a failed restore leaves nothing behind");
    std::fs::write(&path, &bytes).unwrap();

    // An attachment removed from the backup.
    std::fs::remove_file(&path).unwrap();
    let err = anxu::backup::restore(&backup_dir, &target).unwrap_err();
    assert!(format!("{err:#}").contains(&format!("备份中缺少附件 {name}")), "{err:#}");
    assert!(!target.exists());
    std::fs::write(&path, &bytes).unwrap();

    // Untouched, it restores.
    let report = anxu::backup::restore(&backup_dir, &target).unwrap();
    assert_eq!(report.manifest.files.len(), files.len());
    assert!(target.join("anxu.duckdb").is_file());
}
