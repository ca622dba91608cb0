//! The shared page frame — top bar, the manual's left menu filtered by the user's type — and form helpers.

use maud::{DOCTYPE, Markup, html};

use super::session::Ctx;
use crate::config::Site;
use crate::domain::FieldErrors;
use crate::domain::region::{Adcode, RegionTree};
use crate::domain::user::{Permission, UserType};

/// A menu group of the manual's left navigation, with the entries built so far.
struct MenuGroup {
    label: &'static str,
    items: &'static [MenuItem],
}

/// One menu entry: label, link, and the permission it needs.
struct MenuItem {
    label: &'static str,
    href: &'static str,
    needs: Permission,
}

/// The navigation. Groups of the manual whose pages do not exist yet are absent, not greyed out.
const MENU: &[MenuGroup] = &[
    MenuGroup {
        label: "地图势态", items: &[MenuItem { label: "地图势态", href: "/map", needs: Permission::ViewMap }]
    },
    MenuGroup {
        label: "许可管理",
        items: &[MenuItem { label: "活动列表", href: "/permits", needs: Permission::ViewPermits }],
    },
    MenuGroup {
        label: "备案管理",
        items: &[MenuItem { label: "备案列表", href: "/filings", needs: Permission::ViewPermits }],
    },
    MenuGroup {
        label: "统计中心",
        items: &[
            MenuItem { label: "勘查统计", href: "/stats/survey_by_region", needs: Permission::ViewStatistics },
            MenuItem { label: "统计报表", href: "/stats", needs: Permission::ViewStatistics },
        ],
    },
    MenuGroup {
        label: "消息管理",
        items: &[
            MenuItem { label: "初审短信模版", href: "/sms/pre_review", needs: Permission::ManageSms },
            MenuItem { label: "受理短信模版", href: "/sms/acceptance", needs: Permission::ManageSms },
            MenuItem { label: "审批短信模版", href: "/sms/approval", needs: Permission::ManageSms },
        ],
    },
    MenuGroup {
        label: "结果导出",
        items: &[MenuItem { label: "结果导出", href: "/exchange", needs: Permission::Exchange }],
    },
    MenuGroup {
        label: "系统配置",
        items: &[
            MenuItem { label: "角色配置", href: "/config/roles", needs: Permission::ManageRoles },
            MenuItem { label: "流程配置", href: "/config/flows", needs: Permission::ConfigureWorkflow },
            MenuItem { label: "用户配置", href: "/config/users", needs: Permission::ManageUsers },
            MenuItem { label: "规模配置", href: "/config/scale", needs: Permission::ConfigureWorkflow },
            MenuItem { label: "节假日配置", href: "/config/calendar", needs: Permission::ConfigureWorkflow },
            MenuItem { label: "材料清单配置", href: "/config/materials", needs: Permission::ConfigureWorkflow },
        ],
    },
    MenuGroup {
        label: "安全管理",
        items: &[
            MenuItem { label: "安全策略", href: "/security/policy", needs: Permission::ManageSecurity },
            MenuItem { label: "锁定账号", href: "/security/locked", needs: Permission::ManageSecurity },
        ],
    },
    MenuGroup {
        label: "安全审计",
        items: &[MenuItem { label: "审计日志", href: "/audit", needs: Permission::ReadAudit }],
    },
];

/// The portal's navigation.
const PORTAL_MENU: &[MenuGroup] = &[
    MenuGroup {
        label: "许可申请", items: &[MenuItem { label: "我的申请", href: "/apply", needs: Permission::Apply }]
    },
    MenuGroup {
        label: "活动备案", items: &[MenuItem { label: "我的备案", href: "/file", needs: Permission::File }]
    },
    MenuGroup {
        label: "消息通知",
        items: &[MenuItem { label: "消息通知", href: "/notifications", needs: Permission::Notifications }],
    },
    MenuGroup {
        label: "数据交换",
        items: &[
            MenuItem { label: "数据交换", href: "/exchange", needs: Permission::Exchange },
            MenuItem { label: "短信发送", href: "/outbox", needs: Permission::Exchange },
        ],
    },
];

/// The menu entries `t` may use on `site`, by group.
pub fn menu_for(t: UserType, site: Site) -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let menu = match site {
        Site::Intranet => MENU,
        Site::Portal => PORTAL_MENU,
    };
    menu.iter()
        .map(|g| (g.label, g.items.iter().filter(|i| t.can(i.needs)).map(|i| (i.label, i.href)).collect::<Vec<_>>()))
        .filter(|(_, items)| !items.is_empty())
        .collect()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · 安许" }
            link rel="stylesheet" href="/static/app.css";
        }
    }
}

/// A page for a signed-in user. `current` is the menu link to mark.
pub fn page(ctx: &Ctx, current: &str, title: &str, content: Markup) -> Markup {
    if ctx.embed {
        return html! {
            (DOCTYPE)
            html lang="zh-CN" { (head(title)) body.embed { main.content { (content) } } }
        };
    }
    let u = &ctx.user;
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body {
                a.skip href="#main" { "跳到正文" }
                header.topbar {
                    a.brand href="/" {
                        span.logo aria-hidden="true" { "安" }
                        @match ctx.site { Site::Intranet => "安许 · 大型群众性活动安全许可", Site::Portal => "安许 · 大型群众性活动安全许可（外网）" }
                    }
                    div.who {
                        span { (u.real_name) "（" (u.user_type.label()) "）" }
                        span.region { "所属地区：" (ctx.region_name) }
                        a href="/account/password" { "修改密码" }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button.link type="submit" { "退出" }
                        }
                    }
                }
                div.frame {
                    nav.menu aria-label="主菜单" {
                        a.menu-home[current == "/"] href="/" { "首页" }
                        @for (group, items) in menu_for(u.user_type, ctx.site) {
                            div.menu-group {
                                div.menu-title { (group) }
                                @for (label, href) in items {
                                    a.active[current == href] href=(href) aria-current=[(current == href).then_some("page")] { (label) }
                                }
                            }
                        }
                    }
                    main.content id="main" { (content) }
                }
            }
        }
    }
}

/// A page without user context (sign-in, errors).
pub fn bare_page(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" { (head(title)) body.bare { main.content { (content) } } }
    }
}

/// The hidden CSRF field of every form.
pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// A labelled text input with its error message.
pub fn text_field(
    name: &str,
    label: &str,
    value: &str,
    errors: &FieldErrors,
    input_type: &str,
    extra: FieldExtra<'_>,
) -> Markup {
    let err = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.field.has-error[err.is_some()] {
            label for=(id) { (label) @if extra.required { span.req aria-hidden="true" { "*" } } }
            input id=(id) type=(input_type) name=(name) value=(value) maxlength=[extra.maxlength]
                required[extra.required] autocomplete=[extra.autocomplete]
                aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))];
            @if let Some(hint) = extra.hint { div.hint { (hint) } }
            @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
        }
    }
}

/// Optional attributes of [`text_field`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldExtra<'a> {
    /// Mark as required.
    pub required: bool,
    /// `maxlength`.
    pub maxlength: Option<usize>,
    /// `autocomplete`.
    pub autocomplete: Option<&'static str>,
    /// A hint under the field.
    pub hint: Option<&'a str>,
}

/// A labelled select with its error message. `options` are (value, label).
pub fn select_field(
    name: &str,
    label: &str,
    selected: &str,
    options: &[(String, String)],
    errors: &FieldErrors,
    required: bool,
) -> Markup {
    let err = errors.get(name);
    let id = format!("f-{name}");
    html! {
        div.field.has-error[err.is_some()] {
            label for=(id) { (label) @if required { span.req aria-hidden="true" { "*" } } }
            select id=(id) name=(name) aria-invalid=[err.map(|_| "true")] aria-describedby=[err.map(|_| format!("{id}-err"))] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
            @if let Some(e) = err { div.field-error id=(format!("{id}-err")) role="alert" { (e) } }
        }
    }
}

/// A notice banner (after a successful action) from a `?notice=` code.
pub fn notice(text: Option<&str>) -> Markup {
    html! { @if let Some(t) = text { div.notice role="status" { (t) } } }
}

/// Pagination links: `base` is the current query without `page`.
pub fn pager(ctx: &Ctx, path: &str, base_query: &str, page: u32, per_page: u32, total: i64) -> Markup {
    let pages = u32::try_from((total.max(0) as u64).div_ceil(u64::from(per_page.max(1)))).unwrap_or(u32::MAX).max(1);
    let link = |p: u32| {
        let q = if base_query.is_empty() { format!("page={p}") } else { format!("{base_query}&page={p}") };
        ctx.href(&format!("{path}?{q}"))
    };
    html! {
        nav.pager aria-label="分页" {
            span { "共 " (total) " 条，第 " (page + 1) " / " (pages) " 页" }
            @if page > 0 { a href=(link(page - 1)) { "上一页" } }
            @if page + 1 < pages { a href=(link(page + 1)) { "下一页" } }
        }
    }
}

/// Region names joined with 、 (— for none).
pub(crate) fn region_names(regions: &RegionTree, codes: &[Adcode]) -> String {
    if codes.is_empty() {
        return "—".to_string();
    }
    codes.iter().map(|c| regions.name(*c)).collect::<Vec<_>>().join("、")
}

/// Region choices of a form or filter: `scope` and everything below it, indented by depth.
pub(crate) fn region_options(regions: &RegionTree, scope: Adcode) -> Vec<(String, String)> {
    let depth = regions.path(scope).len();
    regions
        .subtree(scope)
        .into_iter()
        .map(|r| {
            let indent = "\u{3000}".repeat(regions.path(r.adcode).len().saturating_sub(depth));
            (r.adcode.to_string(), format!("{indent}{}", r.name))
        })
        .collect()
}

/// A byte count for people.
pub(crate) fn size_label(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / 1024.0 / 1024.0),
    }
}
