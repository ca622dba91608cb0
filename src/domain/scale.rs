//! 规模配置 and the routing of an application to the approving police bureau.
//!
//! 《大型群众性活动安全管理条例》: an activity with at least `permit_min` expected attendees per session needs a
//! permit; the county-level bureau decides below `city_min`, the city-level bureau from `city_min`, and the
//! provincial bureau from `province_min` when the province has set one. An activity held in several regions goes to
//! their lowest common superior bureau, raised further when its attendance requires a higher level.

use super::FieldError;
use super::activity::parse_count;
use super::region::{Adcode, RegionLevel, RegionTree};

/// The attendance thresholds of 规模配置.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleRules {
    /// From this many people per session a permit is needed (county-level bureau).
    pub permit_min: u32,
    /// From this many people per session the city-level bureau decides.
    pub city_min: u32,
    /// From this many people per session the provincial bureau decides; `None` when the province set no threshold.
    pub province_min: Option<u32>,
}

impl Default for ScaleRules {
    /// The numbers of the regulation: 1000 and 5000 people, no provincial threshold.
    fn default() -> Self {
        Self { permit_min: 1000, city_min: 5000, province_min: None }
    }
}

impl ScaleRules {
    /// Parses the 规模配置 form (fields `permit_min`, `city_min`, `province_min`; an empty `province_min` means no
    /// provincial threshold). Requires 1 ≤ permit_min < city_min < province_min ≤
    /// [`MAX_ATTENDANCE`](super::activity::MAX_ATTENDANCE).
    pub fn parse(permit_min: &str, city_min: &str, province_min: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut take = |r: Result<u32, FieldError>| r.map_err(|e| errors.push(e)).ok();
        let permit = take(parse_count("permit_min", "需要安全许可的人数下限", permit_min));
        let city = take(parse_count("city_min", "由市级公安机关审批的人数下限", city_min));
        let province = if province_min.trim().is_empty() {
            Some(None)
        } else {
            take(parse_count("province_min", "由省级公安机关审批的人数下限", province_min)).map(Some)
        };
        if let (Some(permit), Some(city)) = (permit, city)
            && city <= permit
        {
            errors.push(FieldError::new(
                "city_min",
                format!("由市级公安机关审批的人数下限应大于需要安全许可的人数下限（{permit} 人）"),
            ));
        }
        if let (Some(city), Some(Some(province))) = (city, province)
            && province <= city
        {
            errors.push(FieldError::new(
                "province_min",
                format!("由省级公安机关审批的人数下限应大于市级的人数下限（{city} 人），不设省级下限请留空"),
            ));
        }
        match (permit, city, province) {
            (Some(permit_min), Some(city_min), Some(province_min)) if errors.is_empty() => {
                Ok(Self { permit_min, city_min, province_min })
            }
            _ => Err(errors),
        }
    }

    /// The level that `attendance` requires and the threshold that put it there (`None` for the county level).
    fn level_for(&self, attendance: u32) -> (RegionLevel, Option<u32>) {
        match self.province_min {
            Some(p) if attendance >= p => (RegionLevel::Province, Some(p)),
            _ if attendance >= self.city_min => (RegionLevel::City, Some(self.city_min)),
            _ => (RegionLevel::County, None),
        }
    }
}

/// Which bureau approves, and why (shown on every application).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// The region whose public security bureau approves.
    pub bureau: Adcode,
    /// That region's level.
    pub level: RegionLevel,
    /// One Chinese sentence naming the activity's span and attendance, e.g.
    /// 活动地跨西湖区、上城区，每场预计 1200 人，由共同上级杭州市公安机关审批.
    pub reason: String,
}

/// Why an application cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// No region was given.
    #[error("请选择活动举办地")]
    NoRegion,
    /// A region is not in the province's region tree.
    #[error("活动举办地 {0} 不在本省地区范围内")]
    UnknownRegion(Adcode),
    /// The activity is too small to need a permit.
    #[error("每场预计人数 {attendance} 人，低于 {permit_min} 人，不属于需要安全许可的大型群众性活动")]
    BelowThreshold {
        /// The expected attendance of the largest session.
        attendance: u32,
        /// The threshold of 规模配置.
        permit_min: u32,
    },
}

/// At most this many region names are listed in a reason; the rest are counted.
const MAX_NAMES_IN_REASON: usize = 5;

/// Chooses the approving bureau for an activity held in `regions` (usually counties) with `attendance` per session
/// (the largest session).
///
/// The bureau is the lowest common ancestor of the regions, raised to the level that the attendance requires when
/// that level is higher. Duplicated regions count once, and so does a region given together with a region that
/// contains it.
pub fn route(
    rules: &ScaleRules,
    tree: &RegionTree,
    regions: &[Adcode],
    attendance: u32,
) -> Result<Routing, RoutingError> {
    if regions.is_empty() {
        return Err(RoutingError::NoRegion);
    }
    if let Some(&unknown) = regions.iter().find(|&&c| tree.get(c).is_none()) {
        return Err(RoutingError::UnknownRegion(unknown));
    }
    if attendance < rules.permit_min {
        return Err(RoutingError::BelowThreshold { attendance, permit_min: rules.permit_min });
    }

    // Distinct regions in the order given, without those that lie inside another given region.
    let mut distinct: Vec<Adcode> = Vec::new();
    for &code in regions {
        if !distinct.contains(&code) {
            distinct.push(code);
        }
    }
    let outer: Vec<Adcode> =
        distinct.iter().copied().filter(|&a| !distinct.iter().any(|&b| b != a && tree.is_within(a, b))).collect();

    // Lowest common ancestor: the longest common prefix of the paths from the province.
    let mut common = tree.path(outer[0]);
    for &code in &outer[1..] {
        let path = tree.path(code);
        let shared = common.iter().zip(&path).take_while(|(a, b)| a.adcode == b.adcode).count();
        common.truncate(shared);
    }
    // Every path starts at the one province, so `common` is never empty; fall back to the root all the same.
    let lca = common.last().copied().unwrap_or_else(|| tree.root());

    let (needed, threshold) = rules.level_for(attendance);
    let raised = needed < lca.level;
    let bureau = if raised { common.iter().find(|r| r.level == needed).copied().unwrap_or(lca) } else { lca };

    let span = if outer.len() == 1 {
        let single = match lca.level {
            RegionLevel::County => "单一县区",
            RegionLevel::City => "单一设区的市",
            RegionLevel::Province => "全省范围",
        };
        format!("{single}、")
    } else {
        let mut names: Vec<String> = outer.iter().take(MAX_NAMES_IN_REASON).map(|&c| tree.name(c)).collect();
        if outer.len() > MAX_NAMES_IN_REASON {
            let last = names.pop().unwrap_or_default();
            names.push(format!("{last}等 {} 个地区", outer.len()));
        }
        format!("活动地跨{}，", names.join("、"))
    };
    let crowd = match threshold {
        Some(t) => format!("每场预计 {attendance} 人（≥ {t} 人）"),
        None => format!("每场预计 {attendance} 人"),
    };
    let common_superior = if outer.len() > 1 && !raised { "共同上级" } else { "" };
    let reason = format!("{span}{crowd}，由{common_superior}{}公安机关审批", bureau.name);
    Ok(Routing { bureau: bureau.adcode, level: bureau.level, reason })
}

#[cfg(test)]
mod tests {
    use super::super::region::DEFAULT_REGIONS_CSV;
    use super::*;

    fn zj() -> RegionTree {
        RegionTree::parse_csv(DEFAULT_REGIONS_CSV).unwrap()
    }

    fn code(s: &str) -> Adcode {
        Adcode::parse(s).unwrap()
    }

    const XIHU: &str = "330106";
    const SHANGCHENG: &str = "330102";
    const HAISHU: &str = "330203";
    const HANGZHOU: &str = "330100";
    const ZHEJIANG: &str = "330000";

    #[test]
    fn routing_table() {
        let tree = zj();
        let default = ScaleRules::default();
        let with_province = ScaleRules { province_min: Some(50_000), ..ScaleRules::default() };
        let below = |attendance| Err(RoutingError::BelowThreshold { attendance, permit_min: 1000 });
        let to = |bureau: &str, level| Ok((code(bureau), level));
        use RegionLevel::{City, County, Province};
        #[allow(clippy::type_complexity)]
        let cases: Vec<(&ScaleRules, Vec<&str>, u32, Result<(Adcode, RegionLevel), RoutingError>)> = vec![
            (&default, vec![XIHU], 999, below(999)),
            (&default, vec![XIHU], 1000, to(XIHU, County)),
            (&default, vec![XIHU], 4999, to(XIHU, County)),
            (&default, vec![XIHU], 5000, to(HANGZHOU, City)),
            (&default, vec![XIHU], 50_000, to(HANGZHOU, City)),
            (&default, vec![XIHU, SHANGCHENG], 1000, to(HANGZHOU, City)),
            (&default, vec![XIHU, SHANGCHENG], 5000, to(HANGZHOU, City)),
            (&default, vec![XIHU, HAISHU], 1000, to(ZHEJIANG, Province)),
            (&default, vec![XIHU, HAISHU], 999, below(999)),
            (&with_province, vec![XIHU], 49_999, to(HANGZHOU, City)),
            (&with_province, vec![XIHU], 50_000, to(ZHEJIANG, Province)),
            (&with_province, vec![XIHU, SHANGCHENG], 50_000, to(ZHEJIANG, Province)),
            (&default, vec![XIHU, XIHU, XIHU], 1200, to(XIHU, County)),
            (&default, vec![XIHU, HANGZHOU], 1200, to(HANGZHOU, City)),
            (&default, vec![HANGZHOU], 1200, to(HANGZHOU, City)),
            (&default, vec![ZHEJIANG], 1200, to(ZHEJIANG, Province)),
            (&default, vec![], 1200, Err(RoutingError::NoRegion)),
            (&default, vec![], 10, Err(RoutingError::NoRegion)),
            (&default, vec!["110101"], 1200, Err(RoutingError::UnknownRegion(code("110101")))),
            (&default, vec![XIHU, "330199"], 1200, Err(RoutingError::UnknownRegion(code("330199")))),
        ];
        for (rules, regions, attendance, expected) in cases {
            let regions: Vec<Adcode> = regions.into_iter().map(code).collect();
            let got = route(rules, &tree, &regions, attendance).map(|r| (r.bureau, r.level));
            assert_eq!(got, expected, "{regions:?} at {attendance}");
        }
    }

    #[test]
    fn reasons_name_span_and_attendance() {
        let tree = zj();
        let rules = ScaleRules::default();
        let reason = |regions: &[&str], attendance| {
            let regions: Vec<Adcode> = regions.iter().map(|c| code(c)).collect();
            route(&rules, &tree, &regions, attendance).unwrap().reason
        };
        assert_eq!(reason(&[XIHU], 1200), "单一县区、每场预计 1200 人，由西湖区公安机关审批");
        assert_eq!(reason(&[XIHU], 6000), "单一县区、每场预计 6000 人（≥ 5000 人），由杭州市公安机关审批");
        assert_eq!(
            reason(&[XIHU, SHANGCHENG], 1200),
            "活动地跨西湖区、上城区，每场预计 1200 人，由共同上级杭州市公安机关审批"
        );
        assert_eq!(reason(&[XIHU, XIHU, SHANGCHENG], 1200), reason(&[XIHU, SHANGCHENG], 1200));
        assert_eq!(
            reason(&[XIHU, HAISHU], 1000),
            "活动地跨西湖区、海曙区，每场预计 1000 人，由共同上级浙江省公安机关审批"
        );
        let many = ["330102", "330105", "330106", "330108", "330109", "330110", "330111"];
        assert_eq!(
            reason(&many, 1000),
            "活动地跨上城区、拱墅区、西湖区、滨江区、萧山区等 7 个地区，每场预计 1000 人，由共同上级杭州市公安机关审批"
        );
        let with_province = ScaleRules { province_min: Some(50_000), ..ScaleRules::default() };
        let r = route(&with_province, &tree, &[code(XIHU), code(SHANGCHENG)], 60_000).unwrap();
        assert_eq!(r.reason, "活动地跨西湖区、上城区，每场预计 60000 人（≥ 50000 人），由浙江省公安机关审批");
    }

    #[test]
    fn error_messages() {
        let e = RoutingError::BelowThreshold { attendance: 999, permit_min: 1000 };
        assert_eq!(e.to_string(), "每场预计人数 999 人，低于 1000 人，不属于需要安全许可的大型群众性活动");
        assert_eq!(RoutingError::UnknownRegion(code("110101")).to_string(), "活动举办地 110101 不在本省地区范围内");
        assert_eq!(RoutingError::NoRegion.to_string(), "请选择活动举办地");
    }

    #[test]
    fn rules_parsing() {
        let ok = |permit_min, city_min, province_min| Ok(ScaleRules { permit_min, city_min, province_min });
        #[allow(clippy::type_complexity)]
        let cases: [(&str, &str, &str, Result<ScaleRules, Vec<&str>>); 14] = [
            ("1000", "5000", "", ok(1000, 5000, None)),
            (" 1000 ", " 5000", "   ", ok(1000, 5000, None)),
            ("1000", "5000", "50000", ok(1000, 5000, Some(50_000))),
            ("1", "2", "10000000", ok(1, 2, Some(10_000_000))),
            ("0", "5000", "", Err(vec!["permit_min"])),
            ("", "5000", "", Err(vec!["permit_min"])),
            ("abc", "-5", "1.5", Err(vec!["permit_min", "city_min", "province_min"])),
            ("1000", "10000001", "", Err(vec!["city_min"])),
            ("5000", "1000", "", Err(vec!["city_min"])),
            ("1000", "1000", "", Err(vec!["city_min"])),
            ("1000", "5000", "5000", Err(vec!["province_min"])),
            ("1000", "5000", "4000", Err(vec!["province_min"])),
            ("5000", "1000", "500", Err(vec!["city_min", "province_min"])),
            ("1000", "x", "500", Err(vec!["city_min"])),
        ];
        for (permit, city, province, expected) in cases {
            let got = ScaleRules::parse(permit, city, province)
                .map_err(|errors| errors.iter().map(|e| e.field).collect::<Vec<_>>());
            assert_eq!(got, expected, "{permit:?} {city:?} {province:?}");
        }
        assert_eq!(ScaleRules::parse("1000", "5000", "").unwrap(), ScaleRules::default());
        let errors = ScaleRules::parse("5000", "1000", "").unwrap_err();
        assert!(errors[0].message.contains("应大于"), "{errors:?}");
    }
}
