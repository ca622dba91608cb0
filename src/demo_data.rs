//! Demo data for the whole province: organizers, venues, risk-assessment agencies and any number of applications
//! (a million within a minute in a release build) with their approval history, assessments, surveys and
//! rectifications.
//!
//! Everything comes from seeded generators (xoshiro256**, seeded through SplitMix64; every activity, county and
//! table draws from its own stream), so the same seed, regions, outlines, scale rules, calendar and date give the
//! same rows. Rows are written with DuckDB appenders, batch by batch; their ids are reserved from the tables'
//! sequences first, so later `nextval` calls never collide with them.
//!
//! Statuses follow `domain::workflow`: every transition goes through [`workflow::apply`](apply) and leaves one
//! history row, shaped as `store::workflow::act` (police) and the bundle import (organizer) write them; the
//! submission row comes first, so `revision` is the number of history rows minus one. Process times (submission,
//! history, decisions, surveys) are generated in Beijing time and stored in UTC like the clock's; the start and end
//! of an event are Beijing local time, as the portal sends them. "Now" is 18:00 Beijing time on [`DemoSpec::today`].

use std::collections::{HashMap, HashSet};
use std::fmt;

use ::geo::{Contains, InteriorPoint, Point};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use duckdb::types::{TimeUnit, Value};
use duckdb::{Connection, params};

use crate::domain::activity::ActivityKind;
use crate::domain::calendar::HolidayCalendar;
use crate::domain::region::{Adcode, Region, RegionLevel, RegionTree};
use crate::domain::scale::{ScaleRules, route};
use crate::domain::workflow::{Action, Decision, Progress, Status, apply};
use crate::geo::shapes::{RegionShape, Shapes};
use crate::store::config::{calendar, scale_rules};
use crate::store::places;
use crate::store::workflow::ACCEPTANCE_DAYS;
use crate::store::{StoreError, StoreResult};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSpec {
    /// The number of applications.
    pub activities: usize,
    /// The seed: the same seed gives the same data. Portal refs are `DEMO-{seed}-{index:07}`.
    pub seed: u64,
    /// The end of the two years covered ("now" is 18:00 Beijing time that day); events start up to 60 days later.
    pub today: NaiveDate,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DemoReport {
    /// Applications (`activities` rows).
    pub activities: usize,
    /// Organizers 承办单位.
    pub organizers: usize,
    /// Venues 场地.
    pub venues: usize,
    /// New risk-assessment agencies 风评机构 (agencies of the same name already stored are reused).
    pub agencies: usize,
    /// Surveys 踏勘.
    pub surveys: usize,
    /// Rectification items 整改意见.
    pub rectifications: usize,
    /// Approval history rows.
    pub history: usize,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "活动 {} 场，承办单位 {} 家，场馆 {} 个，风评机构 {} 家，踏勘 {} 次，整改意见 {} 条，审批记录 {} 条",
            self.activities,
            self.organizers,
            self.venues,
            self.agencies,
            self.surveys,
            self.rectifications,
            self.history
        )
    }
}

/// Writes the demo data of `spec` in the caller's transaction. Refuses (nothing written) when applications of the
/// same seed exist already.
pub fn generate(
    tx: &duckdb::Transaction<'_>,
    regions: &RegionTree,
    shapes: &Shapes,
    spec: &DemoSpec,
) -> StoreResult<DemoReport> {
    let conn: &Connection = tx;
    let prefix = format!("DEMO-{}-", spec.seed);
    let existing: i64 =
        conn.query_row("SELECT count(*) FROM activities WHERE starts_with(portal_ref, ?)", [&prefix], |r| r.get(0))?;
    if existing > 0 {
        return Err(StoreError::Conflict(format!(
            "种子 {} 的演示数据已存在（{existing} 条活动，编号以 {prefix} 开头），请换一个种子",
            spec.seed
        )));
    }
    let mut world = World::new(conn, regions, shapes, spec)?;
    let mut report = DemoReport {
        agencies: world.add_agencies(conn)?,
        organizers: world.add_organizers(conn)?,
        venues: world.add_venues(conn)?,
        ..DemoReport::default()
    };
    let mut first = 0;
    while first < spec.activities {
        let end = (first + BATCH).min(spec.activities);
        let batch: Vec<Act<'_>> = (first..end).map(|i| world.activity(i)).collect();
        write_batch(conn, spec.seed, first, &batch, &mut report)?;
        first = end;
    }
    attach_flows(conn, regions, &prefix)?;
    Ok(report)
}

/// Gives every accepted demo application the approval flow in force for its bureau (its own or the nearest
/// ancestor's, as acceptance picks it) when that flow has the generated number of steps, so that approvers of that
/// bureau can act on the ones still in approval. Bureaus without such a flow keep none (nobody there can approve).
fn attach_flows(conn: &Connection, regions: &RegionTree, prefix: &str) -> StoreResult<()> {
    for r in regions.subtree(regions.root().adcode) {
        let Some((flow, steps)) = crate::store::config::flow_for(conn, &regions.path_key(r.adcode))? else { continue };
        if steps != FLOW_STEPS {
            continue;
        }
        conn.execute(
            "UPDATE activities SET flow_id = ? WHERE bureau = ? AND starts_with(portal_ref, ?)
               AND accepted_at IS NOT NULL AND flow_id IS NULL AND steps = ?",
            params![flow, r.adcode.get(), prefix, steps],
        )?;
    }
    Ok(())
}

// ---- tuning ----

/// Applications generated and written together.
const BATCH: usize = 20_000;
/// "Now": minutes after midnight (Beijing) of `today`.
const NOW_MINUTES: i64 = 18 * 60;
/// Days before `today` in which events may start.
const PAST_DAYS: u32 = 730;
/// Days after `today` in which events may start.
const FUTURE_DAYS: u32 = 60;
/// The number of steps of the approval flow (科长审核 → 分管局长审批).
const FLOW_STEPS: u32 = 2;
/// Share of applications held in two counties of one city.
const TWO_COUNTY_SHARE: f64 = 0.03;
/// Share of accepted applications with a survey.
const SURVEY_SHARE: f64 = 0.30;
/// Tries to find a random point inside a county before falling back to its interior point.
const POINT_TRIES: usize = 200;
/// A bound on the transitions of one application (returns may loop).
const MAX_TRANSITIONS: usize = 40;
/// The role name of organizer events in history, as the import writes it.
const ORGANIZER_ROLE: &str = "承办方";

const STREAM_ACTIVITY: u64 = 1;
const STREAM_ORGANIZERS: u64 = 2;
const STREAM_VENUES: u64 = 3;
const STREAM_AGENCIES: u64 = 4;
const STREAM_STAFF: u64 = 5;

// ---- random numbers ----

/// One step of SplitMix64.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256**, seeded through SplitMix64.
#[derive(Debug, Clone)]
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        Self([splitmix(&mut x), splitmix(&mut x), splitmix(&mut x), splitmix(&mut x)])
    }

    /// The generator of item `index` of `stream`, independent of what other items drew.
    fn stream(seed: u64, stream: u64, index: u64) -> Self {
        let mut x = seed;
        let mut y = splitmix(&mut x) ^ stream;
        let mut z = splitmix(&mut y) ^ index;
        Self::new(splitmix(&mut z))
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        // 53 random bits are exact in an f64.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        // usize → u128 is lossless; the product's high half is < n, so it fits in usize.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in lo..=hi.
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi.saturating_sub(lo)) + 1;
        lo + u32::try_from(self.next_u64() % span).unwrap_or(0)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// [`Rng::pick`] for lists of text (the same draw).
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }

    /// A standard normal deviate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// An index drawn with integer weights.
    fn weighted<T>(&mut self, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
        let total: u32 = items.iter().map(&weight).sum();
        if total == 0 {
            return 0;
        }
        let mut x = self.between(0, total - 1);
        for (i, item) in items.iter().enumerate() {
            let w = weight(item);
            if x < w {
                return i;
            }
            x -= w;
        }
        items.len().saturating_sub(1)
    }

    /// An index in 0..n skewed towards 0 (`power` > 1): the first items are drawn far more often.
    fn skewed(&mut self, n: usize, power: f64) -> usize {
        // Truncation towards zero is the point; the product is < n.
        let x = self.unit().powf(power) * n as f64;
        (x as usize).min(n.saturating_sub(1))
    }

    /// An index drawn from cumulative weights.
    fn cumulative(&mut self, cum: &[f64]) -> usize {
        let total = cum.last().copied().unwrap_or(0.0);
        let x = self.unit() * total;
        cum.partition_point(|&c| c <= x).min(cum.len().saturating_sub(1))
    }

    /// Uniform in 0..=n days.
    fn days_up_to(&mut self, n: i64) -> i64 {
        let span = usize::try_from(n.max(0) + 1).unwrap_or(1);
        i64::try_from(self.below(span)).unwrap_or(0)
    }
}

fn minutes(n: u32) -> TimeDelta {
    TimeDelta::minutes(i64::from(n))
}

fn days(n: u32) -> TimeDelta {
    TimeDelta::days(i64::from(n))
}

/// `date` at `m` minutes after midnight.
fn at_minutes(date: NaiveDate, m: i64) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN) + TimeDelta::minutes(m)
}

/// Whole people or units from a non-negative float (`as` saturates; the values here are small and finite).
fn whole(x: f64) -> u32 {
    x.max(0.0).round() as u32
}

fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

// ---- tables of text ----

const SURNAMES: &[&str] = &[
    "王", "李", "张", "陈", "刘", "杨", "黄", "吴", "周", "徐", "赵", "孙", "朱", "胡", "林", "郑", "何", "马", "郭",
    "沈", "罗", "高", "叶", "金", "方", "潘", "蒋", "钱", "俞", "楼", "应", "梁", "谢", "宋", "唐", "许", "韩", "冯",
    "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "蔡", "余", "杜", "程", "魏", "苏", "吕", "丁", "任", "姚", "卢",
    "傅", "钟", "姜", "崔", "陆", "范", "汪", "石", "戴", "夏", "邱", "侯", "邵", "孟", "秦", "毛", "江", "鲍", "章",
];

const GIVEN_FIRST: &[&str] = &[
    "子", "梓", "雨", "欣", "思", "佳", "俊", "浩", "宇", "嘉", "建", "志", "国", "晓", "丽", "海", "文", "玉", "春",
    "明", "立", "永", "新", "美", "秀", "振", "伟", "家", "一", "天",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平",
    "刚", "辉", "玲", "华", "飞", "鹏", "斌", "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "琳", "颖", "雪", "慧",
    "晨", "晶", "婷", "倩", "瑶", "怡", "萍", "燕", "波", "峰", "鑫", "亮", "成", "东", "林", "海", "航", "轩", "涵",
];

/// First characters of trade names 字号.
const ZIHAO_A: &[&str] = &[
    "华", "恒", "瑞", "鼎", "博", "新", "兴", "宏", "远", "嘉", "盛", "卓", "启", "信", "达", "金", "天", "海", "云",
    "锦", "星", "晨", "泰", "安", "润", "中", "汇", "聚", "昊", "永", "和", "正", "东", "明", "光", "合", "众", "鸿",
    "朗", "悦", "之", "越", "钱", "潮", "禾", "晟", "弘", "睿",
];

/// Second characters of trade names 字号.
const ZIHAO_B: &[&str] = &[
    "源", "达", "业", "创", "德", "泰", "盛", "辰", "禾", "川", "宸", "航", "越", "途", "翔", "美", "艺", "诺", "晟",
    "科", "通", "力", "为", "耀", "峰", "丰", "承", "策", "联", "景", "程", "阳", "鑫", "誉", "信", "格", "逸", "澜",
];

const SPORTS: u8 = 1;
const PERFORMANCE: u8 = 2;
const EXHIBITION: u8 = 4;
const FESTIVAL: u8 = 8;
const JOB_FAIR: u8 = 16;
const LOTTERY: u8 = 32;

/// The bit of a kind in the masks above (the enum's order).
fn kind_bit(kind: ActivityKind) -> u8 {
    1 << (kind as u8)
}

/// Organizer industries: name suffix, weight, kinds organized.
const INDUSTRIES: &[(&str, u32, u8)] = &[
    ("文化传媒有限公司", 20, PERFORMANCE | FESTIVAL | EXHIBITION),
    ("演艺有限公司", 8, PERFORMANCE),
    ("文化旅游发展有限公司", 8, FESTIVAL | PERFORMANCE),
    ("体育发展有限公司", 14, SPORTS),
    ("体育文化传播有限公司", 6, SPORTS | PERFORMANCE),
    ("会展服务有限公司", 14, EXHIBITION | JOB_FAIR),
    ("展览有限公司", 6, EXHIBITION),
    ("人力资源服务有限公司", 12, JOB_FAIR),
    ("彩票销售中心", 5, LOTTERY),
    ("品牌策划有限公司", 7, PERFORMANCE | EXHIBITION | FESTIVAL),
];

const AGENCY_SUFFIXES: &[&str] = &[
    "安全技术咨询有限公司",
    "安全评价有限公司",
    "安全科技有限公司",
    "应急管理咨询有限公司",
    "风险评估咨询有限公司",
    "公共安全技术服务有限公司",
];

/// A kind of venue: name variants, capacity range (核定容量) and the kinds of activity it hosts.
struct VenueType {
    names: &'static [&'static str],
    capacity: (u32, u32),
    kinds: u8,
}

const VENUE_TYPES: &[VenueType] = &[
    VenueType {
        names: &["体育馆", "体育中心体育馆", "全民健身中心", "奥体中心体育馆"],
        capacity: (3000, 20_000),
        kinds: SPORTS | PERFORMANCE | LOTTERY | JOB_FAIR,
    },
    VenueType {
        names: &["文化广场", "市民广场", "人民广场", "时代广场"],
        capacity: (5000, 80_000),
        kinds: FESTIVAL | PERFORMANCE | LOTTERY | SPORTS,
    },
    VenueType {
        names: &["国际会展中心", "会展中心", "国际博览中心"],
        capacity: (5000, 50_000),
        kinds: EXHIBITION | JOB_FAIR | LOTTERY | PERFORMANCE,
    },
    VenueType { names: &["大剧院", "文化艺术中心", "大会堂"], capacity: (1000, 3000), kinds: PERFORMANCE },
    VenueType { names: &["人才市场", "人力资源市场"], capacity: (2000, 10_000), kinds: JOB_FAIR },
    VenueType {
        names: &["湿地公园", "中央公园", "森林公园", "江滨公园", "人民公园"],
        capacity: (5000, 80_000),
        kinds: FESTIVAL | SPORTS,
    },
    VenueType {
        names: &["体育中心体育场", "奥体中心体育场", "体育场"],
        capacity: (20_000, 60_000),
        kinds: SPORTS | PERFORMANCE | FESTIVAL,
    },
];

/// Every county gets these (type, variant) first: together they host every kind.
const FIXED_VENUES: [(usize, usize); 3] = [(0, 0), (1, 0), (2, 0)];

const ROADS: &[&str] = &[
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "文化路",
    "体育场路",
    "新华路",
    "环城北路",
    "滨江路",
    "世纪大道",
    "江南大道",
    "湖滨路",
    "科技路",
    "迎宾大道",
    "府前路",
    "钱江路",
    "凤凰路",
    "学院路",
    "东方大道",
    "平安路",
    "青年路",
    "振兴路",
    "开元路",
    "望江路",
    "和平路",
    "同心路",
];

/// Population of the cities in 10 000 people (2020 census, rounded), the weight of their counties.
const CITY_POPULATION: &[(u32, f64)] = &[
    (330100, 1194.0),
    (330200, 940.0),
    (330300, 957.0),
    (330400, 540.0),
    (330500, 337.0),
    (330600, 527.0),
    (330700, 705.0),
    (330800, 228.0),
    (330900, 116.0),
    (331000, 662.0),
    (331100, 251.0),
];

/// 杭州, 宁波, 温州: their districts weigh most.
const BIG_CITIES: [u32; 3] = [330100, 330200, 330300];

/// Kind weights in the order of [`ActivityKind::ALL`] (sports, performance, exhibition, festival, job fair, lottery).
const KIND_WEIGHTS: [u32; 6] = [20, 30, 20, 12, 12, 6];

/// Monthly weights per kind (January first).
const SEASONS: [[f64; 12]; 6] = [
    [0.5, 0.4, 1.3, 1.5, 1.3, 0.9, 0.6, 0.6, 1.2, 1.5, 1.5, 1.0],
    [1.2, 0.8, 0.8, 0.9, 1.0, 1.1, 1.4, 1.4, 1.0, 1.0, 1.1, 1.5],
    [0.8, 0.5, 1.1, 1.2, 1.2, 1.0, 0.8, 0.8, 1.1, 1.2, 1.2, 1.0],
    [2.2, 2.4, 0.8, 0.9, 0.7, 0.5, 0.6, 0.7, 1.0, 2.0, 0.8, 1.0],
    [0.6, 2.2, 2.4, 1.2, 0.9, 0.8, 0.5, 0.6, 1.8, 1.6, 1.0, 0.5],
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.3],
];

/// The largest month weight times the largest weekday factor.
const MAX_DAY_WEIGHT: f64 = 2.4 * 2.0;

/// Median expected attendance per session, per kind.
const MEDIAN_ATTENDANCE: [f64; 6] = [4000.0, 3500.0, 5000.0, 7000.0, 2500.0, 1800.0];

/// Weights of 1..=5 sessions, per kind.
const SESSIONS: [[u32; 5]; 6] = [
    [65, 20, 8, 4, 3],
    [70, 20, 7, 2, 1],
    [15, 25, 35, 15, 10],
    [40, 20, 20, 10, 10],
    [80, 20, 0, 0, 0],
    [85, 15, 0, 0, 0],
];

/// Working days taken by the pre-review (0, 1, 2, …).
const PRE_REVIEW_DAYS: [u32; 6] = [35, 35, 18, 8, 3, 1];
/// Working days taken by the acceptance (limit 5).
const ACCEPTANCE_TAKEN: [u32; 8] = [15, 30, 25, 15, 8, 4, 2, 1];
/// Working days taken by step 0 (limit 2).
const STEP0_DAYS: [u32; 6] = [30, 40, 20, 6, 3, 1];
/// Working days taken by step 1 (limit 3).
const STEP1_DAYS: [u32; 7] = [25, 35, 22, 10, 5, 2, 1];
/// Weights of 0..=4 rectification items per survey.
const RECT_COUNTS: [u32; 5] = [30, 30, 20, 12, 8];

const THEMES: &[&str] = &[
    "星光", "青春", "追梦", "回响", "无限", "海风", "仲夏", "初心", "光年", "声浪", "山海", "潮起", "江南", "繁花",
    "逐光", "同行",
];
const MUSIC_FESTIVALS: &[&str] = &["草莓", "西湖", "电音", "民谣", "爵士", "星空"];
const SPORT_NAMES: &[&str] =
    &["篮球", "足球", "排球", "乒乓球", "羽毛球", "龙舟", "自行车", "网球", "围棋", "武术", "游泳", "田径"];
const EXPO_TOPICS: &[&str] = &[
    "家居",
    "婚庆",
    "茶叶",
    "农产品",
    "动漫",
    "文化创意",
    "数字经济",
    "年货",
    "电子商务",
    "智能制造",
    "户外用品",
    "珠宝玉石",
    "汽车",
];
const FLOWERS: [&[&str]; 4] = [&["桃花", "油菜花", "杜鹃花"], &["荷花", "杨梅"], &["桂花", "菊花"], &["梅花"]];

const RETURN_PRE_REVIEW: &[&str] = &[
    "活动安全工作方案内容不完整，请补充应急疏散预案",
    "活动方案未说明每场预计人数的测算依据，请补充",
    "缺少场所管理者同意提供场所的证明，请补充上传",
    "安全责任人身份证明材料不清晰，请重新上传",
    "活动时间与场所已有安排冲突，请核实后重新提交",
    "安全保卫人员配备数量不足，请按规定补充",
];
const NOT_ACCEPT: &[&str] = &[
    "申请材料经补正后仍不齐全，不予受理",
    "活动场所未取得消防安全检查合格证明，不予受理",
    "申请时间距活动举办时间不足二十日，不予受理",
    "承办单位不具备相应的安全保障能力，不予受理",
];
const STEP_RETURN: &[&str] = &[
    "安全工作方案中应急预案可操作性不强，请修改完善后重新提交",
    "场地核定容量与预计人数不匹配，请调整票务方案",
    "安检及验票通道设置不足，请补充设计",
    "停车及交通疏导方案不完善，请补充",
    "风险评估报告未覆盖极端天气等风险，请补充评估",
];
const STEP_DENY: &[&str] = &[
    "经现场踏勘，活动场所存在重大安全隐患且无法在活动举办前整改完毕，不予许可",
    "预计人数明显超过场所核定容量，且无可行的分流措施，不予许可",
    "活动举办期间同区域已有重大安保任务，警力无法保障，不予许可",
];
const STEP0_PASS: &[&str] = &["同意", "拟同意，报分管局长审批", "同意，请严格落实安全工作方案"];
const STEP1_PASS: &[&str] = &["同意", "同意许可", "同意，请属地派出所加强现场安保"];

/// Rectification items and the organizer's feedback.
const RECTIFICATIONS: &[(&str, &str)] = &[
    ("消防通道堵塞", "已清理消防通道内堆放物品，并安排专人值守保持畅通"),
    ("应急照明不足", "已增设应急照明灯具并完成测试"),
    ("疏散指示标志缺失", "已补设疏散指示标志并复查"),
    ("安全出口数量不足", "已增开临时安全出口两处并安排引导人员"),
    ("临时搭建舞台未提供结构安全检测报告", "已委托第三方机构完成检测，报告已上传"),
    ("灭火器配置数量不足", "已按规范补充配置灭火器"),
    ("安检通道设置不足", "已增设安检通道并增加安检人员"),
    ("现场监控存在盲区", "已加装临时监控设备，覆盖全部区域"),
    ("医疗救护点设置不明确", "已与医院签订保障协议，设置医疗救护点两处"),
    ("临时用电线路敷设不规范", "已重新敷设临时用电线路并由电工复检"),
    ("观众区护栏高度不足", "已更换为符合标准的护栏"),
    ("停车场交通疏导方案不完善", "已完善交通疏导方案并增派交通引导员"),
    ("安保人员数量不足", "已增加持证保安员"),
    ("应急广播系统未调试", "已完成应急广播系统调试"),
];

fn person(rng: &mut Rng) -> String {
    let mut name = String::from(SURNAMES[rng.skewed(SURNAMES.len(), 1.6)]);
    if rng.chance(0.35) {
        name.push_str(rng.pick_str(GIVEN));
    } else {
        name.push_str(rng.pick_str(GIVEN_FIRST));
        name.push_str(rng.pick_str(GIVEN));
    }
    name
}

fn mobile(rng: &mut Rng) -> String {
    let second = [3, 5, 7, 8, 9][rng.weighted(&[35u32, 25, 8, 25, 7], |w| *w)];
    format!("1{second}{}{:08}", rng.below(10), rng.below(100_000_000))
}

/// The characters of 统一社会信用代码 (GB 32100), each worth its index.
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// The check character of an organization code body (GB 11714).
fn org_code_check(body: &[u8; 8]) -> u8 {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let value = |b: u8| if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(&b, w)| value(b) * w).sum();
    match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        c => b'0' + u8::try_from(c).unwrap_or(0),
    }
}

/// A new valid credit code of a company (91) registered in `county`, not in `taken`.
fn credit_code(rng: &mut Rng, county: Adcode, taken: &mut HashSet<String>) -> String {
    loop {
        let mut body = [0u8; 8];
        for b in &mut body {
            *b = CREDIT_CHARSET[rng.below(CREDIT_CHARSET.len())];
        }
        let mut code = format!("91{:06}", county.get());
        code.extend(body.iter().map(|&b| char::from(b)));
        code.push(char::from(org_code_check(&body)));
        let sum: u32 = code
            .bytes()
            .zip(CREDIT_WEIGHTS)
            .map(|(b, w)| CREDIT_CHARSET.iter().position(|&c| c == b).map_or(0, |i| i as u32) * w)
            .sum();
        let check = usize::try_from((31 - sum % 31) % 31).unwrap_or(0);
        code.push(char::from(CREDIT_CHARSET[check]));
        if taken.insert(code.clone()) {
            return code;
        }
    }
}

/// 西湖区 → 西湖, 景宁畲族自治县 → 景宁, 杭州市 → 杭州.
fn short_name(name: &str) -> String {
    if let Some(s) = name.strip_suffix("畲族自治县")
        && s.chars().count() >= 2
    {
        return s.to_string();
    }
    let n = name.chars().count();
    if n >= 3 && (name.ends_with('区') || name.ends_with('县') || name.ends_with('市')) {
        name.chars().take(n - 1).collect()
    } else {
        name.to_string()
    }
}

// ---- the world: regions, venues, organizers, agencies, staff ----

/// A county with what the generator needs of it.
struct County<'a> {
    adcode: Adcode,
    name: &'a str,
    short: String,
    city_name: &'a str,
    city_short: String,
    city_index: usize,
    urban: bool,
    shape: Option<&'a RegionShape>,
    /// Indexes into [`World::venues`].
    venues: Vec<usize>,
}

struct Venue {
    id: i64,
    name: String,
    capacity: u32,
    kinds: u8,
}

struct Organizer {
    id: i64,
    name: String,
    contact_name: String,
    contact_mobile: String,
}

/// The police officers of one bureau, named in history.
struct Staff {
    clerks: [String; 2],
    chief: String,
    deputy: String,
}

impl Staff {
    fn new(rng: &mut Rng) -> Self {
        Self { clerks: [person(rng), person(rng)], chief: person(rng), deputy: person(rng) }
    }
}

struct World<'a> {
    seed: u64,
    total: usize,
    regions: &'a RegionTree,
    rules: ScaleRules,
    min_attendance: u32,
    cal: HolidayCalendar,
    today: NaiveDate,
    /// Beijing time.
    now: NaiveDateTime,
    counties: Vec<County<'a>>,
    county_cum: Vec<f64>,
    city_counties: Vec<Vec<usize>>,
    venues: Vec<Venue>,
    organizers: Vec<Organizer>,
    /// Organizer indexes by city index × 6 + kind.
    org_by_city_kind: Vec<Vec<usize>>,
    /// Organizer indexes by kind.
    org_by_kind: Vec<Vec<usize>>,
    agencies: Vec<i64>,
    agency_cum: Vec<f64>,
    staff: HashMap<Adcode, Staff>,
    fallback_staff: Staff,
}

/// A county's share of its city's population: districts of the big three cities most, other districts more than
/// counties and county-level cities; 义乌 is a special case.
fn county_factor(r: &Region, big_city: bool) -> f64 {
    let district = r.name.ends_with('区');
    let base = match (district, big_city) {
        (true, true) => 2.2,
        (true, false) => 1.5,
        _ => 1.0,
    };
    if r.adcode.get() == 330782 { base * 1.6 } else { base }
}

/// The counties of `regions` by city, their cumulative population weights and each city's county indexes.
fn build_counties<'a>(regions: &'a RegionTree, shapes: &'a Shapes) -> (Vec<County<'a>>, Vec<f64>, Vec<Vec<usize>>) {
    let root = regions.root().adcode;
    let mut counties = Vec::new();
    let mut cum = Vec::new();
    let mut by_city = Vec::new();
    let mut total = 0.0;
    for (city_index, city) in regions.children(root).filter(|r| r.level == RegionLevel::City).enumerate() {
        let population = CITY_POPULATION.iter().find(|(c, _)| *c == city.adcode.get()).map_or(300.0, |(_, p)| *p);
        let big = BIG_CITIES.contains(&city.adcode.get());
        let members: Vec<&Region> = regions.children(city.adcode).filter(|r| r.level == RegionLevel::County).collect();
        let sum: f64 = members.iter().map(|r| county_factor(r, big)).sum();
        let mut list = Vec::new();
        for r in members {
            list.push(counties.len());
            total += population * county_factor(r, big) / sum;
            cum.push(total);
            counties.push(County {
                adcode: r.adcode,
                name: &r.name,
                short: short_name(&r.name),
                city_name: &city.name,
                city_short: short_name(&city.name),
                city_index,
                urban: r.name.ends_with('区'),
                shape: shapes.get(r.adcode),
                venues: Vec::new(),
            });
        }
        by_city.push(list);
    }
    (counties, cum, by_city)
}

/// A random point inside the county's outline (rounded to 6 decimals), else its interior point.
fn point_in(shape: &RegionShape, rng: &mut Rng) -> Option<(f64, f64)> {
    let round6 = |v: f64| (v * 1e6).round() / 1e6;
    let (lo, hi) = (shape.bbox.min(), shape.bbox.max());
    for _ in 0..POINT_TRIES {
        let x = round6(lo.x + rng.unit() * (hi.x - lo.x));
        let y = round6(lo.y + rng.unit() * (hi.y - lo.y));
        if shape.geometry.contains(&Point::new(x, y)) {
            return Some((x, y));
        }
    }
    shape.geometry.interior_point().map(|p| (p.x(), p.y()))
}

/// A venue before its id is known.
struct VenueDraft {
    county: usize,
    name: String,
    address: String,
    point: Option<(f64, f64)>,
    capacity: u32,
    kinds: u8,
    created: NaiveDateTime,
}

impl<'a> World<'a> {
    fn new(conn: &Connection, regions: &'a RegionTree, shapes: &'a Shapes, spec: &DemoSpec) -> StoreResult<Self> {
        let rules = scale_rules(conn)?;
        let cal = calendar(conn)?;
        let (counties, county_cum, city_counties) = build_counties(regions, shapes);
        if counties.is_empty() {
            return Err(StoreError::Conflict("地区表中没有县（市、区），无法生成演示数据".into()));
        }
        let staff = regions
            .all()
            .map(|r| (r.adcode, Staff::new(&mut Rng::stream(spec.seed, STREAM_STAFF, u64::from(r.adcode.get())))))
            .collect();
        let cities = city_counties.len();
        Ok(Self {
            seed: spec.seed,
            total: spec.activities,
            regions,
            min_attendance: rules.permit_min.max(1000),
            rules,
            cal,
            today: spec.today,
            now: at_minutes(spec.today, NOW_MINUTES),
            counties,
            county_cum,
            city_counties,
            venues: Vec::new(),
            organizers: Vec::new(),
            org_by_city_kind: vec![Vec::new(); cities * 6],
            org_by_kind: vec![Vec::new(); 6],
            agencies: Vec::new(),
            agency_cum: Vec::new(),
            staff,
            fallback_staff: Staff::new(&mut Rng::stream(spec.seed, STREAM_STAFF, 0)),
        })
    }

    fn pick_county(&self, rng: &mut Rng) -> usize {
        rng.cumulative(&self.county_cum)
    }

    /// 40–80 agencies; those whose name is stored already are reused. Returns the number of new ones.
    fn add_agencies(&mut self, conn: &Connection) -> StoreResult<usize> {
        let mut existing: HashMap<String, i64> = HashMap::new();
        let mut s = conn.prepare("SELECT name, id FROM agencies")?;
        for row in s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (name, id) = row?;
            existing.insert(name, id);
        }
        let mut rng = Rng::stream(self.seed, STREAM_AGENCIES, 0);
        let wanted = 40 + rng.below(41);
        let mut names: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            if names.len() >= wanted {
                break;
            }
            let prefix = if rng.chance(0.6) {
                "浙江".to_string()
            } else {
                let c = self.pick_county(&mut rng);
                self.counties[c].city_short.clone()
            };
            let name = format!("{prefix}{}{}{}", rng.pick(ZIHAO_A), rng.pick(ZIHAO_B), rng.pick(AGENCY_SUFFIXES));
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
        let fresh: Vec<&String> = names.iter().filter(|n| !existing.contains_key(*n)).collect();
        let ids = reserve(conn, "agencies_id", fresh.len())?;
        let mut app = conn.appender("agencies")?;
        for (name, &id) in fresh.iter().zip(&ids) {
            let created = self.now - days(rng.between(800, 2500)) - minutes(rng.between(0, 600));
            app.append_row(params![id, name, utc(created)])?;
            existing.insert((*name).clone(), id);
        }
        app.flush()?;
        self.agencies = names.iter().filter_map(|n| existing.get(n).copied()).collect();
        let mut total = 0.0;
        self.agency_cum = (0..self.agencies.len())
            .map(|rank| {
                total += 1.0 / (rank as f64 + 1.0).powf(1.1);
                total
            })
            .collect();
        Ok(fresh.len())
    }

    /// activities / 20 organizers (50 to 20 000), every industry at least once.
    fn add_organizers(&mut self, conn: &Connection) -> StoreResult<usize> {
        let n = (self.total / 20).clamp(50, 20_000);
        let mut codes: HashSet<String> = HashSet::new();
        let mut s = conn.prepare("SELECT credit_code FROM organizers")?;
        for code in s.query_map([], |r| r.get::<_, String>(0))? {
            codes.insert(code?);
        }
        let ids = reserve(conn, "organizers_id", n)?;
        let mut names = HashSet::new();
        let mut rng = Rng::stream(self.seed, STREAM_ORGANIZERS, 0);
        let mut app = conn.appender("organizers")?;
        for (j, id) in ids.into_iter().enumerate() {
            let ci = self.pick_county(&mut rng);
            let industry = if j < INDUSTRIES.len() { j } else { rng.weighted(INDUSTRIES, |i| i.1) };
            let name = self.organizer_name(&mut rng, ci, industry, &mut names);
            let code = credit_code(&mut rng, self.counties[ci].adcode, &mut codes);
            let (contact_name, contact_mobile) = (person(&mut rng), mobile(&mut rng));
            let created = self.now - days(rng.between(800, 3000)) - minutes(rng.between(0, 600));
            app.append_row(params![id, code, name, contact_name, contact_mobile, utc(created)])?;
            let index = self.organizers.len();
            let city = self.counties[ci].city_index;
            for (k, kind) in ActivityKind::ALL.into_iter().enumerate() {
                if INDUSTRIES[industry].2 & kind_bit(kind) != 0 {
                    self.org_by_city_kind[city * 6 + k].push(index);
                    self.org_by_kind[k].push(index);
                }
            }
            self.organizers.push(Organizer { id, name, contact_name, contact_mobile });
        }
        app.flush()?;
        Ok(n)
    }

    fn organizer_name(&self, rng: &mut Rng, ci: usize, industry: usize, names: &mut HashSet<String>) -> String {
        let c = &self.counties[ci];
        let mut name = String::new();
        for _ in 0..30 {
            let place = if !c.urban && rng.chance(0.5) { &c.short } else { &c.city_short };
            name = format!("{place}{}{}{}", rng.pick(ZIHAO_A), rng.pick(ZIHAO_B), INDUSTRIES[industry].0);
            if names.insert(name.clone()) {
                break;
            }
        }
        name
    }

    /// 3–12 venues per county, more in districts of big cities and in large counties.
    fn add_venues(&mut self, conn: &Connection) -> StoreResult<usize> {
        let drafts: Vec<VenueDraft> = (0..self.counties.len()).flat_map(|ci| self.county_venues(ci)).collect();
        let ids = reserve(conn, "venues_id", drafts.len())?;
        let mut app = conn.appender("venues")?;
        for (d, id) in drafts.into_iter().zip(ids) {
            app.append_row(params![
                id,
                d.name,
                int(self.counties[d.county].adcode.get()),
                d.address,
                d.point.map(|p| p.0),
                d.point.map(|p| p.1),
                int(d.capacity),
                utc(d.created)
            ])?;
            self.counties[d.county].venues.push(self.venues.len());
            self.venues.push(Venue { id, name: d.name, capacity: d.capacity, kinds: d.kinds });
        }
        app.flush()?;
        Ok(self.venues.len())
    }

    fn county_venues(&self, ci: usize) -> Vec<VenueDraft> {
        let c = &self.counties[ci];
        let mut rng = Rng::stream(self.seed, STREAM_VENUES, u64::from(c.adcode.get()));
        let big = BIG_CITIES.contains(&(c.adcode.get() / 100 * 100));
        let area = c.shape.map_or(500.0, |s| s.area_km2);
        let bonus = match (c.urban, big) {
            (true, true) => 3,
            (true, false) => 1,
            _ => 0,
        };
        // Truncation intended: one more venue per 600 km², at most three.
        let n = (3 + (area / 600.0).min(3.0) as usize + bonus + rng.below(3)).min(12);
        let mut others: Vec<(usize, usize)> = VENUE_TYPES
            .iter()
            .enumerate()
            .flat_map(|(t, vt)| (0..vt.names.len()).map(move |v| (t, v)))
            .filter(|p| !FIXED_VENUES.contains(p))
            .collect();
        for i in (1..others.len()).rev() {
            let j = rng.below(i + 1);
            others.swap(i, j);
        }
        FIXED_VENUES
            .iter()
            .chain(others.iter())
            .take(n)
            .map(|&(t, v)| {
                let vt = &VENUE_TYPES[t];
                let capacity = rng.between(vt.capacity.0, vt.capacity.1) / 100 * 100;
                VenueDraft {
                    county: ci,
                    name: format!("{}{}", c.short, vt.names[v]),
                    address: format!("{}{}{}{}号", c.city_name, c.name, rng.pick(ROADS), rng.between(1, 999)),
                    point: c.shape.and_then(|s| point_in(s, &mut rng)),
                    capacity,
                    kinds: vt.kinds,
                    created: self.now - days(rng.between(900, 2500)) - minutes(rng.between(0, 600)),
                }
            })
            .collect()
    }

    fn staff_of(&self, bureau: Adcode) -> &Staff {
        self.staff.get(&bureau).unwrap_or(&self.fallback_staff)
    }
}

// ---- one application ----

/// One history row (times in Beijing time).
struct Hist<'w> {
    at: NaiveDateTime,
    actor: &'w str,
    role: &'static str,
    action: &'static str,
    from: &'static str,
    to: &'static str,
    step: Option<u32>,
    step_name: &'static str,
    opinion: &'static str,
    limit: Option<i32>,
    taken: Option<i32>,
}

struct Assessment {
    agency_id: i64,
    grade: &'static str,
    created: NaiveDateTime,
}

struct RectPlan {
    opinion: &'static str,
    feedback: Option<(&'static str, NaiveDateTime)>,
}

struct SurveyPlan {
    date: NaiveDate,
    created: NaiveDateTime,
    surveyors: String,
    report: String,
    rects: Vec<RectPlan>,
}

/// One generated application with everything attached to it.
struct Act<'w> {
    name: String,
    kind: ActivityKind,
    organizer_id: i64,
    start: NaiveDateTime,
    end: NaiveDateTime,
    sessions: u32,
    attendance: u32,
    contact_name: String,
    contact_mobile: String,
    progress: Progress,
    bureau: Adcode,
    reason: String,
    submitted: NaiveDateTime,
    created: NaiveDateTime,
    status_since: NaiveDateTime,
    accepted: Option<NaiveDateTime>,
    decided: Option<NaiveDateTime>,
    county: Adcode,
    second: Option<Adcode>,
    venue_id: i64,
    assessment: Option<Assessment>,
    history: Vec<Hist<'w>>,
    surveys: Vec<SurveyPlan>,
}

/// A transition to try next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    PassPre,
    ReturnPre,
    SubmitForAcceptance,
    Resubmit,
    Accept,
    NotAccept,
    Step(Decision),
    Withdraw,
    Stop,
}

impl Move {
    fn is_police(self) -> bool {
        matches!(self, Self::PassPre | Self::ReturnPre | Self::Accept | Self::NotAccept | Self::Step(_))
    }
}

/// A status that some applications must end in (so that every status occurs), and the step for 审批中.
#[derive(Debug, Clone, Copy)]
struct Script {
    target: Status,
    step: u32,
}

/// Applications spread evenly over the data end in each status once, when there are at least 100.
fn forced_status(index: usize, total: usize) -> Option<Status> {
    if total < 100 {
        return None;
    }
    let stride = total / Status::ALL.len();
    if index % stride == stride / 2 { Status::ALL.get(index / stride).copied() } else { None }
}

/// The next move towards the script's target.
fn scripted(p: Progress, s: Script) -> Move {
    use Status as S;
    if p.status == s.target && (p.status != S::InApproval || p.step == Some(s.step)) {
        return Move::Stop;
    }
    match p.status {
        S::PendingPreReview if s.target == S::PreReviewReturned => Move::ReturnPre,
        S::PendingPreReview => Move::PassPre,
        S::PreReviewPassed if s.target == S::Withdrawn => Move::Withdraw,
        S::PreReviewPassed => Move::SubmitForAcceptance,
        S::PendingAcceptance if s.target == S::NotAccepted => Move::NotAccept,
        S::PendingAcceptance => Move::Accept,
        S::InApproval => {
            let last = p.step.is_some_and(|k| k + 1 >= p.steps);
            match s.target {
                S::ApprovalReturned if last => Move::Step(Decision::Return),
                S::Denied if last => Move::Step(Decision::Deny),
                _ => Move::Step(Decision::Pass),
            }
        }
        S::PreReviewReturned | S::ApprovalReturned => Move::Resubmit,
        _ => Move::Stop,
    }
}

/// The process of one application as it unfolds.
struct Timeline<'w> {
    progress: Progress,
    submitted: NaiveDateTime,
    created: NaiveDateTime,
    last: NaiveDateTime,
    accepted: Option<NaiveDateTime>,
    decided: Option<NaiveDateTime>,
    history: Vec<Hist<'w>>,
    organizer: &'w str,
    staff: &'w Staff,
    /// Events falling after this are expedited (police) or replaced by a withdrawal (organizer).
    deadline: Option<NaiveDateTime>,
    /// Nothing happens after this ("now").
    horizon: Option<NaiveDateTime>,
    pre_returns: u32,
    approval_returns: u32,
}

impl<'w> Timeline<'w> {
    /// Submitted at the portal at `submitted`, imported (the submit row) at `created`.
    fn new(submitted: NaiveDateTime, created: NaiveDateTime, organizer: &'w str, staff: &'w Staff) -> Self {
        Self {
            progress: Progress::submitted(),
            submitted,
            created,
            last: created,
            accepted: None,
            decided: None,
            history: vec![Hist {
                at: created,
                actor: organizer,
                role: ORGANIZER_ROLE,
                action: "submit",
                from: "",
                to: Status::PendingPreReview.code(),
                step: None,
                step_name: "",
                opinion: "",
                limit: None,
                taken: None,
            }],
            organizer,
            staff,
            deadline: None,
            horizon: None,
            pre_returns: 0,
            approval_returns: 0,
        }
    }
}

/// A random next move.
fn random_move(rng: &mut Rng, tl: &Timeline<'_>) -> Move {
    use Status as S;
    let p = tl.progress;
    let u = rng.unit();
    match p.status {
        S::PendingPreReview => {
            let ret = if tl.pre_returns == 0 { 0.10 } else { 0.04 };
            if u < ret { Move::ReturnPre } else { Move::PassPre }
        }
        S::PreReviewReturned | S::ApprovalReturned if u < 0.78 => Move::Resubmit,
        S::PreReviewReturned | S::ApprovalReturned if u < 0.92 => Move::Withdraw,
        S::PreReviewPassed if u < 0.95 => Move::SubmitForAcceptance,
        S::PreReviewPassed if u < 0.98 => Move::Withdraw,
        S::PendingAcceptance if u < 0.93 => Move::Accept,
        S::PendingAcceptance if u < 0.98 => Move::NotAccept,
        S::PendingAcceptance => Move::Withdraw,
        S::InApproval => {
            let last = p.step.is_none_or(|k| k + 1 >= p.steps);
            let damp = if tl.approval_returns > 0 { 0.3 } else { 1.0 };
            let (ret, deny) = if last { (0.03 * damp, 0.03) } else { (0.05 * damp, 0.01) };
            if u < ret {
                Move::Step(Decision::Return)
            } else if u < ret + deny {
                Move::Step(Decision::Deny)
            } else if u < ret + deny + 0.01 {
                Move::Withdraw
            } else {
                Move::Step(Decision::Pass)
            }
        }
        _ => Move::Stop,
    }
}

/// The workflow action of a move, with its opinion.
fn action_for(mv: Move, opinion: &str) -> Option<Action> {
    Some(match mv {
        Move::PassPre => Action::PassPreReview,
        Move::ReturnPre => Action::ReturnPreReview { opinion: opinion.to_string() },
        Move::SubmitForAcceptance => Action::SubmitForAcceptance,
        Move::Resubmit => Action::Resubmit,
        Move::Accept => Action::Accept { steps: FLOW_STEPS },
        Move::NotAccept => Action::NotAccept { reason: opinion.to_string() },
        Move::Step(Decision::Pass) => Action::Step { decision: Decision::Pass, opinion: String::new() },
        Move::Step(decision) => Action::Step { decision, opinion: opinion.to_string() },
        Move::Withdraw => Action::Withdraw,
        Move::Stop => return None,
    })
}

/// Who acts, as (actor, role name, step, step name, time limit).
type Actor<'w> = (&'w str, &'static str, Option<u32>, &'static str, Option<i32>);

impl World<'_> {
    /// Working days between two Beijing times, as `store::workflow` counts them.
    fn working_days(&self, from: NaiveDateTime, to: NaiveDateTime) -> i32 {
        i32::try_from(self.cal.working_days_between(from.date(), to.date())).unwrap_or(0)
    }

    /// A police action `wd` working days after `prev`, in office hours.
    fn police_at(&self, rng: &mut Rng, prev: NaiveDateTime, wd: usize) -> NaiveDateTime {
        let mut day = self.cal.add_working_days(prev.date(), u32::try_from(wd).unwrap_or(0));
        if !self.cal.is_working_day(day) {
            day = self.cal.add_working_days(day, 1);
        }
        let at = at_minutes(day, 8 * 60 + 30 + i64::from(rng.between(0, 9 * 60)));
        if at <= prev { prev + minutes(rng.between(15, 180)) } else { at }
    }

    /// An organizer event `d` calendar days after `prev`, between 08:00 and 22:00.
    fn organizer_at(rng: &mut Rng, prev: NaiveDateTime, d: u32) -> NaiveDateTime {
        let at = at_minutes(prev.date() + days(d), 8 * 60 + i64::from(rng.between(0, 14 * 60)));
        if at <= prev { prev + minutes(rng.between(30, 300)) } else { at }
    }

    fn move_time(&self, rng: &mut Rng, p: Progress, prev: NaiveDateTime, mv: Move) -> NaiveDateTime {
        match mv {
            Move::PassPre | Move::ReturnPre => {
                let wd = rng.weighted(&PRE_REVIEW_DAYS, |w| *w);
                self.police_at(rng, prev, wd)
            }
            Move::Accept | Move::NotAccept => {
                let wd = rng.weighted(&ACCEPTANCE_TAKEN, |w| *w);
                self.police_at(rng, prev, wd)
            }
            Move::Step(_) if p.step == Some(0) => {
                let wd = rng.weighted(&STEP0_DAYS, |w| *w);
                self.police_at(rng, prev, wd)
            }
            Move::Step(_) => {
                let wd = rng.weighted(&STEP1_DAYS, |w| *w);
                self.police_at(rng, prev, wd)
            }
            Move::SubmitForAcceptance => {
                let d = 1 + u32::try_from(rng.skewed(10, 1.5)).unwrap_or(0);
                Self::organizer_at(rng, prev, d)
            }
            Move::Resubmit => {
                let d = rng.between(1, 7);
                Self::organizer_at(rng, prev, d)
            }
            Move::Withdraw | Move::Stop => {
                let d = rng.between(1, 10);
                Self::organizer_at(rng, prev, d)
            }
        }
    }

    fn opinion(rng: &mut Rng, mv: Move, p: Progress) -> &'static str {
        match mv {
            Move::ReturnPre => rng.pick_str(RETURN_PRE_REVIEW),
            Move::NotAccept => rng.pick_str(NOT_ACCEPT),
            Move::Step(Decision::Return) => rng.pick_str(STEP_RETURN),
            Move::Step(Decision::Deny) => rng.pick_str(STEP_DENY),
            Move::Step(Decision::Pass) if p.step == Some(0) => rng.pick_str(STEP0_PASS),
            Move::Step(Decision::Pass) => rng.pick_str(STEP1_PASS),
            _ => "",
        }
    }

    fn actor<'w>(rng: &mut Rng, tl: &Timeline<'w>, mv: Move) -> Actor<'w> {
        let acceptance = i32::try_from(ACCEPTANCE_DAYS).unwrap_or(5);
        let staff = tl.staff;
        let clerk = staff.clerks[rng.below(2)].as_str();
        match mv {
            Move::PassPre | Move::ReturnPre => (clerk, "科员", None, "", None),
            Move::Accept | Move::NotAccept => (clerk, "科员", None, "", Some(acceptance)),
            Move::Step(_) => match tl.progress.step {
                Some(0) => (staff.chief.as_str(), "科长", Some(0), "科长审核", Some(2)),
                step => (staff.deputy.as_str(), "分管局长", step, "分管局长审批", Some(3)),
            },
            _ => (tl.organizer, ORGANIZER_ROLE, None, "", None),
        }
    }

    /// Performs `mv` on the timeline; false when nothing more happens.
    fn perform(&self, rng: &mut Rng, tl: &mut Timeline<'_>, mut mv: Move) -> bool {
        let prev = tl.last;
        let mut at = self.move_time(rng, tl.progress, prev, mv);
        if let Some(deadline) = tl.deadline
            && at > deadline
        {
            if mv.is_police() {
                at = prev + minutes(rng.between(60, 180));
            } else if mv == Move::Withdraw || rng.chance(0.5) {
                mv = Move::Withdraw;
                at = prev + minutes(rng.between(60, 600));
            } else {
                return false;
            }
        }
        if tl.horizon.is_some_and(|h| at > h) {
            return false;
        }
        let opinion = Self::opinion(rng, mv, tl.progress);
        let Some(action) = action_for(mv, opinion) else { return false };
        let Ok(next) = apply(tl.progress, &action) else { return false };
        let (actor, role, step, step_name, limit) = Self::actor(rng, tl, mv);
        tl.history.push(Hist {
            at,
            actor,
            role,
            action: action.code(),
            from: tl.progress.status.code(),
            to: next.status.code(),
            step,
            step_name,
            opinion,
            limit,
            taken: mv.is_police().then(|| self.working_days(prev, at)),
        });
        match mv {
            Move::ReturnPre => tl.pre_returns += 1,
            Move::Step(Decision::Return) => tl.approval_returns += 1,
            Move::Accept => tl.accepted = Some(at),
            _ => {}
        }
        if next.status.is_final() {
            tl.decided = Some(at);
        }
        tl.progress = next;
        tl.last = at;
        true
    }

    fn run(&self, rng: &mut Rng, tl: &mut Timeline<'_>, script: Option<Script>) {
        for _ in 0..MAX_TRANSITIONS {
            if tl.progress.status.is_final() {
                break;
            }
            let mv = match script {
                Some(s) => scripted(tl.progress, s),
                None => random_move(rng, tl),
            };
            if mv == Move::Stop || !self.perform(rng, tl, mv) {
                break;
            }
        }
    }

    /// Moves the whole timeline by `by` (whole weeks, so weekdays stay) and recounts the working days taken.
    fn shift(&self, tl: &mut Timeline<'_>, by: TimeDelta) {
        tl.submitted += by;
        tl.created += by;
        tl.last += by;
        tl.accepted = tl.accepted.map(|t| t + by);
        tl.decided = tl.decided.map(|t| t + by);
        let mut prev: Option<NaiveDateTime> = None;
        for h in &mut tl.history {
            h.at += by;
            if let (Some(p), Some(_)) = (prev, h.taken) {
                h.taken = Some(self.working_days(p, h.at));
            }
            prev = Some(h.at);
        }
    }

    /// A start date with the kind's seasons and weekdays, and a submission 20–60 days before it, not after now.
    fn regular_dates(&self, rng: &mut Rng, kind: ActivityKind) -> (NaiveDate, NaiveDateTime) {
        let k = kind as usize;
        let latest = self.now - TimeDelta::hours(2);
        for _ in 0..10_000 {
            let offset = i64::from(rng.between(0, PAST_DAYS + FUTURE_DAYS)) - i64::from(PAST_DAYS);
            let date = self.today + TimeDelta::days(offset);
            let weight = SEASONS[k][date.month0() as usize] * weekday_factor(kind, date.weekday());
            if rng.unit() * MAX_DAY_WEIGHT > weight {
                continue;
            }
            let lead = 20 + whole(40.0 * rng.unit().min(rng.unit()));
            let submitted = at_minutes(date - days(lead), 8 * 60 + i64::from(rng.between(0, 14 * 60)));
            if submitted <= latest {
                return (date, submitted);
            }
        }
        let date = self.today - TimeDelta::days(30);
        (date, at_minutes(date - TimeDelta::days(30), 10 * 60))
    }

    fn regular_timeline<'w>(
        &self,
        rng: &mut Rng,
        kind: ActivityKind,
        organizer: &'w str,
        staff: &'w Staff,
    ) -> (NaiveDate, Timeline<'w>) {
        let (date, submitted) = self.regular_dates(rng, kind);
        let created = (submitted + minutes(rng.between(10, 600))).min(self.now);
        let mut tl = Timeline::new(submitted, created, organizer, staff);
        tl.deadline = Some(at_minutes(date, 0) - TimeDelta::hours(12));
        tl.horizon = Some(self.now);
        self.run(rng, &mut tl, None);
        (date, tl)
    }

    /// A timeline that ends in `target`: final ones months ago, the others during the last week.
    fn forced_timeline<'w>(
        &self,
        rng: &mut Rng,
        target: Status,
        organizer: &'w str,
        staff: &'w Staff,
    ) -> (NaiveDate, Timeline<'w>) {
        let back = if target.is_final() { rng.between(150, 400) } else { 40 };
        let submitted = at_minutes(self.today - days(back), 8 * 60 + i64::from(rng.between(0, 14 * 60)));
        let created = submitted + minutes(rng.between(10, 600));
        let mut tl = Timeline::new(submitted, created, organizer, staff);
        let step = u32::from(rng.chance(0.5));
        self.run(rng, &mut tl, Some(Script { target, step }));
        let week = 7 * 24 * 60;
        let gap = (self.now - tl.last).num_minutes();
        if !target.is_final() || gap < 0 {
            self.shift(&mut tl, TimeDelta::minutes(gap.div_euclid(week) * week));
        }
        let lead = rng.between(20, 60);
        let mut date = (tl.submitted.date() + days(lead)).max(tl.last.date() + days(3));
        if !target.is_final() {
            date = date.max(self.today + days(3)).min(self.today + days(FUTURE_DAYS));
        }
        (date, tl)
    }
}

/// How much more likely an event of `kind` is on `day` of the week.
fn weekday_factor(kind: ActivityKind, day: Weekday) -> f64 {
    use ActivityKind as K;
    match (kind, day) {
        (K::Exhibition, Weekday::Fri | Weekday::Sat | Weekday::Sun) => 1.3,
        (K::Exhibition, _) => 0.9,
        (K::JobFair, Weekday::Sat) => 1.6,
        (K::JobFair, Weekday::Sun) => 0.6,
        (K::JobFair, _) => 1.0,
        (_, Weekday::Sat) => 2.0,
        (_, Weekday::Sun) => 1.8,
        (_, Weekday::Fri) => 1.3,
        _ => 0.7,
    }
}

/// Start and end of the event: its usual hours, the sessions on consecutive days.
fn event_times(rng: &mut Rng, kind: ActivityKind, date: NaiveDate, sessions: u32) -> (NaiveDateTime, NaiveDateTime) {
    use ActivityKind as K;
    let (start, hours): (i64, i64) = match kind {
        K::Performance => (19 * 60 + 30, 3),
        K::Sports => *rng.pick(&[(7 * 60 + 30, 5), (14 * 60, 3), (19 * 60, 3)]),
        K::Exhibition => (9 * 60, 8),
        K::Festival => *rng.pick(&[(18 * 60, 4), (9 * 60, 8)]),
        K::JobFair => (9 * 60, 7),
        K::Lottery => *rng.pick(&[(10 * 60, 2), (19 * 60, 2)]),
    };
    let start = at_minutes(date, start);
    let end = start + days(sessions.saturating_sub(1)) + TimeDelta::hours(hours);
    (start, end)
}

/// Expected attendance before the venue caps it: log-normal around the kind's median, 1 000 to 80 000.
fn wanted_attendance(rng: &mut Rng, kind: ActivityKind) -> u32 {
    let x = MEDIAN_ATTENDANCE[kind as usize] * (0.9 * rng.normal()).exp();
    whole(x.clamp(1000.0, 80_000.0))
}

/// Rounded down as organizers estimate: to 100 below 5 000, to 500 below 20 000, else to 1 000.
fn round_people(a: u32) -> u32 {
    let step = match a {
        0..5000 => 100,
        5000..20_000 => 500,
        _ => 1000,
    };
    a / step * step
}

fn season(month: u32) -> &'static str {
    match month {
        3..=5 => "春季",
        6..=8 => "夏季",
        9..=11 => "秋季",
        _ => "冬季",
    }
}

/// Place + theme + kind word, e.g. 西湖区2026春季人才招聘会.
fn activity_name(rng: &mut Rng, kind: ActivityKind, place: &str, city: &str, date: NaiveDate, big: bool) -> String {
    use ActivityKind as K;
    let (y, m) = (date.year(), date.month());
    let theme = rng.pick(THEMES);
    let n = rng.between(2, 15);
    match (kind, rng.below(6)) {
        (K::Performance, 0) => format!("“{theme}”{y}巡回演唱会{city}站"),
        (K::Performance, 1) if m == 12 || m == 1 => format!("{place}{y}新年音乐会"),
        (K::Performance, 1) => format!("{place}{y}{}音乐会", season(m)),
        (K::Performance, 2) => format!("{place}“{theme}”大型文艺晚会"),
        (K::Performance, 3) => format!("{y}{city}{}音乐节", rng.pick(MUSIC_FESTIVALS)),
        (K::Performance, 4) => format!("{place}越剧经典剧目展演"),
        (K::Performance, _) => format!("“{theme}”交响音乐会（{place}专场）"),
        (K::Sports, 0) if big => format!("{y}{city}马拉松"),
        (K::Sports, 0) => format!("{y}{place}半程马拉松"),
        (K::Sports, 1) => format!("{y}浙江省{}联赛（{place}赛区）", rng.pick(SPORT_NAMES)),
        (K::Sports, 2) => format!("{place}第{n}届全民运动会"),
        (K::Sports, 3 | 4) => format!("{y}{place}{}邀请赛", rng.pick(SPORT_NAMES)),
        (K::Sports, _) => format!("{y}{city}{}公开赛", rng.pick(SPORT_NAMES)),
        (K::Exhibition, 0) => format!("{y}{city}国际车展"),
        (K::Exhibition, 1) => format!("{place}{y}{}房产展销会", season(m)),
        (K::Exhibition, 2 | 3) => format!("{y}{city}{}博览会", rng.pick(EXPO_TOPICS)),
        (K::Exhibition, _) => format!("第{n}届{city}{}展览会", rng.pick(EXPO_TOPICS)),
        (K::Festival, i) if m <= 2 => {
            format!("{place}{y}{}", ["元宵灯会", "春节庙会", "新春游园会"][i % 3])
        }
        (K::Festival, i) if m == 10 => format!("{place}{y}{}", ["国庆焰火晚会", "金秋游园会"][i % 2]),
        (K::Festival, 0 | 1) => {
            let flowers = FLOWERS[((m + 9) % 12 / 3) as usize];
            format!("{place}{y}{}节", rng.pick(flowers))
        }
        (K::Festival, i) => format!("{place}{y}{}", ["美食嘉年华", "啤酒音乐节", "夜市文化节", "美食嘉年华"][i - 2]),
        (K::JobFair, 0) if (2..=3).contains(&m) => format!("{place}{y}“春风行动”专场招聘会"),
        (K::JobFair, 1) => {
            let class = if m <= 6 { y } else { y + 1 };
            format!("{city}{class}届高校毕业生双选会")
        }
        (K::JobFair, 2) => format!("{place}退役军人专场招聘会"),
        (K::JobFair, 3) => format!("{place}{y}民营企业招聘周"),
        (K::JobFair, _) => format!("{place}{y}{}人才招聘会", if m <= 6 { "春季" } else { "秋季" }),
        (K::Lottery, 0 | 1) => format!("{city}{y}体育彩票大型现场开奖活动"),
        (K::Lottery, 2 | 3) => format!("{place}福利彩票“{theme}”主题即开票销售活动"),
        (K::Lottery, _) => format!("{city}体彩{y}年度公益嘉年华"),
    }
}

fn survey_report(rng: &mut Rng, venue: &Venue, problems: usize) -> String {
    let v = &venue.name;
    if problems == 0 {
        format!(
            "对{v}进行现场踏勘：场地核定容量{}人，出入口、疏散通道及消防设施设置符合要求，未发现明显安全隐患。",
            venue.capacity
        )
    } else if rng.chance(0.5) {
        format!("对{v}进行现场踏勘，发现安全隐患{problems}处，已当场提出整改意见，要求活动举办前整改完毕并反馈。")
    } else {
        format!(
            "会同消防救援、属地派出所对{v}开展联合踏勘，重点检查舞台搭建、临时用电和疏散通道，发现问题{problems}处，已下达整改意见。"
        )
    }
}

impl World<'_> {
    /// The other county of a two-county activity: another county of the same city.
    fn neighbour(&self, rng: &mut Rng, ci: usize) -> Option<usize> {
        let list = &self.city_counties[self.counties[ci].city_index];
        if list.len() < 2 {
            return None;
        }
        let j = list[rng.below(list.len() - 1)];
        Some(if j == ci { list[list.len() - 1] } else { j })
    }

    /// A venue of the county for `kind`, often the largest when the crowd is bigger than a random one.
    fn pick_venue(&self, rng: &mut Rng, county: &County<'_>, kind: ActivityKind, want: u32) -> &Venue {
        let bit = kind_bit(kind);
        let mut options: Vec<&Venue> =
            county.venues.iter().map(|&v| &self.venues[v]).filter(|v| v.kinds & bit != 0).collect();
        if options.is_empty() {
            // Never with the fixed first venues of every county, which host every kind.
            options = county.venues.iter().map(|&v| &self.venues[v]).collect();
        }
        let Some(&chosen) = options.get(rng.below(options.len())) else { return &self.venues[0] };
        if chosen.capacity < want && rng.chance(0.6) {
            options.into_iter().max_by_key(|v| v.capacity).unwrap_or(chosen)
        } else {
            chosen
        }
    }

    fn pick_organizer(&self, rng: &mut Rng, city: usize, kind: ActivityKind) -> &Organizer {
        let k = kind as usize;
        let local = &self.org_by_city_kind[city * 6 + k];
        let list = if !local.is_empty() && rng.chance(0.85) { local } else { &self.org_by_kind[k] };
        if list.is_empty() {
            return &self.organizers[rng.below(self.organizers.len())];
        }
        &self.organizers[list[rng.skewed(list.len(), 2.0)]]
    }

    /// The approving bureau and why, as the import routes it.
    fn routing(&self, first: Adcode, second: Option<Adcode>, attendance: u32) -> (Adcode, String, bool) {
        let places: Vec<Adcode> = std::iter::once(first).chain(second).collect();
        match route(&self.rules, self.regions, &places, attendance) {
            Ok(r) => (r.bureau, r.reason, r.level != RegionLevel::County),
            Err(e) => (first, e.to_string(), false),
        }
    }

    fn assessment(
        &self,
        rng: &mut Rng,
        kind: ActivityKind,
        attendance: u32,
        submitted: NaiveDateTime,
    ) -> Option<Assessment> {
        use ActivityKind as K;
        if (attendance < 5000 && !matches!(kind, K::Performance | K::Sports | K::Festival)) || self.agencies.is_empty()
        {
            return None;
        }
        let agency_id = self.agencies[rng.cumulative(&self.agency_cum)];
        let high = if attendance >= 20_000 { 0.08 } else { 0.02 };
        let mid = if attendance >= 10_000 { 0.30 } else { 0.15 };
        let u = rng.unit();
        let grade = if u < high {
            "高"
        } else if u < high + mid {
            "中"
        } else {
            "低"
        };
        let created = submitted - days(rng.between(2, 15)) - minutes(rng.between(0, 480));
        Some(Assessment { agency_id, grade, created })
    }

    fn rectifications(&self, rng: &mut Rng, created: NaiveDateTime) -> Vec<RectPlan> {
        let n = rng.weighted(&RECT_COUNTS, |w| *w);
        let mut used = [false; RECTIFICATIONS.len()];
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let i = rng.below(RECTIFICATIONS.len());
            if used[i] {
                continue;
            }
            used[i] = true;
            let (opinion, answer) = RECTIFICATIONS[i];
            let feedback = if rng.chance(0.7) {
                let at = created + days(rng.between(1, 5)) + minutes(rng.between(0, 600));
                (at <= self.now).then_some((answer, at))
            } else {
                None
            };
            out.push(RectPlan { opinion, feedback });
        }
        out
    }

    /// One survey (sometimes two) between the acceptance and the event, not after today.
    fn surveys(&self, rng: &mut Rng, accepted: NaiveDateTime, start: NaiveDateTime, venue: &Venue) -> Vec<SurveyPlan> {
        let last = start.date().min(self.today);
        let mut from = accepted.date();
        let count = if rng.chance(0.15) { 2 } else { 1 };
        let mut out = Vec::new();
        for _ in 0..count {
            let left = (last - from).num_days();
            if left < 0 {
                break;
            }
            let date = from + TimeDelta::days(rng.days_up_to(left));
            let created =
                at_minutes(date, 15 * 60 + i64::from(rng.between(0, 240))).max(accepted + minutes(10)).min(self.now);
            let rects = self.rectifications(rng, created);
            let report = survey_report(rng, venue, rects.len());
            let surveyors = format!("{}、{}", person(rng), person(rng));
            out.push(SurveyPlan { date, created, surveyors, report, rects });
            from = date + TimeDelta::days(1);
        }
        out
    }

    /// The application of `index`, from its own random stream.
    fn activity(&self, index: usize) -> Act<'_> {
        let rng = &mut Rng::stream(self.seed, STREAM_ACTIVITY, u64::try_from(index).unwrap_or(u64::MAX));
        let kind = ActivityKind::ALL[rng.weighted(&KIND_WEIGHTS, |w| *w)];
        let ci = self.pick_county(rng);
        let county = &self.counties[ci];
        let second = if rng.chance(TWO_COUNTY_SHARE) { self.neighbour(rng, ci) } else { None };
        let want = wanted_attendance(rng, kind);
        let venue = self.pick_venue(rng, county, kind, want);
        let attendance = round_people(want.min(venue.capacity)).max(self.min_attendance);
        let sessions = 1 + u32::try_from(rng.weighted(&SESSIONS[kind as usize], |w| *w)).unwrap_or(0);
        let organizer = self.pick_organizer(rng, county.city_index, kind);
        let (contact_name, contact_mobile) = if rng.chance(0.6) {
            (organizer.contact_name.clone(), organizer.contact_mobile.clone())
        } else {
            (person(rng), mobile(rng))
        };
        let second = second.map(|s| self.counties[s].adcode);
        let (bureau, reason, above_county) = self.routing(county.adcode, second, attendance);
        let staff = self.staff_of(bureau);
        let (date, tl) = match forced_status(index, self.total) {
            Some(target) => self.forced_timeline(rng, target, &organizer.name, staff),
            None => self.regular_timeline(rng, kind, &organizer.name, staff),
        };
        let (start, end) = event_times(rng, kind, date, sessions);
        let place = if (above_county && rng.chance(0.6)) || second.is_some() {
            county.city_short.as_str()
        } else if rng.chance(0.7) {
            county.name
        } else {
            county.short.as_str()
        };
        let name = activity_name(rng, kind, place, &county.city_short, date, attendance >= 10_000);
        let assessment = self.assessment(rng, kind, attendance, tl.submitted);
        let surveys = match tl.accepted {
            // Surveys belong to the review: between acceptance and the decision (or the event, if earlier).
            Some(acc) if rng.chance(SURVEY_SHARE) => {
                self.surveys(rng, acc, tl.decided.map_or(start, |d| d.min(start)), venue)
            }
            _ => Vec::new(),
        };
        Act {
            name,
            kind,
            organizer_id: organizer.id,
            start,
            end,
            sessions,
            attendance,
            contact_name,
            contact_mobile,
            progress: tl.progress,
            bureau,
            reason,
            submitted: tl.submitted,
            created: tl.created,
            status_since: tl.last,
            accepted: tl.accepted,
            decided: tl.decided,
            county: county.adcode,
            second,
            venue_id: venue.id,
            assessment,
            history: tl.history,
            surveys,
        }
    }
}

// ---- writing ----

/// A TIMESTAMP value of a time stored as it is (event times, Beijing local).
fn stamp(t: NaiveDateTime) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, t.and_utc().timestamp_micros())
}

/// A TIMESTAMP value of a Beijing process time, stored in UTC.
fn utc(t: NaiveDateTime) -> Value {
    stamp(t - TimeDelta::hours(8))
}

/// A DATE value.
fn date_value(d: NaiveDate) -> Value {
    // 719 163 days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    Value::Date32(d.num_days_from_ce() - 719_163)
}

/// Reserves `n` ids of `sequence` (a fixed name of this module), in increasing order.
fn reserve(conn: &Connection, sequence: &str, n: usize) -> StoreResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT nextval('{sequence}') AS id FROM range({n}) ORDER BY id");
    let mut s = conn.prepare(&sql)?;
    let ids = s.query_map([], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<i64>, _>>()?;
    if ids.len() != n {
        return Err(StoreError::Conflict(format!("无法从序列 {sequence} 取得 {n} 个编号")));
    }
    Ok(ids)
}

/// Hands out reserved ids.
struct Ids(std::vec::IntoIter<i64>);

impl Ids {
    fn take(&mut self) -> StoreResult<i64> {
        self.0.next().ok_or_else(|| StoreError::Conflict("演示数据编号不足".into()))
    }
}

fn write_batch(
    conn: &Connection,
    seed: u64,
    first: usize,
    batch: &[Act<'_>],
    report: &mut DemoReport,
) -> StoreResult<()> {
    let history: usize = batch.iter().map(|a| a.history.len()).sum();
    let surveys: usize = batch.iter().map(|a| a.surveys.len()).sum();
    let rects: usize = batch.iter().flat_map(|a| &a.surveys).map(|s| s.rects.len()).sum();
    let assessments = batch.iter().filter(|a| a.assessment.is_some()).count();
    let act_ids = reserve(conn, "activities_id", batch.len())?;
    let history_ids = reserve(conn, "approval_history_id", history)?;
    let survey_ids = reserve(conn, "surveys_id", surveys)?;
    let rect_ids = reserve(conn, "rectifications_id", rects)?;
    let assessment_ids = reserve(conn, "assessments_id", assessments)?;
    write_activities(conn, seed, first, batch, &act_ids)?;
    write_history(conn, batch, &act_ids, Ids(history_ids.into_iter()))?;
    write_assessments(conn, batch, &act_ids, Ids(assessment_ids.into_iter()))?;
    write_surveys(conn, batch, &act_ids, Ids(survey_ids.into_iter()), Ids(rect_ids.into_iter()))?;
    report.activities += batch.len();
    report.history += history;
    report.surveys += surveys;
    report.rectifications += rects;
    Ok(())
}

fn write_activities(conn: &Connection, seed: u64, first: usize, batch: &[Act<'_>], ids: &[i64]) -> StoreResult<()> {
    let mut acts = conn.appender("activities")?;
    let mut counties = conn.appender("activity_regions")?;
    let mut venues = conn.appender("activity_venues")?;
    // Where each activity is held at every level, derived as store::places derives it from the rows above.
    let paths = places::Paths::load(conn)?;
    let mut held = Vec::new();
    for ((a, &id), index) in batch.iter().zip(ids).zip(first..) {
        let portal_ref = format!("DEMO-{seed}-{index:07}");
        let revision = a.history.len().saturating_sub(1);
        acts.append_row(params![
            id,
            portal_ref,
            a.name,
            a.kind.code(),
            a.organizer_id,
            stamp(a.start),
            stamp(a.end),
            int(a.sessions),
            int(a.attendance),
            a.contact_name,
            a.contact_mobile,
            a.progress.status.code(),
            a.progress.step.map(int),
            int(a.progress.steps),
            Option::<i64>::None,
            int(a.bureau.get()),
            a.reason,
            utc(a.submitted),
            utc(a.status_since),
            a.accepted.map(utc),
            a.decided.map(utc),
            i32::try_from(revision).unwrap_or(i32::MAX),
            utc(a.created)
        ])?;
        counties.append_row(params![id, int(a.county.get())])?;
        if let Some(s) = a.second {
            counties.append_row(params![id, int(s.get())])?;
        }
        venues.append_row(params![id, a.venue_id])?;
        let held_in: Vec<i32> = std::iter::once(a.county).chain(a.second).map(|c| int(c.get())).collect();
        let activity = places::Activity {
            day: a.start.date(),
            kind: a.kind.code().to_string(),
            status: a.progress.status.code().to_string(),
            audience: i64::from(a.attendance) * i64::from(a.sessions),
        };
        places::derive(&paths, id, &activity, &held_in, &mut held);
    }
    acts.flush()?;
    counties.flush()?;
    venues.flush()?;
    places::insert(conn, &held)?;
    Ok(())
}

fn write_history(conn: &Connection, batch: &[Act<'_>], act_ids: &[i64], mut ids: Ids) -> StoreResult<()> {
    let mut app = conn.appender("approval_history")?;
    for (a, &act_id) in batch.iter().zip(act_ids) {
        for h in &a.history {
            app.append_row(params![
                ids.take()?,
                act_id,
                utc(h.at),
                Option::<i64>::None,
                h.actor,
                h.role,
                h.action,
                h.from,
                h.to,
                h.step.map(int),
                h.step_name,
                h.opinion,
                h.limit,
                h.taken
            ])?;
        }
    }
    app.flush()?;
    Ok(())
}

fn write_assessments(conn: &Connection, batch: &[Act<'_>], act_ids: &[i64], mut ids: Ids) -> StoreResult<()> {
    let mut app = conn.appender("assessments")?;
    let mut pairs = conn.appender("activity_agencies")?;
    for (a, &act_id) in batch.iter().zip(act_ids) {
        if let Some(s) = &a.assessment {
            app.append_row(params![ids.take()?, act_id, s.agency_id, s.grade, Option::<i64>::None, utc(s.created)])?;
            pairs.append_row(params![act_id, s.agency_id])?;
        }
    }
    app.flush()?;
    pairs.flush()?;
    Ok(())
}

fn write_surveys(
    conn: &Connection,
    batch: &[Act<'_>],
    act_ids: &[i64],
    mut survey_ids: Ids,
    mut rect_ids: Ids,
) -> StoreResult<()> {
    let mut surveys = conn.appender("surveys")?;
    let mut rects = conn.appender("rectifications")?;
    for (a, &act_id) in batch.iter().zip(act_ids) {
        for s in &a.surveys {
            let survey_id = survey_ids.take()?;
            surveys.append_row(params![
                survey_id,
                act_id,
                date_value(s.date),
                s.surveyors,
                s.report,
                Option::<i64>::None,
                0i64,
                utc(s.created)
            ])?;
            for r in &s.rects {
                rects.append_row(params![
                    rect_ids.take()?,
                    survey_id,
                    act_id,
                    r.opinion,
                    r.feedback.map(|f| f.0),
                    r.feedback.map(|f| utc(f.1)),
                    utc(s.created)
                ])?;
            }
        }
    }
    surveys.flush()?;
    rects.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::CreditCode;
    use crate::store::Store;

    const TODAY: (i32, u32, u32) = (2026, 3, 20);

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap()
    }

    fn fresh() -> (Store, RegionTree) {
        let regions = crate::setup::load_regions(None).unwrap();
        let store = Store::open(None, &regions).unwrap();
        (store, regions)
    }

    fn run(store: &Store, regions: &RegionTree, seed: u64, activities: usize) -> StoreResult<DemoReport> {
        let regions = regions.clone();
        let spec = DemoSpec { activities, seed, today: today() };
        store.write_blocking(move |tx| generate(tx, &regions, Shapes::builtin(), &spec))
    }

    fn count(store: &Store, sql: &'static str) -> i64 {
        store.write_blocking(move |tx| Ok(tx.query_row(sql, [], |r| r.get::<_, i64>(0))?)).unwrap()
    }

    fn strings(store: &Store, sql: &'static str) -> Vec<String> {
        store
            .write_blocking(move |tx| {
                let mut s = tx.prepare(sql)?;
                let rows = s.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .unwrap()
    }

    /// Everything that must come out the same for the same seed.
    fn fingerprint(store: &Store) -> Vec<String> {
        let mut out = strings(
            store,
            "SELECT concat_ws('|', portal_ref, name, kind, status, attendance, sessions, bureau, start_at, end_at,
                 coalesce(step, -1), steps, revision, submitted_at, status_since, coalesce(decided_at::VARCHAR, '-'),
                 contact_name, contact_mobile, routing_reason) FROM activities ORDER BY portal_ref",
        );
        out.extend(strings(
            store,
            "SELECT concat_ws('|', activity_id, action, occurred_at, actor_name, coalesce(taken_days, -1), opinion)
             FROM approval_history ORDER BY id",
        ));
        out.extend(strings(
            store,
            "SELECT concat_ws('|', name, region, address, coalesce(lon, 0), coalesce(lat, 0), capacity)
             FROM venues ORDER BY id",
        ));
        out.extend(strings(
            store,
            "SELECT concat_ws('|', credit_code, name, contact_name, contact_mobile) FROM organizers ORDER BY id",
        ));
        out.extend(strings(
            store,
            "SELECT concat_ws('|', activity_id, agency_id, risk_grade, created_at) FROM assessments ORDER BY id",
        ));
        out.extend(strings(
            store,
            "SELECT concat_ws('|', activity_id, survey_date, surveyors, report) FROM surveys ORDER BY id",
        ));
        out.extend(strings(
            store,
            "SELECT concat_ws('|', survey_id, opinion, coalesce(feedback, '-'), coalesce(feedback_at::VARCHAR, '-'))
             FROM rectifications ORDER BY id",
        ));
        out
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let (a, regions) = fresh();
        let (b, _) = fresh();
        let ra = run(&a, &regions, 7, 600).unwrap();
        let rb = run(&b, &regions, 7, 600).unwrap();
        assert_eq!(ra, rb);
        assert_eq!(ra.activities, 600);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let (c, _) = fresh();
        run(&c, &regions, 8, 600).unwrap();
        assert_ne!(fingerprint(&a), fingerprint(&c), "another seed gives other data");
    }

    #[test]
    fn generated_data_is_consistent() {
        let (store, regions) = fresh();
        let shapes = Shapes::builtin();
        assert!(!shapes.is_empty(), "the built-in outlines are needed");
        let report = run(&store, &regions, 42, 2000).unwrap();
        assert_eq!(report.activities, 2000);
        assert_eq!(count(&store, "SELECT count(*) FROM activities"), 2000);
        let drift = store.write_blocking(|tx| Ok(crate::store::places::differences(tx)?)).unwrap();
        assert_eq!(drift, 0, "the generator's activity_places rows are what store::places derives");
        assert_eq!(count(&store, "SELECT count(*) FROM approval_history"), i64::try_from(report.history).unwrap());
        assert!(report.organizers >= 50 && report.venues >= 270 && (40..=80).contains(&report.agencies));
        assert!(report.surveys > 0 && report.rectifications > 0, "{report}");

        // Every status and kind occurs.
        let statuses = strings(&store, "SELECT DISTINCT status FROM activities");
        for s in Status::ALL {
            assert!(statuses.iter().any(|x| x == s.code()), "status {} missing", s.code());
        }
        let kinds = strings(&store, "SELECT DISTINCT kind FROM activities");
        for k in ActivityKind::ALL {
            assert!(kinds.iter().any(|x| x == k.code()), "kind {} missing", k.code());
        }

        // Progress invariants.
        let rows: Vec<(String, Option<i64>, i64)> = store
            .write_blocking(|tx| {
                let mut s = tx.prepare("SELECT status, step, steps FROM activities")?;
                let rows =
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .unwrap();
        for (status, step, steps) in rows {
            let p = Progress {
                status: Status::parse(&status).unwrap(),
                step: step.map(|s| u32::try_from(s).unwrap()),
                steps: u32::try_from(steps).unwrap(),
            };
            assert!(p.is_consistent(), "{p:?}");
        }

        let zero = [
            // revision counts the transitions after the submission
            "SELECT count(*) FROM activities a
             WHERE a.revision <> (SELECT count(*) - 1 FROM approval_history h WHERE h.activity_id = a.id)",
            // the last history row is the current status, at status_since
            "SELECT count(*) FROM activities a WHERE a.status <> (SELECT arg_max(to_status, id) FROM approval_history h
             WHERE h.activity_id = a.id) OR a.status_since <> (SELECT max(occurred_at) FROM approval_history h
             WHERE h.activity_id = a.id)",
            // history goes forward in time and chains statuses
            "SELECT count(*) FROM (SELECT occurred_at < lag(occurred_at) OVER w AS back,
                 from_status <> coalesce(lag(to_status) OVER w, '') AS broken
             FROM approval_history WINDOW w AS (PARTITION BY activity_id ORDER BY id)) WHERE back OR broken",
            // nothing after now (18:00 Beijing = 10:00 UTC)
            "SELECT count(*) FROM approval_history WHERE occurred_at > TIMESTAMP '2026-03-20 10:00:00'",
            "SELECT count(*) FROM activities WHERE (decided_at IS NOT NULL) <>
                 (status IN ('not_accepted', 'permitted', 'denied', 'withdrawn'))",
            "SELECT count(*) FROM activities a WHERE (a.accepted_at IS NOT NULL) <>
                 EXISTS (SELECT 1 FROM approval_history h WHERE h.activity_id = a.id AND h.action = 'accept')",
            "SELECT count(*) FROM activities WHERE NOT (submitted_at <= created_at AND created_at <= status_since
                 AND start_at < end_at AND start_at >= submitted_at + INTERVAL 19 DAY
                 AND attendance >= 1000 AND sessions BETWEEN 1 AND 5
                 AND start_at BETWEEN TIMESTAMP '2024-03-20' AND TIMESTAMP '2026-05-20')",
            "SELECT count(*) FROM activities WHERE (flow_id IS NOT NULL AND accepted_at IS NULL) OR (steps NOT IN (0, 2))",
            // regions: one or two counties of one city; the venue in one of them, big enough
            "SELECT count(*) FROM activity_regions r JOIN regions g ON g.adcode = r.region WHERE g.level <> 'county'",
            "SELECT count(*) FROM activities a
             WHERE (SELECT count(*) FROM activity_regions r WHERE r.activity_id = a.id) NOT IN (1, 2)
                OR (SELECT count(*) FROM activity_venues v WHERE v.activity_id = a.id) <> 1",
            "SELECT count(*) FROM (SELECT r.activity_id, count(DISTINCT g.parent) AS cities FROM activity_regions r
                 JOIN regions g ON g.adcode = r.region GROUP BY 1) WHERE cities <> 1",
            "SELECT count(*) FROM activity_venues av JOIN venues v ON v.id = av.venue_id
             JOIN activities a ON a.id = av.activity_id
             WHERE a.attendance > v.capacity
                OR NOT EXISTS (SELECT 1 FROM activity_regions r
                               WHERE r.activity_id = av.activity_id AND r.region = v.region)",
            // routing with the default rules: the county below 5 000 people in one county, else the city
            "SELECT count(*) FROM activities a WHERE a.bureau <> CASE
                 WHEN a.attendance >= 5000 OR (SELECT count(*) FROM activity_regions r WHERE r.activity_id = a.id) > 1
                 THEN (SELECT min(g.parent) FROM activity_regions r JOIN regions g ON g.adcode = r.region
                       WHERE r.activity_id = a.id)
                 ELSE (SELECT min(r.region) FROM activity_regions r WHERE r.activity_id = a.id) END",
            // surveys between acceptance and event; feedback after the item
            "SELECT count(*) FROM surveys s JOIN activities a ON a.id = s.activity_id
             WHERE a.accepted_at IS NULL OR s.survey_date < CAST(a.accepted_at + INTERVAL 8 HOUR AS DATE)
                OR s.survey_date > CAST(a.start_at AS DATE) OR s.created_by <> 0",
            "SELECT count(*) FROM rectifications WHERE (feedback IS NULL) <> (feedback_at IS NULL)
                 OR feedback_at <= created_at",
            "SELECT count(*) FROM assessments s JOIN activities a ON a.id = s.activity_id
             WHERE NOT (a.attendance >= 5000 OR a.kind IN ('performance', 'sports', 'festival'))
                OR s.risk_grade NOT IN ('低', '中', '高')",
        ];
        for sql in zero {
            assert_eq!(count(&store, sql), 0, "{sql}");
        }
        assert!(count(&store, "SELECT count(*) FROM approval_history WHERE taken_days > time_limit_days") > 0);
        assert!(count(&store, "SELECT count(*) FROM activity_regions") > 2000, "some activities span two counties");
        // Reserved ids stay below the sequences.
        for (seq, table) in [("activities_id", "activities"), ("approval_history_id", "approval_history")] {
            let next: i64 = store
                .write_blocking(move |tx| Ok(tx.query_row(&format!("SELECT nextval('{seq}')"), [], |r| r.get(0))?))
                .unwrap();
            let max: i64 = store
                .write_blocking(move |tx| Ok(tx.query_row(&format!("SELECT max(id) FROM {table}"), [], |r| r.get(0))?))
                .unwrap();
            assert!(next > max, "{seq}: {next} <= {max}");
        }

        // Past activities are mostly permitted.
        let past = count(&store, "SELECT count(*) FROM activities WHERE start_at < TIMESTAMP '2026-03-01'");
        let permitted = count(
            &store,
            "SELECT count(*) FROM activities WHERE start_at < TIMESTAMP '2026-03-01' AND status = 'permitted'",
        );
        assert!(permitted * 100 >= past * 65 && permitted * 100 <= past * 90, "{permitted} of {past}");

        // Venues lie inside their county.
        let venues: Vec<(i64, Option<f64>, Option<f64>)> = store
            .write_blocking(|tx| {
                let mut s = tx.prepare("SELECT region, lon, lat FROM venues")?;
                let rows =
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .unwrap();
        for (region, lon, lat) in venues {
            let code = Adcode::from_stored(region).unwrap();
            assert_eq!(regions.get(code).unwrap().level, RegionLevel::County);
            let shape = shapes.get(code).unwrap();
            let p = Point::new(lon.unwrap(), lat.unwrap());
            assert!(shape.geometry.contains(&p), "venue of {code} at {p:?} outside its county");
        }

        // Credit codes are valid.
        for code in strings(&store, "SELECT credit_code FROM organizers") {
            assert!(CreditCode::parse(&code).is_ok(), "{code}");
            assert!(code.starts_with("91"));
        }
    }

    #[test]
    fn a_seed_is_refused_twice_and_another_one_adds_to_it() {
        let (store, regions) = fresh();
        run(&store, &regions, 5, 120).unwrap();
        let again = run(&store, &regions, 5, 120);
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert_eq!(count(&store, "SELECT count(*) FROM activities"), 120);
        let other = run(&store, &regions, 6, 120).unwrap();
        assert_eq!(other.activities, 120);
        assert_eq!(count(&store, "SELECT count(*) FROM activities"), 240);
        let agencies = count(&store, "SELECT count(*) FROM agencies");
        assert_eq!(count(&store, "SELECT count(DISTINCT name) FROM agencies"), agencies);
        for code in strings(&store, "SELECT credit_code FROM organizers") {
            assert!(CreditCode::parse(&code).is_ok(), "{code}");
        }
    }

    #[test]
    fn credit_codes_and_short_names() {
        let mut rng = Rng::new(1);
        let mut taken = HashSet::new();
        let county = Adcode::parse("330106").unwrap();
        for _ in 0..500 {
            let code = credit_code(&mut rng, county, &mut taken);
            assert!(CreditCode::parse(&code).is_ok(), "{code}");
            assert!(code.starts_with("91330106"));
        }
        assert_eq!(taken.len(), 500);
        assert_eq!(short_name("西湖区"), "西湖");
        assert_eq!(short_name("景宁畲族自治县"), "景宁");
        assert_eq!(short_name("杭州市"), "杭州");
        assert_eq!(round_people(4999), 4900);
        assert_eq!(round_people(12_345), 12_000);
    }

    #[test]
    fn the_generator_is_reproducible() {
        let mut a = Rng::stream(3, STREAM_ACTIVITY, 10);
        let mut b = Rng::stream(3, STREAM_ACTIVITY, 10);
        let mut c = Rng::stream(3, STREAM_ACTIVITY, 11);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs, (0..8).map(|_| c.next_u64()).collect::<Vec<_>>());
        for _ in 0..1000 {
            assert!(a.below(7) < 7);
            let u = a.unit();
            assert!((0.0..1.0).contains(&u));
            assert!((3..=9).contains(&a.between(3, 9)));
        }
    }
}
