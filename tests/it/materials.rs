//! 材料清单配置: the list in force (own or inherited), saving a region's own list and what the details page then
//! requires, the reset, refusals that write nothing, and who may do it.

use axum::http::StatusCode;

use crate::harness::{Resp, TestApp};

/// Form fields of a list: (code, name, required) in rows 0, 1, …; an empty code is a new row.
fn list_form(rows: &[(&str, &str, bool)]) -> Vec<(String, String)> {
    let mut f = Vec::new();
    for (i, (code, name, required)) in rows.iter().enumerate() {
        f.push((format!("code_{i}"), code.to_string()));
        f.push((format!("name_{i}"), name.to_string()));
        f.push((format!("required_{i}"), if *required { "1" } else { "0" }.to_string()));
    }
    f
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn names(page: &Resp) -> Vec<String> {
    page.texts(".material-kinds tbody td:nth-child(2)")
}

fn requirements(page: &Resp) -> Vec<String> {
    page.texts(".material-kinds tbody td:nth-child(3)")
}

/// The text of the 报批材料 line of an application's details page.
fn materials_line(page: &Resp) -> String {
    let body = &page.body;
    if body.contains("必需材料齐全") {
        return "必需材料齐全".into();
    }
    let start = body.find("尚缺必需材料：").unwrap_or_else(|| panic!("no materials line: {body}"));
    let rest = &body[start..];
    rest[..rest.find('<').unwrap_or(rest.len())].to_string()
}

#[tokio::test]
async fn a_city_inherits_the_provinces_list_saves_its_own_and_resets() {
    let app = TestApp::new();
    let id = app.seed_application("材料测试", "330106", 2000).await;
    let keyuan = app.login_as("xh_keyuan").await;
    let details = keyuan.get(&format!("/permits/{id}")).await;
    assert_eq!(details.status, StatusCode::OK);
    // The province's list requires the risk assessment; the application sent it with its assessment, which counts.
    assert_eq!(materials_line(&details), "必需材料齐全");

    let hz = app.login_as("hz_admin").await;
    let page = hz.get("/config/materials").await;
    assert_eq!(page.status, StatusCode::OK);
    let source = page.texts("#materials-source").remove(0);
    assert!(source.contains("沿用上级") && source.contains("浙江省"), "{source}");
    assert_eq!(page.texts("#materials-owner"), vec!["沿用上级（浙江省）"]);
    assert_eq!(names(&page).len(), 8);
    assert_eq!(names(&page)[0], "承办单位法人资格证明及安全责任人身份证明");
    assert_eq!(requirements(&page).iter().filter(|r| *r == "必需").count(), 5);
    assert_eq!(requirements(&page).iter().filter(|r| *r == "容缺后补").count(), 3);
    assert!(!page.has("#materials-reset"), "nothing of its own to reset");

    // The form starts from the inherited list, with its codes.
    let edit = hz.get("/config/materials/edit").await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.has("input[name=name_0][value='承办单位法人资格证明及安全责任人身份证明']"), "{}", edit.body);
    assert!(edit.has("input[type=hidden][name=code_0][value='legal_entity']"));
    assert!(edit.has("input[type=hidden][name=code_5][value='fire_safety']"));
    assert!(edit.has("select[name=required_5] option[value='0'][selected]"));
    assert!(edit.has("input[name=name_14]"));
    assert!(!edit.has("input[name=name_15]"));

    // 杭州's own list: two kept items (one now may come later, one now required), an empty row, a new item, and a
    // row with only its select (ignored like the empty one).
    let mut form = list_form(&[
        ("security_plan", "安全工作方案", false),
        ("fire_safety", "消防安全检查合格证明", true),
        ("", "", true),
        ("", "应急疏散预案", true),
    ]);
    form.push(("required_4".to_string(), "0".to_string()));
    let r = hz.post_form("/config/materials/edit", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/config/materials?notice=saved");
    assert_eq!(app.scalar("SELECT count(*) FROM material_kinds WHERE region = 330100").await, 3);
    assert_eq!(app.scalar("SELECT count(*) FROM material_kinds WHERE region = 330100 AND required").await, 2);
    assert_eq!(
        app.text("SELECT string_agg(code, ',' ORDER BY position) FROM material_kinds WHERE region = 330100").await,
        "security_plan,fire_safety,custom_1"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM material_kinds WHERE region = 330000").await, 8);
    assert_eq!(
        app.scalar("SELECT count(*) FROM audit_log WHERE action = 'materials.save' AND actor_login = 'hz_admin'").await,
        1
    );

    let page = hz.get("/config/materials?notice=saved").await;
    assert!(page.has(".notice"));
    assert!(page.texts("#materials-source")[0].contains("自行配置"), "{}", page.body);
    assert_eq!(page.texts("#materials-owner"), vec!["本地区"]);
    assert_eq!(names(&page), vec!["安全工作方案", "消防安全检查合格证明", "应急疏散预案"]);
    assert_eq!(requirements(&page), vec!["容缺后补", "必需", "必需"]);
    assert!(page.has("#materials-reset"));

    // 西湖区 has no list of its own: 杭州's decides what the application still lacks.
    let details = keyuan.get(&format!("/permits/{id}")).await;
    assert_eq!(materials_line(&details), "尚缺必需材料：消防安全检查合格证明、应急疏散预案");

    // Editing the own list keeps the codes of the kept items and gives a further new item the next code.
    let edit = hz.get("/config/materials/edit").await;
    assert!(edit.has("input[type=hidden][name=code_2][value='custom_1']"), "{}", edit.body);
    let form = list_form(&[
        ("security_plan", "安全工作方案", true),
        ("custom_1", "应急疏散预案（含演练记录）", false),
        ("", "交通组织方案", false),
    ]);
    let r = hz.post_form("/config/materials/edit", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        app.text("SELECT string_agg(code, ',' ORDER BY position) FROM material_kinds WHERE region = 330100").await,
        "security_plan,custom_1,custom_2"
    );
    let details = keyuan.get(&format!("/permits/{id}")).await;
    assert_eq!(materials_line(&details), "必需材料齐全");

    // Reset: 杭州 inherits the province's list again.
    let r = hz.post_form("/config/materials/reset", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/config/materials?notice=reset");
    assert_eq!(app.scalar("SELECT count(*) FROM material_kinds WHERE region = 330100").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM material_kinds WHERE region = 330000").await, 8);
    let page = hz.get("/config/materials?notice=reset").await;
    assert!(page.has(".notice"));
    assert!(page.texts("#materials-source")[0].contains("沿用上级"));
    assert_eq!(names(&page).len(), 8);
    assert!(!page.has("#materials-reset"));
    let details = keyuan.get(&format!("/permits/{id}")).await;
    assert_eq!(materials_line(&details), "必需材料齐全");
    assert_eq!(
        app.scalar("SELECT count(*) FROM audit_log WHERE action = 'materials.reset' AND actor_login = 'hz_admin'")
            .await,
        1
    );
    // A second reset has nothing to remove.
    let before = app.dump("material_kinds").await;
    let r = hz.post_form("/config/materials/reset", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(app.dump("material_kinds").await, before);
}

#[tokio::test]
async fn bad_lists_are_refused_and_nothing_is_written() {
    let app = TestApp::new();
    let hz = app.login_as("hz_admin").await;
    let (kinds, audit) = (app.dump("material_kinds").await, app.dump("audit_log").await);
    let long_name = "长".repeat(41);
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (list_form(&[]), "kinds"),
        (list_form(&[("legal_entity", "", true), ("", "  ", false)]), "kinds"),
        (list_form(&[("", long_name.as_str(), true)]), "name_0"),
        (list_form(&[("", "安全工作方案", true), ("", "安全工作方案", false)]), "name_1"),
        (list_form(&[("security_plan", "安全工作方案", true), ("", "<b>方案</b>", true)]), "name_1"),
        (list_form(&[("Bad-Code", "安全工作方案", true)]), "code_0"),
        (list_form(&[("security_plan", "安全工作方案", true), ("security_plan", "消防证明", true)]), "code_1"),
    ];
    for (form, field) in cases {
        let r = hz.post_form("/config/materials/edit", &pairs(&form)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {form:?}");
        assert!(r.field_error(field).is_some(), "{field}: {}", r.body);
        assert!(r.has(".form-error"));
    }
    // A row without a valid choice of 必需 / 容缺后补.
    let r = hz.post_form("/config/materials/edit", &[("name_0", "安全工作方案"), ("required_0", "maybe")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.field_error("required_0").is_some());
    // The re-rendered form keeps what was typed.
    let r = hz
        .post_form("/config/materials/edit", &pairs(&list_form(&[("", "甲材料", true), ("", "甲材料", false)])))
        .await;
    assert!(r.has("input[name=name_1][value='甲材料']"));
    assert_eq!(app.dump("material_kinds").await, kinds);
    assert_eq!(app.dump("audit_log").await, audit);

    // 40 characters are enough.
    let forty = "四".repeat(40);
    let r = hz.post_form("/config/materials/edit", &pairs(&list_form(&[("", forty.as_str(), true)]))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.text("SELECT name FROM material_kinds WHERE region = 330100").await, forty);
}

#[tokio::test]
async fn the_provinces_list_can_change_but_not_go() {
    let app = TestApp::new();
    let zj = app.login_as("zj_admin").await;
    let page = zj.get("/config/materials").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.texts("#materials-owner"), vec!["本地区"]);
    assert!(!page.has("#materials-reset"));

    let before = app.dump("material_kinds").await;
    let r = zj.post_form("/config/materials/reset", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(app.dump("material_kinds").await, before);
    assert_eq!(app.scalar("SELECT count(*) FROM audit_log WHERE action = 'materials.reset'").await, 0);

    // A change of the province's list reaches the regions that inherit it.
    let form = list_form(&[("legal_entity", "承办单位法人资格证明", true), ("insurance", "公众责任险保单", true)]);
    let r = zj.post_form("/config/materials/edit", &pairs(&form)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.scalar("SELECT count(*) FROM material_kinds WHERE region = 330000").await, 2);
    let nb = app.login_as("nb_admin").await;
    let page = nb.get("/config/materials").await;
    assert_eq!(names(&page), vec!["承办单位法人资格证明", "公众责任险保单"]);
    assert!(page.texts("#materials-source")[0].contains("浙江省"));
}

#[tokio::test]
async fn only_system_administrators_configure_the_list() {
    let app = TestApp::new();
    let before = app.dump("material_kinds").await;
    let keyuan = app.login_as("xh_keyuan").await;
    assert_eq!(keyuan.get("/config/materials").await.status, StatusCode::FORBIDDEN);
    assert_eq!(keyuan.get("/config/materials/edit").await.status, StatusCode::FORBIDDEN);
    let form = list_form(&[("", "应急疏散预案", true)]);
    assert_eq!(keyuan.post_form("/config/materials/edit", &pairs(&form)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(keyuan.post_form("/config/materials/reset", &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.dump("material_kinds").await, before);
    // Signed out: to the sign-in page.
    let r = app.anon().get("/config/materials").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login"), "{}", r.location());
}
