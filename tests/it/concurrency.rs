//! Concurrency (issue 8): many clients act on the same application step at the same moment with the revision their
//! form showed. Exactly one succeeds; every other one gets 409 with the "already handled" message; the history and
//! the audit log gain exactly one record. The one writer thread serialises the transactions, so DuckDB never sees
//! two writers; the revision check in `store::workflow::act` is what refuses the late ones.

use std::sync::Arc;

use axum::http::StatusCode;
use tokio::sync::Barrier;

use crate::access_matrix::{csrf_pair, gist, request, send};
use crate::bad_input::in_approval;
use crate::harness::TestApp;

/// What one client got back: its login, status, `Location`, and the page's error text.
struct Answer {
    login: &'static str,
    status: StatusCode,
    location: String,
    message: String,
}

/// `clients` sessions of each of `logins` post `form` (with their own CSRF token) to `path`, all released at once
/// by a barrier from their own tasks on a multi-threaded runtime.
async fn race(
    app: &TestApp,
    logins: &[&'static str],
    clients: usize,
    path: &str,
    form: &[(&str, &str)],
) -> Vec<Answer> {
    let mut sessions = Vec::new();
    for login in logins {
        for _ in 0..clients {
            let c = app.login_as(login).await;
            sessions.push((*login, c.session.clone().unwrap(), c.csrf.clone().unwrap()));
        }
    }
    let form = serde_urlencoded::to_string(form).unwrap();
    let barrier = Arc::new(Barrier::new(sessions.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for (login, session, csrf) in sessions {
        let (app_router, barrier, path) = (app.router.clone(), barrier.clone(), path.to_string());
        let body = format!("{form}&{}", csrf_pair(&csrf)).into_bytes();
        tasks.spawn(async move {
            let req =
                request("POST", &path, Some(session.as_str()), Some("application/x-www-form-urlencoded"), &[], body);
            barrier.wait().await;
            let res = tower::ServiceExt::oneshot(app_router, req).await.unwrap();
            let status = res.status();
            let location = res
                .headers()
                .get(axum::http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
            (login, status, location, String::from_utf8_lossy(&bytes).into_owned())
        });
    }
    let mut answers = Vec::new();
    for (login, status, location, body) in tasks.join_all().await {
        let page = scraper::Html::parse_document(&body);
        let sel = scraper::Selector::parse(".form-error").unwrap();
        let message = page.select(&sel).map(|e| e.text().collect::<String>()).collect::<Vec<_>>().join(" ");
        answers.push(Answer { login, status, location, message });
    }
    answers
}

/// Exactly one answer is the redirect of success; every other one is 409 with the stale-revision message.
/// Returns the winner's login.
fn one_winner(answers: &[Answer], id: i64) -> &'static str {
    let done = format!("/permits/{id}?notice=done");
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == StatusCode::SEE_OTHER).collect();
    assert_eq!(winners.len(), 1, "exactly one succeeds: {:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    assert_eq!(winners[0].location, done);
    for a in answers.iter().filter(|a| a.status != StatusCode::SEE_OTHER) {
        assert_eq!(a.status, StatusCode::CONFLICT, "{}: {}", a.login, a.message);
        assert!(a.message.contains("该申请已被他人处理"), "{}: {}", a.login, a.message);
    }
    winners[0].login
}

async fn counts(app: &TestApp, id: i64) -> (i64, i64, i64) {
    (
        app.scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id}")).await,
        app.scalar(&format!("SELECT count(*) FROM audit_log WHERE starts_with(object, '活动 #{id} ')")).await,
        app.scalar(&format!("SELECT revision FROM activities WHERE id = {id}")).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_clients_approve_the_same_step_and_exactly_one_succeeds() {
    let app = TestApp::new();
    let id = in_approval(&app, "并发审批音乐节").await;
    let (history, audit, revision) = counts(&app, id).await;
    let rev = revision.to_string();
    let form = [("decision", "pass"), ("opinion", "同意"), ("revision", rev.as_str())];
    let answers = race(&app, &["xh_kezhang"], 16, &format!("/permits/{id}/approve"), &form).await;
    assert_eq!(answers.len(), 16);
    one_winner(&answers, id);

    assert_eq!(counts(&app, id).await, (history + 1, audit + 1, revision + 1), "one history and one audit record");
    let step = app.scalar(&format!("SELECT step FROM activities WHERE id = {id}")).await;
    assert_eq!(step, 1, "moved on by one step only");
    let opinions = app
        .scalar(&format!("SELECT count(*) FROM approval_history WHERE activity_id = {id} AND action = 'step_pass'"))
        .await;
    assert_eq!(opinions, 1);
    // The losers' page shows where the application stands now and offers no form for the step they lost.
    let xh = app.login_as("xh_kezhang").await;
    let page = xh.get(&format!("/permits/{id}/approve")).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", gist(&page));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_approvers_race_on_the_pre_review_and_the_history_names_the_winner() {
    let app = TestApp::new();
    let id = app.seed_application("并发初审音乐节", "330106", 1200).await;
    let (history, audit, revision) = counts(&app, id).await;
    let rev = revision.to_string();
    let form = [("decision", "pass"), ("opinion", ""), ("revision", rev.as_str())];
    let logins = ["xh_keyuan", "xh_kezhang", "xh_juzhang"];
    let answers = race(&app, &logins, 6, &format!("/permits/{id}/pre-review"), &form).await;
    assert_eq!(answers.len(), 18);
    let winner = one_winner(&answers, id);

    assert_eq!(counts(&app, id).await, (history + 1, audit + 1, revision + 1));
    let actor = app
        .scalar(&format!(
            "SELECT actor_id FROM approval_history WHERE activity_id = {id} AND action = 'pass_pre_review'"
        ))
        .await;
    assert_eq!(actor, app.user_id(winner).await, "the history names the approver who won");
    let status = app.text(&format!("SELECT status FROM activities WHERE id = {id}")).await;
    assert_eq!(status, "pre_review_passed");
    // A late form with the old revision, sent after the race, is refused the same way and changes nothing.
    let late = app.login_as("xh_keyuan").await;
    let body = format!("{}&{}", serde_urlencoded::to_string(form).unwrap(), csrf_pair(late.csrf.as_deref().unwrap()));
    let r = send(
        &app,
        request(
            "POST",
            &format!("/permits/{id}/pre-review"),
            late.session.as_deref(),
            Some("application/x-www-form-urlencoded"),
            &[],
            body.into_bytes(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", gist(&r));
    assert!(r.texts(".form-error").join(" ").contains("该申请已被他人处理"), "{}", gist(&r));
    assert_eq!(counts(&app, id).await, (history + 1, audit + 1, revision + 1));
}
