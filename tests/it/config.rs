//! 流程配置, 规模配置, 节假日配置 and 消息管理: who may see and change them, versions, refusals that write nothing.

use axum::http::StatusCode;

use crate::harness::{Resp, TestApp};

/// The form of a flow with `name` and `steps` (step name, role id, days) in rows 0, 1, ….
fn flow_form(name: &str, steps: &[(&str, i64, &str)]) -> Vec<(String, String)> {
    let mut f = vec![("flow_name".to_string(), name.to_string())];
    for (i, (step, role, days)) in steps.iter().enumerate() {
        f.push((format!("step_name_{i}"), step.to_string()));
        f.push((format!("step_role_{i}"), role.to_string()));
        f.push((format!("step_days_{i}"), days.to_string()));
    }
    f
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn a_city_saves_its_flow_as_new_versions() {
    let app = TestApp::new();
    let hz = app.login_as("nb_admin").await;
    let none = hz.get("/config/flows").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(none.texts("#flow-source")[0].contains("都还没有配置"), "{}", none.body);

    let (keyuan, kezhang) = (app.role_id("科员").await, app.role_id("科长").await);
    let form = flow_form("宁波市审批流程", &[("科员初审", keyuan, "3"), ("科长审批", kezhang, "5")]);
    let r = hz.post_form("/config/flows/edit", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/config/flows?notice=saved");
    assert_eq!(app.scalar("SELECT count(*) FROM flows WHERE region = 330200 AND version = 1").await, 1);
    let steps_of_version = |v: i64| {
        format!(
            "SELECT count(*) FROM flow_steps s JOIN flows f ON f.id = s.flow_id WHERE f.region = 330200 AND f.version = {v}"
        )
    };
    assert_eq!(app.scalar(&steps_of_version(1)).await, 2);

    let page = hz.get("/config/flows?notice=saved").await;
    assert!(page.texts("#flow-source")[0].contains("自行配置"), "{}", page.body);
    assert_eq!(page.texts("#flow-name"), vec!["宁波市审批流程"]);
    assert_eq!(page.texts(".flow-steps tbody td:nth-child(2)"), vec!["科员初审", "科长审批"]);
    assert_eq!(page.texts(".flow-steps tbody td:nth-child(4)"), vec!["3 个工作日", "5 个工作日"]);
    assert!(page.has(".notice"));

    // A second save, with an empty row between the steps: version 2 with 3 steps, version 1 kept as it was.
    let fen = app.role_id("分管局长").await;
    let form: Vec<(String, String)> = [
        ("flow_name", "宁波市审批流程（修订）".to_string()),
        ("step_name_0", "科员初审".to_string()),
        ("step_role_0", keyuan.to_string()),
        ("step_days_0", "2".to_string()),
        ("step_name_1", String::new()),
        ("step_role_1", String::new()),
        ("step_days_1", String::new()),
        ("step_name_2", "科长审批".to_string()),
        ("step_role_2", kezhang.to_string()),
        ("step_days_2", "4".to_string()),
        ("step_name_3", "分管局长审批".to_string()),
        ("step_role_3", fen.to_string()),
        ("step_days_3", "5".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let r = hz.post_form("/config/flows/edit", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.scalar("SELECT count(*) FROM flows WHERE region = 330200").await, 2);
    assert_eq!(app.scalar(&steps_of_version(1)).await, 2);
    assert_eq!(app.scalar(&steps_of_version(2)).await, 3);
    let page = hz.get("/config/flows").await;
    assert_eq!(page.texts(".flow-steps tbody td:nth-child(2)"), vec!["科员初审", "科长审批", "分管局长审批"]);
    assert!(page.texts("#flow-source")[0].contains("第 2 版"));
    assert_eq!(
        app.scalar("SELECT count(*) FROM audit_log WHERE action = 'flow.save' AND actor_login = 'nb_admin'").await,
        2
    );
}

#[tokio::test]
async fn a_city_without_its_own_flow_inherits_the_provinces() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let keyuan = app.role_id("科员").await;
    let form = flow_form("浙江省审批流程", &[("受理审查", keyuan, "3")]);
    let r = zj.post_form("/config/flows/edit", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.scalar("SELECT count(*) FROM flows WHERE region = 330000").await, 1);

    let hz = app.login_as("nb_admin").await;
    let page = hz.get("/config/flows").await;
    let source = page.texts("#flow-source").remove(0);
    assert!(source.contains("沿用上级") && source.contains("浙江省"), "{source}");
    assert_eq!(page.texts("#flow-name"), vec!["浙江省审批流程"]);
    // The edit form starts from the inherited steps; saving makes 杭州's own flow and leaves the province's alone.
    let edit = hz.get("/config/flows/edit").await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.has("input[name=step_name_0][value='受理审查']"), "{}", edit.body);
    let form = flow_form("宁波市审批流程", &[("受理审查", keyuan, "2")]);
    assert_eq!(hz.post_form("/config/flows/edit", &pairs(&form)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT count(*) FROM flows WHERE region = 330000").await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM flows WHERE region = 330200").await, 1);
    assert!(hz.get("/config/flows").await.texts("#flow-source")[0].contains("自行配置"));
    // The province still sees its own.
    assert!(zj.get("/config/flows").await.texts("#flow-source")[0].contains("自行配置"));
}

#[tokio::test]
async fn bad_flows_are_refused_and_nothing_is_written() {
    let app = TestApp::new();
    let nb = app.login_as("nb_admin").await;
    let r = nb.post_form("/config/roles", &[("name", "宁波专岗"), ("description", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let nb_role = app.role_id("宁波专岗").await;
    let keyuan = app.role_id("科员").await;

    let hz = app.login_as("hz_admin").await;
    let (flows, steps) = (app.dump("flows").await, app.dump("flow_steps").await);
    let long_name = "长".repeat(31);
    let long_step = "长".repeat(21);
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (flow_form("空流程", &[]), "steps"),
        (flow_form("零天", &[("初审", keyuan, "0")]), "step_days_0"),
        (flow_form("三十一天", &[("初审", keyuan, "31")]), "step_days_0"),
        (flow_form("非数字", &[("初审", keyuan, "三")]), "step_days_0"),
        (flow_form("第二行", &[("初审", keyuan, "3"), ("复审", keyuan, "")]), "step_days_1"),
        (flow_form("宁波角色", &[("初审", nb_role, "3")]), "step_role_0"),
        (flow_form("无此角色", &[("初审", 999_999, "3")]), "step_role_0"),
        (flow_form("无名步骤", &[("", keyuan, "3")]), "step_name_0"),
        (flow_form("长步骤", &[(long_step.as_str(), keyuan, "3")]), "step_name_0"),
        (flow_form(&long_name, &[("初审", keyuan, "3")]), "flow_name"),
        (flow_form("", &[("初审", keyuan, "3")]), "flow_name"),
    ];
    for (form, field) in cases {
        let r = hz.post_form("/config/flows/edit", &pairs(&form)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {form:?}");
        assert!(r.field_error(field).is_some(), "{field}: {}", r.body);
        assert!(r.has(".form-error"));
    }
    // A role-less row.
    let r = hz
        .post_form("/config/flows/edit", &[("flow_name", "缺角色"), ("step_name_0", "初审"), ("step_days_0", "3")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("step_role_0").is_some());
    assert_eq!(app.dump("flows").await, flows);
    assert_eq!(app.dump("flow_steps").await, steps);
    // 宁波's role is not even offered in 杭州.
    let edit = hz.get("/config/flows/edit").await;
    assert!(!edit.has(&format!("option[value='{nb_role}']")));
    assert!(edit.has(&format!("option[value='{keyuan}']")));
}

#[tokio::test]
async fn only_the_province_sets_the_scale_rules() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let page = zj.get("/config/scale").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("input[name=permit_min][value='1000']"));
    let r =
        zj.post_form("/config/scale", &[("permit_min", "1000"), ("city_min", "5000"), ("province_min", "50000")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/config/scale?notice=saved");
    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM scale_rules WHERE id = (SELECT max(id) FROM scale_rules) AND province_min = 50000"
        )
        .await,
        1
    );
    let page = zj.get("/config/scale").await;
    assert!(page.has("input[name=province_min][value='50000']"));
    assert!(page.texts(".scale-rules li").iter().any(|t| t.contains("50000 人以上的，由省级公安机关审批")));

    let before = app.dump("scale_rules").await;
    let hz = app.login_as("hz_admin").await;
    let r = hz.post_form("/config/scale", &[("permit_min", "10"), ("city_min", "20"), ("province_min", "")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = hz.get("/config/scale").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("#scale-readonly"));
    assert!(!page.has("input[name=permit_min]"));
    assert_eq!(app.dump("scale_rules").await, before);

    for (permit, city, province, field) in [
        ("1000", "1000", "", "city_min"),
        ("1000", "900", "", "city_min"),
        ("1000", "5000", "5000", "province_min"),
        ("abc", "5000", "", "permit_min"),
        ("0", "5000", "", "permit_min"),
        ("", "5000", "", "permit_min"),
        ("1000", "99999999999", "", "city_min"),
    ] {
        let r = zj
            .post_form("/config/scale", &[("permit_min", permit), ("city_min", city), ("province_min", province)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{permit}/{city}/{province}");
        assert!(r.field_error(field).is_some(), "{permit}/{city}/{province}: {}", r.body);
    }
    assert_eq!(app.dump("scale_rules").await, before);
}

#[tokio::test]
async fn the_try_out_names_the_bureau() {
    let app = TestApp::new();
    let hz = app.login_as("hz_admin").await;
    let r = hz.get("/config/scale?county_0=330106&county_1=330102&county_2=&attendance=1200").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.texts("#tryout-bureau"), vec!["杭州市公安机关"]);
    assert!(r.texts("#tryout-reason")[0].contains("共同上级杭州市"));
    assert!(r.has("#f-county_0 option[value='330106'][selected]"));
    let r = hz.get("/config/scale?county_0=330106&attendance=800").await;
    assert!(r.texts("#tryout-result")[0].contains("低于 1000 人"), "{}", r.body);
    let r = hz.get("/config/scale?county_0=330106&county_1=330203&attendance=1000").await;
    assert_eq!(r.texts("#tryout-bureau"), vec!["浙江省公安机关"]);
    let r = hz.get("/config/scale?county_0=&attendance=1000").await;
    assert_eq!(r.texts("#tryout-result"), vec!["请选择活动举办地"]);
    let r = hz.get("/config/scale?county_0=330106&attendance=abc").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.field_error("attendance").is_some());
    let r = hz.get("/config/scale?county_0=999999&attendance=1000").await;
    assert!(r.field_error("county_0").is_some());
}

#[tokio::test]
async fn the_province_edits_the_calendar() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let working = |r: &Resp| r.texts("#working-days")[0].parse::<i64>().expect("a number of days");
    let page = zj.get("/config/calendar?year=2026").await;
    assert_eq!(page.status, StatusCode::OK);
    let before = working(&page);
    assert_eq!(before, 248, "2026: 261 weekdays, 19 of them holidays, 6 make-up days");
    assert_eq!(zj.get("/config/calendar").await.texts("h1"), vec!["节假日配置：2026 年"]);

    let r = zj
        .post_form(
            "/config/calendar",
            &[("date", "2026-12-31"), ("kind", "holiday"), ("name", "跨年"), ("year", "2026")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/config/calendar?year=2026&notice=saved");
    let page = zj.get("/config/calendar?year=2026").await;
    assert_eq!(working(&page), before - 1);
    let rows = page.texts("table.data tbody tr");
    assert!(rows.iter().any(|t| t.contains("2026-12-31") && t.contains("周四") && t.contains("跨年")), "{rows:?}");

    let r = zj.post_form("/config/calendar/remove", &[("date", "2026-12-31")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(working(&zj.get("/config/calendar?year=2026").await), before);
    assert_eq!(zj.post_form("/config/calendar/remove", &[("date", "2026-12-31")]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(zj.post_form("/config/calendar/remove", &[("date", "nonsense")]).await.status, StatusCode::NOT_FOUND);

    let before_rows = app.dump("calendar_days").await;
    for (date, kind, name, field) in [
        ("2026-12-30", "workday", "调休", "date"),
        ("2026-02-30", "holiday", "春节", "date"),
        ("", "holiday", "春节", "date"),
        ("2026-12-26", "rest", "调休", "kind"),
        ("2026-12-26", "holiday", "", "name"),
    ] {
        let r =
            zj.post_form("/config/calendar", &[("date", date), ("kind", kind), ("name", name), ("year", "2026")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{date} {kind}");
        assert!(r.field_error(field).is_some(), "{date} {kind}: {}", r.body);
    }
    let r = zj.post_form("/config/calendar", &[("date", "2026-12-30"), ("kind", "workday"), ("name", "调休")]).await;
    assert!(r.field_error("date").unwrap().contains("周六或周日"));
    assert_eq!(app.dump("calendar_days").await, before_rows);

    // Other years: empty, but counted Monday to Friday; bad years fall back to the current one.
    let page = zj.get("/config/calendar?year=2030").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(working(&page), 261);
    assert_eq!(zj.get("/config/calendar?year=abc").await.texts("h1"), vec!["节假日配置：2026 年"]);
    assert_eq!(zj.get("/config/calendar?year=99999").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_city_sees_the_calendar_but_cannot_change_it() {
    let app = TestApp::new();
    let hz = app.login_as("hz_admin").await;
    let page = hz.get("/config/calendar?year=2026").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("#calendar-readonly"));
    assert!(!page.has("form[action='/config/calendar']"));
    assert!(!page.has("form[action='/config/calendar/remove']"));
    let before = app.dump("calendar_days").await;
    let r = hz
        .post_form(
            "/config/calendar",
            &[("date", "2026-12-31"), ("kind", "holiday"), ("name", "跨年"), ("year", "2026")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(hz.post_form("/config/calendar/remove", &[("date", "2026-01-01")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.dump("calendar_days").await, before);
}

#[tokio::test]
async fn sms_templates_are_checked_saved_and_previewed() {
    let app = TestApp::new();
    let hz = app.login_as("hz_admin").await;
    let page = hz.get("/sms/acceptance").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.texts("#sms-source")[0].contains("系统默认"));
    assert_eq!(page.texts("table.placeholders tbody tr").len(), 9);
    assert!(!page.texts("#sms-preview")[0].contains(['{', '}']));

    let before = app.dump("sms_templates").await;
    let (long_address, long_materials) = ("址".repeat(101), "材".repeat(101));
    let r = hz
        .post_form("/sms/acceptance", &[("text", "请到{地点}办理"), ("address", ""), ("phone", ""), ("materials", "")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("text").unwrap().contains("{地点}"), "{}", r.body);
    for (text, address, phone, materials, field) in [
        ("", "", "", "", "text"),
        ("第一行\n第二行", "", "", "", "text"),
        ("{活动名称}已受理", "", "abc", "", "phone"),
        ("{活动名称}已受理", "", "0571-8700000000000000", "", "phone"),
        ("{活动名称}已受理", long_address.as_str(), "", "", "address"),
        ("{活动名称}已受理", "", "", long_materials.as_str(), "materials"),
    ] {
        let r = hz
            .post_form(
                "/sms/acceptance",
                &[("text", text), ("address", address), ("phone", phone), ("materials", materials)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(r.field_error(field).is_some(), "{field}: {}", r.body);
    }
    assert_eq!(app.dump("sms_templates").await, before);

    let text = "【安许】{承办单位}：“{活动名称}”{审批结果}，请携带{提交材料}到{地址}办理，电话{联系电话}。";
    let r = hz
        .post_form(
            "/sms/acceptance",
            &[
                ("text", text),
                ("address", "杭州市公安局治安支队"),
                ("phone", "0571-87000000"),
                ("materials", "身份证原件"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/sms/acceptance?notice=saved");
    assert_eq!(app.scalar("SELECT count(*) FROM sms_templates WHERE region = 330100 AND kind = 'acceptance'").await, 1);
    let page = hz.get("/sms/acceptance?notice=saved").await;
    assert_eq!(page.texts("#f-text"), vec![text]);
    assert!(page.has("input[name=address][value='杭州市公安局治安支队']"));
    assert!(page.texts("#sms-source")[0].contains("自行设置"));
    let preview = page.texts("#sms-preview").remove(0);
    assert!(!preview.contains(['{', '}']), "{preview}");
    assert!(preview.contains("西湖草地音乐节"), "{preview}");
    // Other kinds and other cities are untouched.
    assert!(hz.get("/sms/approval").await.texts("#sms-source")[0].contains("系统默认"));
    let nb = app.login_as("nb_admin").await;
    assert!(nb.get("/sms/acceptance").await.texts("#sms-source")[0].contains("系统默认"));

    assert_eq!(hz.get("/sms/bogus").await.status, StatusCode::NOT_FOUND);
    assert_eq!(hz.post_form("/sms/bogus", &[("text", "x")]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_province_template_is_inherited() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let r = zj.post_form("/sms/pre_review", &[("text", "{活动名称}初审{审批结果}")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let hz = app.login_as("hz_admin").await;
    let page = hz.get("/sms/pre_review").await;
    let source = page.texts("#sms-source").remove(0);
    assert!(source.contains("沿用上级") && source.contains("浙江省"), "{source}");
    assert_eq!(page.texts("#sms-preview"), vec!["西湖草地音乐节初审已受理"]);
}

#[tokio::test]
async fn only_administrators_reach_the_configuration_pages() {
    let app = TestApp::new();
    let pages = [
        "/config/flows",
        "/config/flows/edit",
        "/config/scale",
        "/config/calendar",
        "/sms/pre_review",
        "/sms/acceptance",
        "/sms/approval",
    ];
    let hz = app.login_as("hz_admin").await;
    for page in pages {
        assert_eq!(hz.get(page).await.status, StatusCode::OK, "hz_admin {page}");
    }
    for login in ["xh_keyuan", "zj_auditor", "zj_commander"] {
        let c = app.login_as(login).await;
        for page in pages {
            let r = c.get(page).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{login} {page}");
        }
    }
    let keyuan = app.login_as("xh_keyuan").await;
    let before = [
        app.dump("flows").await,
        app.dump("scale_rules").await,
        app.dump("calendar_days").await,
        app.dump("sms_templates").await,
    ];
    let role = app.role_id("科员").await.to_string();
    let posts: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "/config/flows/edit",
            vec![("flow_name", "流程"), ("step_name_0", "初审"), ("step_role_0", role.as_str()), ("step_days_0", "3")],
        ),
        ("/config/scale", vec![("permit_min", "10"), ("city_min", "20"), ("province_min", "")]),
        ("/config/calendar", vec![("date", "2026-12-31"), ("kind", "holiday"), ("name", "跨年")]),
        ("/config/calendar/remove", vec![("date", "2026-01-01")]),
        ("/sms/approval", vec![("text", "{活动名称}")]),
    ];
    for (path, form) in &posts {
        assert_eq!(keyuan.post_form(path, form).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let after = [
        app.dump("flows").await,
        app.dump("scale_rules").await,
        app.dump("calendar_days").await,
        app.dump("sms_templates").await,
    ];
    assert_eq!(after, before);
}

#[tokio::test]
async fn embedded_pages_keep_the_flag() {
    let app = TestApp::new();
    let hz = app.login_as("hz_admin").await;
    let r = hz.get("/config/flows?embed=1").await;
    assert!(r.has("a[href='/config/flows/edit?embed=1']"));
    assert!(!r.has("nav.menu"));
    let r = hz.get("/config/flows/edit?embed=1").await;
    assert!(r.has("form[action='/config/flows/edit?embed=1']"));
    let r = hz.get("/config/calendar?year=2026&embed=1").await;
    assert!(r.has("a[href='/config/calendar?year=2027&embed=1']"));
    let r = hz.get("/sms/approval?embed=1").await;
    assert!(r.has("form[action='/sms/approval?embed=1']"));
    assert!(r.has("a[href='/sms/pre_review?embed=1']"));
    let r = hz.get("/config/scale?embed=1").await;
    assert!(r.has("form.tryout input[name=embed][value='1']"));
}
