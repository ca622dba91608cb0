//! The audit log's hash chain: intact after audited actions; any changed field or removed record is found and named,
//! on the audit page and by `anxu audit verify`.

use std::process::{Command, Output};
use std::sync::Arc;

use anxu::clock::{Clock, ManualClock};
use anxu::config::Config;
use anxu::setup::seed_demo;
use anxu::store::audit::{self, BreakReason, ChainBreak, ChainReport};
use axum::http::StatusCode;
use chrono::NaiveDate;

use crate::harness::TestApp;

/// Audited actions of several kinds: a refused and some accepted sign-ins, a new role, a sign-out.
async fn audited_actions(app: &TestApp) {
    let mut bad = app.anon();
    bad.sign_in("xh_keyuan", "Wrong@2026").await;
    let admin = app.login_as("hz_admin").await;
    let r = admin.post_form("/config/roles", &[("name", "中队长"), ("description", "审计链测试")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    admin.post_form("/logout", &[]).await;
    app.login_as("zj_auditor").await;
}

async fn chain(app: &TestApp) -> ChainReport {
    app.state.store.read(audit::verify).await.unwrap()
}

/// The id of the record at `offset` in id order.
async fn id_at(app: &TestApp, offset: u32) -> i64 {
    app.scalar(&format!("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET {offset}")).await
}

#[tokio::test]
async fn a_fresh_apps_chain_verifies_after_audited_actions() {
    let app = TestApp::new();
    audited_actions(&app).await;
    let total = app.scalar("SELECT count(*) FROM audit_log").await;
    assert!(total >= 5, "{total}");
    let n = total as u64;
    assert_eq!(chain(&app).await, ChainReport { total: n, checked: n, broken: None });
    // The first record starts at the genesis hash; every hash is different.
    let genesis = format!("SELECT count(*) FROM audit_log WHERE prev_hash = '{}'", audit::GENESIS);
    assert_eq!(app.scalar(&genesis).await, 1);
    assert_eq!(app.scalar("SELECT count(DISTINCT hash) FROM audit_log").await, total);
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE length(hash) <> 64").await, 0);
}

/// Changes one stored column of record `id` to `expr`, verifies the chain and puts the old value back, all in one
/// transaction on the writer. Returns the number of rows changed and the report.
async fn verify_tampered(app: &TestApp, id: i64, column: &'static str, expr: &'static str) -> (usize, ChainReport) {
    app.state
        .store
        .write(move |tx| {
            let old: duckdb::types::Value =
                tx.query_row(&format!("SELECT {column} FROM audit_log WHERE id = ?"), [id], |r| r.get(0))?;
            let changed = tx.execute(&format!("UPDATE audit_log SET {column} = {expr} WHERE id = ?"), [id])?;
            let report = audit::verify(tx)?;
            tx.execute(&format!("UPDATE audit_log SET {column} = ? WHERE id = ?"), duckdb::params![old, id])?;
            Ok((changed, report))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_change_to_any_stored_field_names_its_record() {
    let app = TestApp::new();
    audited_actions(&app).await;
    let target = id_at(&app, 2).await;
    let before = app.scalar(&format!("SELECT count(*) FROM audit_log WHERE id < {target}")).await as u64;
    let cases: &[(&str, &str)] = &[
        ("occurred_at", "occurred_at + INTERVAL 1 SECOND"),
        ("actor_id", "coalesce(actor_id, 0) + 1"),
        ("actor_login", "actor_login || 'x'"),
        ("actor_region", "CASE WHEN actor_region IS NULL THEN 330100 ELSE NULL END"),
        ("source", "source || '1'"),
        ("action", "'user.delete'"),
        ("object", "object || ' '"),
        ("result", "CASE WHEN result = 'ok' THEN 'refused' ELSE 'ok' END"),
        ("detail", "detail || '。'"),
        ("prev_hash", "upper(prev_hash)"),
        ("hash", "upper(hash)"),
    ];
    for &(column, expr) in cases {
        let (changed, report) = verify_tampered(&app, target, column, expr).await;
        assert_eq!(changed, 1, "{column}");
        let expected = ChainBreak { id: target, reason: BreakReason::HashMismatch };
        assert_eq!(report.broken, Some(expected), "{column}");
        assert_eq!(report.checked, before, "{column}");
        assert!(report.summary().contains(&format!("第 {target} 条记录")), "{column}: {}", report.summary());
    }
    // Every change was put back: intact again, and new records chain on.
    app.login_as("xh_keyuan").await;
    assert!(chain(&app).await.is_intact());
}

#[tokio::test]
async fn a_deleted_record_is_found() {
    let app = TestApp::new();
    audited_actions(&app).await;
    let (previous, deleted, next) = (id_at(&app, 1).await, id_at(&app, 2).await, id_at(&app, 3).await);
    let removed = app
        .state
        .store
        .write(move |tx| Ok(tx.execute("DELETE FROM audit_log WHERE id = ?", [deleted])?))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let report = chain(&app).await;
    assert_eq!(report.broken, Some(ChainBreak { id: next, reason: BreakReason::Missing { after: Some(previous) } }));
    assert_eq!(report.checked, 2);
    // New records do not heal it.
    app.login_as("xh_keyuan").await;
    assert_eq!(chain(&app).await.broken.map(|b| b.id), Some(next));
}

#[tokio::test]
async fn the_audit_page_shows_whether_the_chain_is_intact() {
    let app = TestApp::new();
    audited_actions(&app).await;
    let auditor = app.login_as("zj_auditor").await;
    let r = auditor.get("/audit").await;
    assert_eq!(r.status, StatusCode::OK);
    let total = app.scalar("SELECT count(*) FROM audit_log").await;
    assert_eq!(r.texts("#audit-chain"), vec![format!("审计链完整（已校验 {total} 条）")]);
    assert!(!r.has("#audit-chain[role=alert]"));

    let target = id_at(&app, 1).await;
    app.state
        .store
        .write(move |tx| Ok(tx.execute("UPDATE audit_log SET detail = '事后改写' WHERE id = ?", [target])?))
        .await
        .unwrap();
    let r = auditor.get("/audit").await;
    assert_eq!(r.status, StatusCode::OK);
    let warning = r.texts("#audit-chain[role=alert]");
    assert_eq!(warning.len(), 1, "{}", r.body);
    assert!(warning[0].starts_with(&format!("审计链已被篡改：第 {target} 条记录")), "{}", warning[0]);
    // A filtered view still reports the whole chain.
    let r = auditor.get("/audit?action=role.create").await;
    assert_eq!(r.texts("#audit-chain[role=alert]").len(), 1);
}

fn anxu(args: &[&str], data_dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anxu"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("ANXU_LOG", "warn")
        .output()
        .expect("run anxu")
}

#[tokio::test]
async fn the_command_verifies_a_stopped_servers_log() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = dir.path().join("anxu.duckdb");
    let clock = Arc::new(ManualClock::new(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(2, 0, 0).unwrap()));
    {
        let state = TestApp::open(Some(&db), &dir, clock.clone(), Config::default());
        seed_demo(&state.store, &state.regions, clock.now()).unwrap();
        let app = TestApp::from_state(state, clock.clone(), dir.clone());
        audited_actions(&app).await;
        // While a server holds the database the command refuses and says why.
        let out = anxu(&["audit", "verify"], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("正被另一个进程使用"), "{err}");
    }
    let out = anxu(&["audit", "verify"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("审计链完整（已校验") && text.contains("audit chain intact"), "{text}");

    let target = {
        let conn = duckdb::Connection::open(&db).unwrap();
        let id: i64 =
            conn.query_row("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 3", [], |r| r.get(0)).unwrap();
        conn.execute("UPDATE audit_log SET actor_login = 'nobody' WHERE id = ?", [id]).unwrap();
        id
    };
    let out = anxu(&["audit", "verify"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("审计链已被篡改：第 {target} 条记录")), "{err}");
    assert!(err.contains(&format!("record {target}")), "{err}");
}
