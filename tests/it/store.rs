//! The store at start: migrations on a file, the first administrator, state kept across restarts, health.

use std::sync::Arc;

use anxu::clock::{Clock, ManualClock};
use anxu::config::Config;
use anxu::setup::{DEMO_PASSWORD, bootstrap, seed_demo};
use axum::http::StatusCode;
use chrono::{NaiveDate, TimeDelta};

use crate::harness::TestApp;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(2, 0, 0).unwrap()))
}

#[tokio::test]
async fn reopening_a_database_changes_nothing_and_bootstraps_once() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = dir.path().join("anxu.duckdb");
    let clock = clock();
    let (first_pw, count) = {
        let app = TestApp::open(Some(&db), &dir, clock.clone(), Config::default());
        let pw = bootstrap(&app.store, &app.regions, clock.now()).unwrap();
        let n: i64 = app
            .store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))?))
            .await
            .unwrap();
        (pw, n)
    };
    assert!(first_pw.is_some());
    let app = TestApp::open(Some(&db), &dir, clock.clone(), Config::default());
    assert_eq!(bootstrap(&app.store, &app.regions, clock.now()).unwrap(), None);
    let again: i64 =
        app.store.read(|c| Ok(c.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))?)).await.unwrap();
    assert_eq!(count, again);
    // The first administrator signs in with the printed password and must change it.
    let t = TestApp::from_state(app, clock.clone(), dir.clone());
    let mut c = t.anon();
    assert_eq!(c.sign_in("admin", first_pw.as_deref().unwrap()).await.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/config/users").await.location(), "/account/password");
}

#[tokio::test]
async fn a_lock_out_survives_a_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = dir.path().join("anxu.duckdb");
    let clock = clock();
    {
        let app = TestApp::open(Some(&db), &dir, clock.clone(), Config::default());
        seed_demo(&app.store, &app.regions, clock.now()).unwrap();
        let t = TestApp::from_state(app, clock.clone(), dir.clone());
        let mut c = t.anon();
        for _ in 0..5 {
            c.sign_in("xh_keyuan", "Wrong@2026").await;
        }
    }
    let app = TestApp::open(Some(&db), &dir, clock.clone(), Config::default());
    let t = TestApp::from_state(app, clock.clone(), dir.clone());
    let mut c = t.anon();
    let r = c.sign_in("xh_keyuan", DEMO_PASSWORD).await;
    assert!(r.texts(".form-error")[0].contains("账号已锁定"), "{}", r.body);
    clock.advance(TimeDelta::minutes(16));
    assert_eq!(c.sign_in("xh_keyuan", DEMO_PASSWORD).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn external_access_is_off_after_migrations() {
    let app = TestApp::new();
    let r = app
        .state
        .store
        .read(|c| Ok(c.query_row("SELECT current_setting('enable_external_access')", [], |r| r.get::<_, bool>(0))?))
        .await
        .unwrap();
    assert!(!r);
    let err =
        app.state.store.read(|c| Ok(c.execute_batch("COPY (SELECT 1) TO '/tmp/anxu-should-not-exist.csv'")?)).await;
    assert!(err.is_err());
}

#[tokio::test]
async fn health_turns_red_on_a_fatal_database_error() {
    let app = TestApp::new();
    let r = app.anon().get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("\"ok\""));
    assert!(anxu::store::is_fatal_message("FATAL Error: Failed to flush: database has been invalidated"));
    assert!(!anxu::store::is_fatal_message("Constraint Error: Duplicate key"));
    app.state.store.health().set_fatal("FATAL Error: disk full (simulated)");
    let r = app.anon().get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("disk full"));
    // Every further store call is refused rather than run on a broken database.
    let c = app.anon();
    assert_eq!(c.get("/login").await.status, StatusCode::OK, "the sign-in page needs no database");
}
