//! The situation map's figures: DuckDB aggregates over the activities in a region and period, and the Polars shaping
//! that joins them with the drawn regions (zero rows for regions without activities, densities per 10 000 km²,
//! classes).

use chrono::NaiveDate;
use duckdb::Connection;
use duckdb::types::Value;
use polars::prelude::*;

use super::classify::{self, ClassRange, Method};
use crate::domain::region::Adcode;
use crate::store::{StoreError, StoreResult};

/// What the map shows: the region drilled into, the level of its units and the filters.
#[derive(Debug, Clone, PartialEq)]
pub struct MapQuery {
    /// The region drilled into.
    pub scope: Adcode,
    /// Its path key, e.g. `/330000/330100/` (venue dots are those of venues within it).
    pub scope_path: String,
    /// Its level: 1 province, 2 city, 3 county.
    pub scope_depth: usize,
    /// The level of the units drawn: 2 for cities, 3 for counties (the region itself when it is a county).
    pub unit_depth: usize,
    /// First day of the period (start of the activity).
    pub from: NaiveDate,
    /// Last day of the period, inclusive.
    pub to: NaiveDate,
    /// An activity kind code.
    pub kind: Option<String>,
    /// A status code.
    pub status: Option<String>,
}

/// The column of `activity_places` holding the region of level `depth` on a place's path.
fn level_column(depth: usize) -> &'static str {
    match depth {
        1 => "province",
        2 => "city",
        _ => "county",
    }
}

impl MapQuery {
    /// The conditions on `activity_places p` other than the region (period, kind, status) and their parameters.
    fn filters(&self) -> (String, Vec<Value>) {
        let mut sql = String::from("p.day >= CAST(? AS DATE) AND p.day <= CAST(? AS DATE)");
        let mut params = vec![
            Value::Text(self.from.format("%Y-%m-%d").to_string()),
            Value::Text(self.to.format("%Y-%m-%d").to_string()),
        ];
        if let Some(kind) = &self.kind {
            sql.push_str(" AND p.kind = ?");
            params.push(Value::Text(kind.clone()));
        }
        if let Some(status) = &self.status {
            sql.push_str(" AND p.status = ?");
            params.push(Value::Text(status.clone()));
        }
        (sql, params)
    }

    /// The SQL texts of every query behind the map page, with their parameters: what the benchmark runs as the
    /// baseline, and what [`figures`] runs. They read `activity_places` (see `store::places`), where an activity
    /// held in several regions has one row per region at each level: counting its rows of one region counts each
    /// activity there once.
    pub fn statements(&self, dots: bool) -> Vec<(String, Vec<Value>)> {
        let (filter, params) = self.filters();
        let scope = Value::Int(i32::try_from(self.scope.get()).unwrap_or(i32::MAX));
        let with_scope = |first: Value| {
            let mut p = vec![first];
            p.extend(params.iter().cloned());
            p
        };
        let units = format!(
            "SELECT p.region, count(*), sum(p.audience)::BIGINT FROM activity_places p \
             WHERE p.depth = {depth} AND p.{column} = ? AND {filter} GROUP BY p.region ORDER BY p.region",
            depth = self.unit_depth,
            column = level_column(self.scope_depth),
        );
        let panel = format!("p.region = ? AND {filter}");
        let kinds = format!(
            "SELECT p.kind, count(*), sum(p.audience)::BIGINT FROM activity_places p \
             WHERE {panel} GROUP BY p.kind ORDER BY 2 DESC, 1"
        );
        let months = format!(
            "SELECT CAST(date_trunc('month', p.day) AS DATE) AS m, count(*), sum(p.audience)::BIGINT \
             FROM activity_places p WHERE {panel} GROUP BY m ORDER BY m"
        );
        // activity_venues and activity_agencies hold each pair once: count(*) counts activities.
        let venues = format!(
            "SELECT v.name, count(*) AS n FROM activity_places p \
             JOIN activity_venues av ON av.activity_id = p.activity_id JOIN venues v ON v.id = av.venue_id \
             WHERE {panel} GROUP BY v.id, v.name ORDER BY n DESC, v.name LIMIT {TOP}"
        );
        let agencies = format!(
            "SELECT ag.name, count(*) AS n FROM activity_places p \
             JOIN activity_agencies s ON s.activity_id = p.activity_id JOIN agencies ag ON ag.id = s.agency_id \
             WHERE {panel} GROUP BY ag.id, ag.name ORDER BY n DESC, ag.name LIMIT {TOP}"
        );
        let mut out = vec![
            (units, with_scope(scope.clone())),
            (kinds, with_scope(scope.clone())),
            (months, with_scope(scope.clone())),
            (venues, with_scope(scope.clone())),
            (agencies, with_scope(scope.clone())),
        ];
        if dots {
            let dots = format!(
                "SELECT v.name, v.lon, v.lat, count(*) AS n FROM activity_places p \
                 JOIN activity_venues av ON av.activity_id = p.activity_id JOIN venues v ON v.id = av.venue_id \
                 JOIN regions vg ON vg.adcode = v.region \
                 WHERE starts_with(vg.path, ?) AND v.lon IS NOT NULL AND v.lat IS NOT NULL AND {panel} \
                 GROUP BY v.id, v.name, v.lon, v.lat ORDER BY n DESC, v.name LIMIT {MAX_DOTS}"
            );
            let mut dot_params = vec![Value::Text(self.scope_path.clone()), scope];
            dot_params.extend(params);
            out.push((dots, dot_params));
        }
        out
    }
}

/// Rows in the top lists of venues and agencies.
pub const TOP: usize = 10;

/// The most venue dots drawn.
pub const MAX_DOTS: usize = 3000;

/// Activities and audience of one drawn region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitFigure {
    /// The region.
    pub adcode: Adcode,
    /// Distinct activities that take place there.
    pub activities: i64,
    /// Their audience: attendance per session × sessions.
    pub audience: i64,
}

/// One venue dot.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueDot {
    /// The venue's name.
    pub name: String,
    /// Longitude (GCJ-02).
    pub lon: f64,
    /// Latitude (GCJ-02).
    pub lat: f64,
    /// Activities there under the filters.
    pub activities: i64,
}

/// The figures of the right panel, for the whole region drilled into.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panels {
    /// Distinct activities in the region under the filters.
    pub activities: i64,
    /// Their audience.
    pub audience: i64,
    /// Activities and audience by kind code, most first.
    pub kinds: Vec<(String, i64, i64)>,
    /// Activities and audience by month (first day), in order.
    pub months: Vec<(NaiveDate, i64, i64)>,
    /// Venues by activities, most first.
    pub venues: Vec<(String, i64)>,
    /// Risk-assessment agencies by assessed activities, most first.
    pub agencies: Vec<(String, i64)>,
}

/// Everything the map page needs from the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MapFigures {
    /// By drawn region (only regions with activities).
    pub units: Vec<UnitFigure>,
    /// The right panel.
    pub panels: Panels,
    /// Venue dots, when asked for.
    pub dots: Vec<VenueDot>,
}

/// Runs the queries of [`MapQuery::statements`].
pub fn figures(conn: &Connection, q: &MapQuery, dots: bool) -> StoreResult<MapFigures> {
    let statements = q.statements(dots);
    let mut out = MapFigures::default();
    for (i, (sql, params)) in statements.iter().enumerate() {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            match i {
                0 => {
                    let code: Option<i64> = r.get(0)?;
                    if let Some(adcode) = code.and_then(Adcode::from_stored) {
                        out.units.push(UnitFigure { adcode, activities: r.get(1)?, audience: r.get(2)? });
                    }
                }
                1 => {
                    let (kind, n, audience): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                    out.panels.activities += n;
                    out.panels.audience += audience;
                    out.panels.kinds.push((kind, n, audience));
                }
                2 => out.panels.months.push((r.get(0)?, r.get(1)?, r.get(2)?)),
                3 => out.panels.venues.push((r.get(0)?, r.get(1)?)),
                4 => out.panels.agencies.push((r.get(0)?, r.get(1)?)),
                _ => out.dots.push(VenueDot { name: r.get(0)?, lon: r.get(1)?, lat: r.get(2)?, activities: r.get(3)? }),
            }
        }
    }
    Ok(out)
}

/// Runs the same statements and only counts their rows: the benchmark's baseline.
pub fn raw_queries(conn: &Connection, q: &MapQuery, dots: bool) -> StoreResult<usize> {
    let mut n = 0;
    for (sql, params) in q.statements(dots) {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(params.iter()))?;
        while rows.next()?.is_some() {
            n += 1;
        }
    }
    Ok(n)
}

/// The measure the map is shaded by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// 活动数
    Count,
    /// 每万平方公里活动数
    Density,
}

impl Metric {
    /// Code in URLs.
    pub fn code(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::Density => "density",
        }
    }

    /// Name on the page.
    pub fn label(self) -> &'static str {
        match self {
            Self::Count => "活动数",
            Self::Density => "活动密度（每万平方公里）",
        }
    }

    /// The metric of a URL code.
    pub fn parse(code: &str) -> Option<Self> {
        [Self::Count, Self::Density].into_iter().find(|m| m.code() == code)
    }
}

/// A drawn region's row after shaping.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    /// The region.
    pub adcode: Adcode,
    /// Its name.
    pub name: String,
    /// Activities (0 when none).
    pub activities: i64,
    /// Audience (0 when none).
    pub audience: i64,
    /// Activities per 10 000 km²; `None` without a known area.
    pub density: Option<f64>,
    /// The class: `Some(i)` for a shaded class, `None` for zero or no data (see [`UnitRow::value`]).
    pub class: Option<usize>,
    /// The shaded value; `None` is no data.
    pub value: Option<f64>,
}

/// The shaded regions with the classification and its legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Shaded {
    /// One row per drawn region, in the order given.
    pub rows: Vec<UnitRow>,
    /// Class upper bounds.
    pub breaks: Vec<f64>,
    /// Legend ranges with counts.
    pub ranges: Vec<ClassRange>,
    /// Regions with value 0.
    pub zero: usize,
    /// Regions without data.
    pub no_data: usize,
}

/// Joins the figures to the drawn regions `(adcode, name, area km² if known)` with Polars (left join, zero for regions
/// without activities), computes densities and classifies the chosen metric.
pub fn shade(
    units: &[(Adcode, String, Option<f64>)],
    figures: &[UnitFigure],
    metric: Metric,
    method: Method,
    k: usize,
) -> StoreResult<Shaded> {
    let polars_err = |e: PolarsError| StoreError::Conflict(format!("统计计算失败：{e}"));
    let regions = df!(
        "adcode" => units.iter().map(|u| i64::from(u.0.get())).collect::<Vec<_>>(),
        "name" => units.iter().map(|u| u.1.clone()).collect::<Vec<_>>(),
        "area_km2" => units.iter().map(|u| u.2.filter(|a| *a > 0.0)).collect::<Vec<_>>(),
    )
    .map_err(polars_err)?;
    let facts = df!(
        "adcode" => figures.iter().map(|f| i64::from(f.adcode.get())).collect::<Vec<_>>(),
        "activities" => figures.iter().map(|f| f.activities).collect::<Vec<_>>(),
        "audience" => figures.iter().map(|f| f.audience).collect::<Vec<_>>(),
    )
    .map_err(polars_err)?;
    let joined = regions.left_join(&facts, ["adcode"], ["adcode"]).map_err(polars_err)?;
    let activities = joined.column("activities").and_then(|c| c.i64()).map_err(polars_err)?.fill_null_with_values(0);
    let activities = activities.map_err(polars_err)?;
    let audience = joined.column("audience").and_then(|c| c.i64()).map_err(polars_err)?.fill_null_with_values(0);
    let audience = audience.map_err(polars_err)?;
    let area = joined.column("area_km2").and_then(|c| c.f64()).map_err(polars_err)?;
    let density: Float64Chunked = activities
        .cast(&DataType::Float64)
        .map_err(polars_err)?
        .f64()
        .map_err(polars_err)?
        .iter()
        .zip(area.iter())
        .map(|(n, a)| match (n, a) {
            (Some(n), Some(a)) => Some(n / a * 10_000.0),
            _ => None,
        })
        .collect();
    let codes = joined.column("adcode").and_then(|c| c.i64()).map_err(polars_err)?;
    let names = joined.column("name").and_then(|c| c.str()).map_err(polars_err)?;
    let mut rows = Vec::with_capacity(joined.height());
    for i in 0..joined.height() {
        let Some(adcode) = codes.get(i).and_then(Adcode::from_stored) else { continue };
        let n = activities.get(i).unwrap_or(0);
        let d = density.get(i);
        let value = match metric {
            Metric::Count => Some(n as f64),
            Metric::Density => d,
        };
        rows.push(UnitRow {
            adcode,
            name: names.get(i).unwrap_or_default().to_string(),
            activities: n,
            audience: audience.get(i).unwrap_or(0),
            density: d,
            class: None,
            value,
        });
    }
    // The join keeps the left order in Polars' default; restore the caller's order regardless.
    rows.sort_by_key(|r| units.iter().position(|u| u.0 == r.adcode));
    let values: Vec<f64> = rows.iter().filter_map(|r| r.value).collect();
    let breaks = classify::breaks(&values, k, method);
    for r in &mut rows {
        r.class = r.value.and_then(|v| classify::class_of(v, &breaks));
    }
    let ranges = classify::ranges(&values, &breaks);
    let zero = rows.iter().filter(|r| r.value == Some(0.0)).count();
    let no_data = rows.iter().filter(|r| r.value.is_none()).count();
    Ok(Shaded { rows, breaks, ranges, zero, no_data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> Adcode {
        Adcode::parse(s).expect("code")
    }

    #[test]
    fn shading_fills_zero_rows_keeps_order_and_marks_missing_areas_as_no_data() {
        let units = vec![
            (code("330100"), "杭州市".to_string(), Some(16_850.0)),
            (code("330200"), "宁波市".to_string(), Some(9_816.0)),
            (code("330300"), "温州市".to_string(), None),
            (code("330400"), "嘉兴市".to_string(), Some(4_223.0)),
        ];
        let figures = vec![
            UnitFigure { adcode: code("330400"), activities: 5, audience: 50_000 },
            UnitFigure { adcode: code("330100"), activities: 40, audience: 400_000 },
            UnitFigure { adcode: code("330300"), activities: 7, audience: 7_000 },
        ];
        let s = shade(&units, &figures, Metric::Count, Method::Quantile, 3).expect("shade");
        let names: Vec<&str> = s.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["杭州市", "宁波市", "温州市", "嘉兴市"]);
        assert_eq!(s.rows[1].activities, 0);
        assert_eq!(s.rows[1].value, Some(0.0));
        assert_eq!(s.rows[1].class, None);
        assert_eq!(s.zero, 1);
        assert_eq!(s.no_data, 0);
        assert_eq!(s.rows[0].class, Some(s.breaks.len() - 1));
        let d = shade(&units, &figures, Metric::Density, Method::EqualInterval, 3).expect("shade");
        assert_eq!(d.rows[2].value, None);
        assert_eq!(d.no_data, 1);
        let hz = d.rows[0].density.expect("area known");
        assert!((hz - 40.0 / 16_850.0 * 10_000.0).abs() < 1e-9);
        assert_eq!(d.ranges.iter().map(|r| r.count).sum::<usize>(), 2);
    }

    #[test]
    fn the_filters_enter_the_statements_as_parameters() {
        let q = MapQuery {
            scope: Adcode::parse("330000").expect("code"),
            scope_path: "/330000/".into(),
            scope_depth: 1,
            unit_depth: 2,
            from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            to: NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"),
            kind: Some("sports' OR 1=1 --".into()),
            status: None,
        };
        let st = q.statements(true);
        assert_eq!(st.len(), 6);
        for (sql, params) in &st {
            assert!(!sql.contains("OR 1=1"));
            assert_eq!(sql.matches('?').count(), params.len(), "{sql}");
        }
        assert!(st[0].1.contains(&Value::Text("2026-01-31".into())), "the last day is inclusive (p.day <= ?)");
    }
}
