//! The report engine of the statistics centre (统计中心): report definitions (`reports/*.toml`, compiled into the
//! binary), their checks at start-up, running one against the database and showing its cells.
//!
//! A definition names its parameters, its SQL with the placeholders `:from :to :region_path :kind :depth` and the
//! macro `{child}`, its columns with their Chinese titles and formats, and an optional chart. See `reports/README.md`
//! for the format. The same [`Report`] drives the page and the Excel export ([`xlsx`]).

pub mod xlsx;
mod zipout;

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta};
use duckdb::Connection;
use duckdb::types::{Value, ValueRef};
use serde::Deserialize;
use toml::Spanned;

use crate::domain::activity::ActivityKind;
use crate::domain::region::{Adcode, RegionTree};
use crate::store::{StoreError, StoreResult};

/// The built-in definitions: file name and text.
const BUILTIN: &[(&str, &str)] = &[
    ("survey_by_region.toml", include_str!("../../reports/survey_by_region.toml")),
    ("survey_by_month.toml", include_str!("../../reports/survey_by_month.toml")),
    ("survey_by_agency.toml", include_str!("../../reports/survey_by_agency.toml")),
    ("activities_by_kind_month.toml", include_str!("../../reports/activities_by_kind_month.toml")),
    ("turnaround_by_region.toml", include_str!("../../reports/turnaround_by_region.toml")),
    ("venue_use.toml", include_str!("../../reports/venue_use.toml")),
    ("audience_by_region.toml", include_str!("../../reports/audience_by_region.toml")),
    ("step_timeliness.toml", include_str!("../../reports/step_timeliness.toml")),
];

/// What `{child}` stands for: the adcode of the chosen region's child on the path of the county row `g`; the county
/// itself when the chosen region is a county (depth 3). `?` is bound to [`Params::depth`].
const CHILD_PREFIX: &str = "CAST(split_part(g.path, '/', least(CAST(";
const CHILD_SUFFIX: &str = " AS INTEGER), 2) + 2) AS INTEGER)";

/// A definition that cannot be used, with its file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefError {
    /// The file name inside `reports/`, e.g. `survey_by_region.toml`.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "reports/{}:{line}: {}", self.file, self.message),
            None => write!(f, "reports/{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for DefError {}

/// How a column's cells are shown and exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnFormat {
    /// Plain text.
    Text,
    /// A whole number with thousands separators.
    Integer,
    /// A number with one decimal place.
    Decimal,
    /// A fraction shown as a percentage with one decimal place (0.375 → 37.5%).
    Percent,
    /// A date, `2026-03-05`.
    Date,
    /// A date and time, `2026-03-05 14:30`.
    DateTime,
    /// A month: the first day of the month, shown `2026-03`.
    Month,
    /// A region adcode, shown by its name.
    Region,
    /// An activity kind code, shown by its short label.
    Kind,
}

impl ColumnFormat {
    /// Every format, in the order of the README.
    pub const ALL: [ColumnFormat; 9] = [
        Self::Text,
        Self::Integer,
        Self::Decimal,
        Self::Percent,
        Self::Date,
        Self::DateTime,
        Self::Month,
        Self::Region,
        Self::Kind,
    ];

    /// The code used in definitions.
    pub fn code(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Percent => "percent",
            Self::Date => "date",
            Self::DateTime => "datetime",
            Self::Month => "month",
            Self::Region => "region",
            Self::Kind => "kind",
        }
    }

    /// Parses a definition's code.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == raw)
    }

    /// True for the formats of measures (charts plot only these).
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Decimal | Self::Percent)
    }
}

/// A parameter the report page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// From/to dates on the report's date column (`:from`, `:to`).
    Dates,
    /// The region (`:region_path`, `:depth`, `{child}`); every report has it, since every report is scoped.
    Region,
    /// The activity kind (`:kind`, empty for all kinds).
    Kind,
}

impl Param {
    /// Every parameter.
    pub const ALL: [Param; 3] = [Self::Dates, Self::Region, Self::Kind];

    /// The code used in definitions.
    pub fn code(self) -> &'static str {
        match self {
            Self::Dates => "dates",
            Self::Region => "region",
            Self::Kind => "kind",
        }
    }

    /// Parses a definition's code.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == raw)
    }
}

/// How the rows of a report are grouped, for drill-down links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Rows are the child regions of the chosen region; the page links each to the same report for that region.
    Region,
}

/// The kind of a report's chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Horizontal bars.
    Bar,
    /// Vertical bars.
    Column,
    /// Lines.
    Line,
}

impl ChartKind {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "bar" => Some(Self::Bar),
            "column" => Some(Self::Column),
            "line" => Some(Self::Line),
            _ => None,
        }
    }
}

/// A report's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// Bar, column or line.
    pub kind: ChartKind,
    /// The column of the categories (x axis).
    pub category: String,
    /// The columns plotted, one series each.
    pub values: Vec<String>,
}

/// One column of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The SQL column name.
    pub name: String,
    /// The Chinese title.
    pub title: String,
    /// How cells are shown.
    pub format: ColumnFormat,
}

/// A placeholder of the SQL, bound in order of appearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    From,
    To,
    RegionPath,
    Kind,
    Depth,
}

impl Placeholder {
    const ALL: [Placeholder; 5] = [Self::From, Self::To, Self::RegionPath, Self::Kind, Self::Depth];

    fn name(self) -> &'static str {
        match self {
            Self::From => "from",
            Self::To => "to",
            Self::RegionPath => "region_path",
            Self::Kind => "kind",
            Self::Depth => "depth",
        }
    }

    fn param(self) -> Param {
        match self {
            Self::From | Self::To => Param::Dates,
            Self::RegionPath | Self::Depth => Param::Region,
            Self::Kind => Param::Kind,
        }
    }
}

/// One report of the statistics centre.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file stem, e.g. `survey_by_region`; used in URLs.
    pub id: String,
    /// 标题
    pub title: String,
    /// 说明: what is counted and how.
    pub description: String,
    /// The parameters the page offers.
    pub params: Vec<Param>,
    /// Drill-down grouping, if any.
    pub group: Option<Group>,
    /// The columns, in display order.
    pub columns: Vec<Column>,
    /// The chart, if any.
    pub chart: Option<Chart>,
    /// The SQL with `?` for every placeholder occurrence.
    sql: String,
    /// The placeholder of every `?`, in order.
    binds: Vec<Placeholder>,
    /// The file name, for errors.
    file: String,
    /// The line of `sql =`.
    sql_line: usize,
    /// The line of each column's `name =`.
    column_lines: Vec<usize>,
}

/// The values a report runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// First day (inclusive, Beijing calendar).
    pub from: NaiveDate,
    /// Upper bound (exclusive): the day after the last day.
    pub to: NaiveDate,
    /// The chosen region (the user's region or one below it).
    pub region: Adcode,
    /// Its path key, `/330000/330100/`.
    pub region_path: String,
    /// Its depth: province 1, city 2, county 3.
    pub depth: usize,
    /// The activity kind code, `None` for all kinds.
    pub kind: Option<String>,
}

impl Params {
    /// Parameters for `region` of `regions`, deriving its path key and depth.
    pub fn new(regions: &RegionTree, region: Adcode, from: NaiveDate, to: NaiveDate, kind: Option<String>) -> Self {
        Self { from, to, region, region_path: regions.path_key(region), depth: regions.path(region).len(), kind }
    }

    fn binding(&self) -> Binding<'_> {
        Binding {
            from: self.from,
            to: self.to,
            region_path: &self.region_path,
            depth: self.depth,
            kind: self.kind.as_deref().unwrap_or(""),
        }
    }
}

/// The values behind the placeholders.
struct Binding<'a> {
    from: NaiveDate,
    to: NaiveDate,
    region_path: &'a str,
    depth: usize,
    kind: &'a str,
}

impl Binding<'_> {
    fn value(&self, p: Placeholder) -> Value {
        match p {
            Placeholder::From => date_value(self.from),
            Placeholder::To => date_value(self.to),
            Placeholder::RegionPath => Value::Text(self.region_path.to_string()),
            Placeholder::Kind => Value::Text(self.kind.to_string()),
            Placeholder::Depth => Value::BigInt(i64::try_from(self.depth).unwrap_or(i64::MAX)),
        }
    }
}

/// A DATE value (days since 1970-01-01), so that DuckDB compares dates, not strings.
fn date_value(d: NaiveDate) -> Value {
    let days = d.signed_duration_since(DateTime::UNIX_EPOCH.date_naive()).num_days();
    i32::try_from(days).map_or_else(|_| Value::Text(d.to_string()), Value::Date32)
}

/// One cell of a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL, shown “—”.
    Null,
    /// A whole number.
    Int(i64),
    /// A fractional number.
    Float(f64),
    /// Text.
    Text(String),
    /// A date.
    Date(NaiveDate),
    /// A date and time (as the SQL gives it; reports convert UTC columns to Beijing time in SQL).
    DateTime(NaiveDateTime),
}

impl Cell {
    fn from_value(v: ValueRef<'_>) -> Self {
        // `as f64` below: integers beyond 2^53 lose precision, which is fine for a statistic of that size.
        match v {
            ValueRef::Null => Self::Null,
            ValueRef::Boolean(b) => Self::Int(i64::from(b)),
            ValueRef::TinyInt(i) => Self::Int(i64::from(i)),
            ValueRef::SmallInt(i) => Self::Int(i64::from(i)),
            ValueRef::Int(i) => Self::Int(i64::from(i)),
            ValueRef::BigInt(i) => Self::Int(i),
            ValueRef::UTinyInt(i) => Self::Int(i64::from(i)),
            ValueRef::USmallInt(i) => Self::Int(i64::from(i)),
            ValueRef::UInt(i) => Self::Int(i64::from(i)),
            ValueRef::UBigInt(i) => i64::try_from(i).map_or(Self::Float(i as f64), Self::Int),
            ValueRef::HugeInt(i) => i64::try_from(i).map_or(Self::Float(i as f64), Self::Int),
            ValueRef::UHugeInt(i) => i64::try_from(i).map_or(Self::Float(i as f64), Self::Int),
            ValueRef::Float(f) => Self::Float(f64::from(f)),
            ValueRef::Double(f) => Self::Float(f),
            ValueRef::Decimal(d) if d.scale() == 0 => {
                i64::try_from(d.value()).map_or_else(|_| Self::Float(d.value() as f64), Self::Int)
            }
            ValueRef::Decimal(d) => d.to_string().parse().map_or(Self::Null, Self::Float),
            ValueRef::Text(bytes) => Self::Text(String::from_utf8_lossy(bytes).into_owned()),
            ValueRef::Date32(days) => DateTime::UNIX_EPOCH
                .date_naive()
                .checked_add_signed(TimeDelta::days(i64::from(days)))
                .map_or(Self::Null, Self::Date),
            ValueRef::Timestamp(unit, t) => {
                DateTime::from_timestamp_micros(unit.to_micros(t)).map_or(Self::Null, |t| Self::DateTime(t.naive_utc()))
            }
            other => Self::Text(format!("{other:?}")),
        }
    }

    /// The value as a number, for numeric formats.
    fn number(&self) -> Option<f64> {
        match self {
            // Precision loss beyond 2^53 is fine for display.
            Self::Int(i) => Some(*i as f64),
            Self::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as a number (for charts).
    pub fn as_number(&self) -> Option<f64> {
        self.number().filter(|v| v.is_finite())
    }

    /// The value as a region code (for drill-down links).
    pub fn as_region(&self) -> Option<Adcode> {
        match self {
            Self::Int(code) => Adcode::from_stored(*code),
            _ => None,
        }
    }
}

/// The result of running a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The report's columns.
    pub columns: Vec<Column>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// Sorts the rows by `column` (ignored when out of range); NULL sorts last in both directions, numbers compare
    /// numerically, texts by code point, dates by date. The sort is stable.
    pub fn sort_by(&mut self, column: usize, descending: bool) {
        if column >= self.columns.len() {
            return;
        }
        self.rows.sort_by(|x, y| {
            let (a, b) = (x.get(column).unwrap_or(&Cell::Null), y.get(column).unwrap_or(&Cell::Null));
            match (a, b) {
                (Cell::Null, Cell::Null) => Ordering::Equal,
                (Cell::Null, _) => Ordering::Greater,
                (_, Cell::Null) => Ordering::Less,
                _ if descending => compare_cells(a, b).reverse(),
                _ => compare_cells(a, b),
            }
        });
    }
}

/// Orders two non-NULL cells; different kinds order numbers, texts, dates, date-times.
fn compare_cells(a: &Cell, b: &Cell) -> Ordering {
    fn rank(c: &Cell) -> u8 {
        match c {
            Cell::Null => 4,
            Cell::Int(_) | Cell::Float(_) => 0,
            Cell::Text(_) => 1,
            Cell::Date(_) => 2,
            Cell::DateTime(_) => 3,
        }
    }
    match (a, b) {
        (Cell::Int(x), Cell::Int(y)) => x.cmp(y),
        (Cell::Text(x), Cell::Text(y)) => x.cmp(y),
        (Cell::Date(x), Cell::Date(y)) => x.cmp(y),
        (Cell::DateTime(x), Cell::DateTime(y)) => x.cmp(y),
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => rank(a).cmp(&rank(b)),
        },
    }
}

/// Shows a cell in the column's format: percent 0.375 → `37.5%`, integers with thousands separators, regions by
/// name, kinds by short label, NULL → `—`.
pub fn display(cell: &Cell, col: &Column, regions: &RegionTree) -> String {
    display_as(cell, col.format, Some(regions))
}

/// [`display`] by format; without a region tree a region shows its code.
pub(crate) fn display_as(cell: &Cell, format: ColumnFormat, regions: Option<&RegionTree>) -> String {
    match (format, cell) {
        (_, Cell::Null) => "—".to_string(),
        (ColumnFormat::Integer, c) if c.number().is_some() => {
            let n = c.number().unwrap_or_default();
            match c {
                Cell::Int(i) => group_thousands(&i.to_string()),
                _ => group_thousands(&format!("{n:.0}")),
            }
        }
        (ColumnFormat::Decimal, c) if c.number().is_some() => {
            group_thousands(&format!("{:.1}", c.number().unwrap_or_default()))
        }
        (ColumnFormat::Percent, c) if c.number().is_some() => {
            format!("{:.1}%", c.number().unwrap_or_default() * 100.0)
        }
        (ColumnFormat::Month, Cell::Date(d)) => d.format("%Y-%m").to_string(),
        (ColumnFormat::Month, Cell::DateTime(t)) => t.format("%Y-%m").to_string(),
        (ColumnFormat::Date, Cell::DateTime(t)) => t.format("%Y-%m-%d").to_string(),
        (ColumnFormat::Region, Cell::Int(code)) => match (Adcode::from_stored(*code), regions) {
            (Some(a), Some(tree)) => tree.name(a),
            _ => code.to_string(),
        },
        (ColumnFormat::Kind, Cell::Text(code)) => kind_label(code).map_or_else(|| code.clone(), str::to_string),
        (_, Cell::Int(i)) => i.to_string(),
        (_, Cell::Float(f)) => f.to_string(),
        (_, Cell::Text(s)) => s.clone(),
        (_, Cell::Date(d)) => d.format("%Y-%m-%d").to_string(),
        (_, Cell::DateTime(t)) => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// The short label of an activity kind code.
pub(crate) fn kind_label(code: &str) -> Option<&'static str> {
    ActivityKind::ALL.into_iter().find(|k| k.code() == code).map(ActivityKind::short_label)
}

/// Inserts thousands separators into a formatted number: `-1234567.5` → `-1,234,567.5`.
fn group_thousands(formatted: &str) -> String {
    let (sign, rest) = formatted.strip_prefix('-').map_or(("", formatted), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(formatted.len() + int.len() / 3);
    out.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

impl Report {
    /// True when the page offers `param`.
    pub fn has_param(&self, param: Param) -> bool {
        self.params.contains(&param)
    }

    /// The position of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// With `group = "region"`, the column holding the child regions (the first column of format region).
    pub fn group_column(&self) -> Option<usize> {
        self.group?;
        self.columns.iter().position(|c| c.format == ColumnFormat::Region)
    }

    /// Runs the report. A declared column missing from the result answers `InvalidColumnName` (the start-up check
    /// catches that before).
    pub fn run(&self, conn: &Connection, p: &Params) -> StoreResult<Table> {
        let rows = self.query(conn, &self.sql, &p.binding())?;
        Ok(Table { columns: self.columns.clone(), rows })
    }

    /// Runs `sql` (the report's SQL or a wrapper of it) and reads the declared columns.
    fn query(&self, conn: &Connection, sql: &str, binding: &Binding<'_>) -> StoreResult<Vec<Vec<Cell>>> {
        let values: Vec<Value> = self.binds.iter().map(|b| binding.value(*b)).collect();
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(values.iter()))?;
        let names = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        let positions = self
            .columns
            .iter()
            .map(|c| {
                names
                    .iter()
                    .position(|n| *n == c.name)
                    .ok_or_else(|| StoreError::Db(duckdb::Error::InvalidColumnName(c.name.clone())))
            })
            .collect::<StoreResult<Vec<usize>>>()?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let cells = positions
                .iter()
                .map(|&i| row.get_ref(i).map(Cell::from_value))
                .collect::<duckdb::Result<Vec<Cell>>>()?;
            out.push(cells);
        }
        Ok(out)
    }

    /// Prepares and runs the SQL with `LIMIT 0` on an empty period, and checks that every declared column is there.
    fn check(&self, conn: &Connection) -> Result<(), DefError> {
        let sql = format!("SELECT * FROM (\n{}\n) AS report_check LIMIT 0", self.sql);
        let day = DateTime::UNIX_EPOCH.date_naive();
        let binding = Binding { from: day, to: day, region_path: "/", depth: 1, kind: "" };
        match self.query(conn, &sql, &binding) {
            Ok(_) => Ok(()),
            Err(StoreError::Db(duckdb::Error::InvalidColumnName(name))) => {
                let line = self.column_index(&name).and_then(|i| self.column_lines.get(i).copied());
                Err(self.error(line.unwrap_or(self.sql_line), format!("the SQL gives no column \"{name}\"")))
            }
            Err(e) => Err(self.error(self.sql_line, format!("SQL: {}", one_line(&e.to_string())))),
        }
    }

    fn error(&self, line: usize, message: String) -> DefError {
        DefError { file: self.file.clone(), line: Some(line), message }
    }
}

/// Every report, in the order of the files.
#[derive(Debug, Clone)]
pub struct Catalog {
    reports: Vec<Report>,
}

impl Catalog {
    /// The definitions compiled into the binary (`reports/*.toml`).
    pub fn builtin() -> Result<Catalog, DefError> {
        Self::parse(BUILTIN)
    }

    /// Parses definitions given as (file name, text); the id of each is its file stem.
    pub fn parse(files: &[(&str, &str)]) -> Result<Catalog, DefError> {
        let mut reports: Vec<Report> = Vec::with_capacity(files.len());
        for (file, text) in files {
            let report = parse_report(file, text)?;
            if reports.iter().any(|r| r.id == report.id) {
                return Err(DefError {
                    file: file.to_string(),
                    line: Some(1),
                    message: format!("a report with the id \"{}\" exists already", report.id),
                });
            }
            reports.push(report);
        }
        Ok(Catalog { reports })
    }

    /// The report with `id`.
    pub fn get(&self, id: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.id == id)
    }

    /// Every report.
    pub fn all(&self) -> &[Report] {
        &self.reports
    }

    /// Prepares and runs every report's SQL on an empty period with `LIMIT 0`, so that SQL errors and missing
    /// columns surface at start-up with the file and line.
    pub fn check_against(&self, conn: &Connection) -> Result<(), DefError> {
        self.reports.iter().try_for_each(|r| r.check(conn))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    title: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: Option<Spanned<Vec<Spanned<String>>>>,
    group: Option<Spanned<String>>,
    sql: Spanned<String>,
    #[serde(default)]
    columns: Vec<RawColumn>,
    chart: Option<RawChart>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: Spanned<String>,
    title: Spanned<String>,
    format: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChart {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    category: Spanned<String>,
    values: Spanned<Vec<Spanned<String>>>,
}

/// The 1-based line of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Folds a multi-line message into one line.
fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Parsing state of one file: its name and text, for errors.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> DefError {
        DefError { file: self.file.to_string(), line: Some(line), message: message.into() }
    }

    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> DefError {
        self.err(line_at(self.text, s.span().start), message)
    }

    /// The line of `key =` at the start of a line, else 1.
    fn key_line(&self, key: &str) -> usize {
        self.text
            .lines()
            .position(|l| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
            .map_or(1, |i| i + 1)
    }

    /// The line of byte `offset` of the SQL value: counted from the line of its opening quotes (a newline right
    /// after `"""` is not part of the value). Exact unless the SQL uses line-ending backslashes.
    fn sql_line(&self, sql: &Spanned<String>, offset: usize) -> usize {
        let start = sql.span().start;
        let opening = self.text.get(start..).unwrap_or("");
        let skipped = usize::from(
            opening.starts_with("\"\"\"\n")
                || opening.starts_with("'''\n")
                || opening.starts_with("\"\"\"\r\n")
                || opening.starts_with("'''\r\n"),
        );
        line_at(self.text, start) + skipped + line_at(sql.get_ref(), offset) - 1
    }
}

fn parse_report(file: &str, text: &str) -> Result<Report, DefError> {
    let src = Source { file, text };
    let id = file
        .strip_suffix(".toml")
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
        .ok_or_else(|| src.err(1, "the file name must be lowercase letters, digits and _ with .toml"))?;
    let raw: RawReport = toml::from_str(text).map_err(|e| DefError {
        file: file.to_string(),
        line: e.span().map(|s| line_at(text, s.start)),
        message: one_line(e.message()),
    })?;
    if raw.title.get_ref().trim().is_empty() {
        return Err(src.at(&raw.title, "title must not be empty"));
    }
    let params = parse_params(&src, raw.params.as_ref())?;
    let columns = parse_columns(&src, &raw.columns)?;
    if raw.sql.get_ref().trim().is_empty() {
        return Err(src.at(&raw.sql, "sql must not be empty"));
    }
    let scanned = scan_sql(raw.sql.get_ref()).map_err(|(offset, m)| src.err(src.sql_line(&raw.sql, offset), m))?;
    check_placeholders(&src, &raw, &params, &scanned)?;
    let group = parse_group(&src, raw.group.as_ref(), &columns, &scanned)?;
    let chart = raw.chart.as_ref().map(|c| parse_chart(&src, c, &columns)).transpose()?;
    Ok(Report {
        id: id.to_string(),
        title: raw.title.get_ref().trim().to_string(),
        description: raw.description.trim().to_string(),
        params: params.iter().map(|(p, _)| *p).collect(),
        group,
        columns: columns.iter().map(|(c, _)| c.clone()).collect(),
        chart,
        sql: scanned.sql.trim().trim_end_matches(';').to_string(),
        binds: scanned.binds.iter().map(|(p, _)| *p).collect(),
        file: file.to_string(),
        sql_line: line_at(text, raw.sql.span().start),
        column_lines: columns.iter().map(|(_, l)| *l).collect(),
    })
}

/// The declared parameters with their lines; `region` is required (every report is scoped).
fn parse_params(
    src: &Source<'_>,
    raw: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Result<Vec<(Param, usize)>, DefError> {
    let mut params: Vec<(Param, usize)> = Vec::new();
    for p in raw.map(|r| r.get_ref().as_slice()).unwrap_or_default() {
        let param = Param::parse(p.get_ref())
            .ok_or_else(|| src.at(p, format!("unknown param \"{}\" (known: dates, region, kind)", p.get_ref())))?;
        if params.iter().any(|(q, _)| *q == param) {
            return Err(src.at(p, format!("param \"{}\" appears twice", p.get_ref())));
        }
        params.push((param, line_at(src.text, p.span().start)));
    }
    if !params.iter().any(|(p, _)| *p == Param::Region) {
        let line = raw.map_or_else(|| src.key_line("params"), |r| line_at(src.text, r.span().start));
        return Err(src.err(line, "every report is scoped by region: params must include \"region\""));
    }
    Ok(params)
}

/// The columns with the line of each `name =`.
fn parse_columns(src: &Source<'_>, raw: &[RawColumn]) -> Result<Vec<(Column, usize)>, DefError> {
    if raw.is_empty() {
        return Err(src.err(1, "at least one [[columns]] is needed"));
    }
    let mut columns: Vec<(Column, usize)> = Vec::with_capacity(raw.len());
    for c in raw {
        let name = c.name.get_ref().trim();
        if name.is_empty() {
            return Err(src.at(&c.name, "column name must not be empty"));
        }
        if columns.iter().any(|(d, _)| d.name == name) {
            return Err(src.at(&c.name, format!("duplicate column \"{name}\"")));
        }
        if c.title.get_ref().trim().is_empty() {
            return Err(src.at(&c.title, format!("column \"{name}\" needs a title")));
        }
        let format = ColumnFormat::parse(c.format.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = ColumnFormat::ALL.iter().map(|f| f.code()).collect();
            src.at(&c.format, format!("unknown format \"{}\" (known: {})", c.format.get_ref(), known.join(", ")))
        })?;
        let column = Column { name: name.to_string(), title: c.title.get_ref().trim().to_string(), format };
        columns.push((column, line_at(src.text, c.name.span().start)));
    }
    Ok(columns)
}

/// Every placeholder needs its parameter declared, and every declared parameter must be used.
fn check_placeholders(
    src: &Source<'_>,
    raw: &RawReport,
    params: &[(Param, usize)],
    scanned: &ScannedSql,
) -> Result<(), DefError> {
    for (p, offset) in &scanned.binds {
        if !params.iter().any(|(q, _)| *q == p.param()) {
            let is_macro = raw.sql.get_ref().get(*offset..).is_some_and(|rest| rest.starts_with('{'));
            let what = if is_macro { "{child}".to_string() } else { format!(":{}", p.name()) };
            return Err(src.err(
                src.sql_line(&raw.sql, *offset),
                format!("{what} is used but the param \"{}\" is not declared", p.param().code()),
            ));
        }
    }
    let uses = |p: Placeholder| scanned.binds.iter().any(|(q, _)| *q == p);
    for (param, line) in params {
        let needed: &[Placeholder] = match param {
            Param::Dates => &[Placeholder::From, Placeholder::To],
            Param::Region => &[Placeholder::RegionPath],
            Param::Kind => &[Placeholder::Kind],
        };
        if let Some(missing) = needed.iter().find(|p| !uses(**p)) {
            return Err(src.err(
                *line,
                format!("param \"{}\" is declared but the SQL never uses :{}", param.code(), missing.name()),
            ));
        }
    }
    Ok(())
}

fn parse_group(
    src: &Source<'_>,
    raw: Option<&Spanned<String>>,
    columns: &[(Column, usize)],
    scanned: &ScannedSql,
) -> Result<Option<Group>, DefError> {
    let Some(g) = raw else { return Ok(None) };
    if g.get_ref() != "region" {
        return Err(src.at(g, format!("unknown group \"{}\" (known: region)", g.get_ref())));
    }
    if !columns.iter().any(|(c, _)| c.format == ColumnFormat::Region) {
        return Err(src.at(g, "group = \"region\" needs a column of format \"region\""));
    }
    if !scanned.uses_child {
        return Err(src.at(g, "group = \"region\" needs {child} in the SQL"));
    }
    Ok(Some(Group::Region))
}

fn parse_chart(src: &Source<'_>, raw: &RawChart, columns: &[(Column, usize)]) -> Result<Chart, DefError> {
    let kind = ChartKind::parse(raw.kind.get_ref()).ok_or_else(|| {
        src.at(&raw.kind, format!("unknown chart type \"{}\" (known: bar, column, line)", raw.kind.get_ref()))
    })?;
    let find = |s: &Spanned<String>| {
        columns
            .iter()
            .map(|(c, _)| c)
            .find(|c| c.name == *s.get_ref())
            .ok_or_else(|| src.at(s, format!("chart column \"{}\" is not one of the columns", s.get_ref())))
    };
    find(&raw.category)?;
    if raw.values.get_ref().is_empty() {
        return Err(src.at(&raw.values, "chart values must name at least one column"));
    }
    let mut values = Vec::with_capacity(raw.values.get_ref().len());
    for v in raw.values.get_ref() {
        let column = find(v)?;
        if !column.format.is_numeric() {
            return Err(
                src.at(v, format!("chart value \"{}\" must be an integer, decimal or percent column", v.get_ref()))
            );
        }
        values.push(column.name.clone());
    }
    Ok(Chart { kind, category: raw.category.get_ref().clone(), values })
}

/// The SQL with `?` for placeholders, the placeholders with their offset in the definition's SQL, and whether
/// `{child}` appears.
#[derive(Debug)]
struct ScannedSql {
    sql: String,
    binds: Vec<(Placeholder, usize)>,
    uses_child: bool,
}

/// Replaces `:name` placeholders by `?` and `{child}` by its expression, outside quotes and comments; `::` casts are
/// left alone. An unknown `:name` or `{name}` is an error at its offset.
fn scan_sql(raw: &str) -> Result<ScannedSql, (usize, String)> {
    let b = raw.as_bytes();
    let ident_end = |from: usize| {
        let mut i = from;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        i
    };
    let find = |from: usize, pat: &str| raw.get(from..).and_then(|rest| rest.find(pat)).map(|p| from + p);
    let mut out = ScannedSql { sql: String::with_capacity(raw.len() + 64), binds: Vec::new(), uses_child: false };
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        let next = b.get(i + 1).copied();
        match b[i] {
            q @ (b'\'' | b'"') => i = find(i + 1, if q == b'\'' { "'" } else { "\"" }).map_or(b.len(), |e| e + 1),
            b'-' if next == Some(b'-') => i = find(i, "\n").unwrap_or(b.len()),
            b'/' if next == Some(b'*') => i = find(i + 2, "*/").map_or(b.len(), |e| e + 2),
            b':' if next == Some(b':') => i += 2,
            b':' if next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') => {
                let end = ident_end(i + 1);
                let name = &raw[i + 1..end];
                let p = Placeholder::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
                    (i, format!("unknown placeholder :{name} (known: :from, :to, :region_path, :kind, :depth)"))
                })?;
                out.sql.push_str(&raw[copied..i]);
                out.sql.push('?');
                out.binds.push((p, i));
                (i, copied) = (end, end);
            }
            b'{' if next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                && b.get(ident_end(i + 1)) == Some(&b'}') =>
            {
                let end = ident_end(i + 1);
                let name = &raw[i + 1..end];
                if name != "child" {
                    return Err((i, format!("unknown macro {{{name}}} (known: {{child}})")));
                }
                out.sql.push_str(&raw[copied..i]);
                out.sql.push_str(CHILD_PREFIX);
                out.sql.push('?');
                out.sql.push_str(CHILD_SUFFIX);
                out.binds.push((Placeholder::Depth, i));
                out.uses_child = true;
                (i, copied) = (end + 1, end + 1);
            }
            _ => i += 1,
        }
    }
    out.sql.push_str(&raw[copied..]);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An in-memory database with the schema and the regions table.
    pub(crate) fn database() -> (Connection, RegionTree) {
        let regions = crate::setup::load_regions(None).unwrap();
        let conn = Connection::open_in_memory().unwrap();
        for sql in [
            include_str!("../store/migrations/0001_foundation.sql"),
            include_str!("../store/migrations/0002_workflow.sql"),
            include_str!("../store/migrations/0003_portal.sql"),
            include_str!("../store/migrations/0006_activity_places.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        let mut stmt =
            conn.prepare("INSERT INTO regions (adcode, name, level, parent, path) VALUES (?, ?, ?, ?, ?)").unwrap();
        for r in regions.all() {
            stmt.execute(duckdb::params![
                r.adcode.get(),
                r.name,
                r.level.code(),
                r.parent.map(|p| p.get()),
                regions.path_key(r.adcode)
            ])
            .unwrap();
        }
        drop(stmt);
        (conn, regions)
    }

    /// Four activities, four surveys, four opinions: see `survey_by_region_counts`.
    pub(crate) fn sample_data(conn: &Connection) {
        conn.execute_batch(
            "INSERT INTO activities (id, portal_ref, name, kind, organizer_id, start_at, end_at, sessions, attendance,
                 contact_name, contact_mobile, status, steps, flow_id, bureau, routing_reason, submitted_at,
                 status_since, accepted_at, decided_at, created_at) VALUES
             (1, 'p1', 'A1', 'sports', 1, '2026-03-10 10:00', '2026-03-10 12:00', 2, 3000, 'x', '1', 'permitted', 1, 1,
              330106, '', '2026-02-20', '2026-03-06 02:00', '2026-03-02 01:00', '2026-03-06 02:00', '2026-02-20'),
             (2, 'p2', 'A2', 'performance', 1, '2026-03-20 10:00', '2026-03-20 12:00', 1, 8000, 'x', '1', 'permitted',
              1, NULL, 330100, '', '2026-02-20', '2026-04-30 02:00', '2026-04-01 01:00', '2026-04-30 02:00', '2026-02-20'),
             (3, 'p3', 'A3', 'exhibition', 1, '2026-04-05 10:00', '2026-04-05 12:00', 1, 500, 'x', '1', 'in_approval',
              1, NULL, 330203, '', '2026-02-20', '2026-03-06', '2026-03-02 01:00', NULL, '2026-02-20'),
             (4, 'p4', 'A4', 'sports', 1, '2025-12-05 10:00', '2025-12-05 12:00', 1, 100, 'x', '1', 'permitted', 1,
              NULL, 330106, '', '2025-11-20', '2025-11-26', '2025-11-25', NULL, '2025-11-20');
             INSERT INTO activity_regions VALUES (1, 330106), (2, 330106), (2, 330108), (3, 330203), (4, 330106);
             INSERT INTO surveys (id, activity_id, survey_date, surveyors, report, created_by, created_at) VALUES
              (1, 1, '2026-03-01', 'a', 'r', 1, now()), (2, 2, '2026-03-05', 'a', 'r', 1, now()),
              (3, 3, '2026-03-15', 'a', 'r', 1, now()), (4, 4, '2025-12-31', 'a', 'r', 1, now());
             INSERT INTO rectifications (id, survey_id, activity_id, opinion, feedback, created_at) VALUES
              (1, 1, 1, 'o', 'f', now()), (2, 1, 1, 'o', NULL, now()), (3, 2, 2, 'o', 'f', now()),
              (4, 4, 4, 'o', 'f', now());
             INSERT INTO flows (id, region, version, name, created_at) VALUES (1, 330100, 1, 'f', now());
             INSERT INTO flow_steps VALUES (1, 0, '初审', 1, 2), (1, 1, '终审', 2, 1);
             INSERT INTO calendar_days VALUES ('2026-04-06', 'holiday', '清明节'), ('2026-04-04', 'holiday', '清明节'),
              ('2026-04-05', 'holiday', '清明节');",
        )
        .unwrap();
        crate::store::places::rebuild(conn).unwrap();
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn params(regions: &RegionTree, region: u32) -> Params {
        let region = Adcode::parse(&region.to_string()).unwrap();
        Params::new(regions, region, date(2026, 1, 1), date(2026, 7, 1), None)
    }

    const GOOD: &str = r#"title = "测试"
description = "说明"
params = ["dates", "region", "kind"]
group = "region"
sql = """
SELECT {child} AS region, count(*) AS n, 0.5 AS rate
FROM regions g
WHERE g.level = 'county' AND starts_with(g.path, :region_path) AND CAST(:from AS DATE) <= :to AND (:kind = '' OR g.name = :kind)
GROUP BY 1
"""
[[columns]]
name = "region"
title = "地区"
format = "region"
[[columns]]
name = "n"
title = "数量"
format = "integer"
[[columns]]
name = "rate"
title = "比例"
format = "percent"
[chart]
type = "bar"
category = "region"
values = ["n"]
"#;

    fn parse_one(text: &str) -> Result<Report, DefError> {
        Catalog::parse(&[("t.toml", text)]).map(|c| c.all()[0].clone())
    }

    #[test]
    fn every_builtin_definition_parses_and_every_file_is_built_in() {
        let catalog = Catalog::builtin().unwrap();
        assert_eq!(catalog.all().len(), BUILTIN.len());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        files.sort();
        let mut built: Vec<String> = BUILTIN.iter().map(|(f, _)| f.to_string()).collect();
        built.sort();
        assert_eq!(files, built, "every reports/*.toml must be listed in BUILTIN");
        for r in catalog.all() {
            assert!(r.has_param(Param::Region), "{}", r.id);
            assert!(!r.title.is_empty() && !r.description.is_empty(), "{}", r.id);
            assert_eq!(r.binds.len(), r.sql.matches('?').count(), "{}", r.id);
        }
        let by_region = catalog.get("survey_by_region").unwrap();
        assert_eq!(by_region.group, Some(Group::Region));
        assert_eq!(by_region.group_column(), Some(0));
        assert_eq!(by_region.columns[4].format, ColumnFormat::Percent);
    }

    #[test]
    fn every_builtin_definition_passes_the_check_against_the_schema() {
        let (conn, _) = database();
        Catalog::builtin().unwrap().check_against(&conn).unwrap();
    }

    #[test]
    fn every_builtin_definition_runs_on_sample_data() {
        let (conn, regions) = database();
        sample_data(&conn);
        for code in [330000, 330100, 330106] {
            for r in Catalog::builtin().unwrap().all() {
                let table = r.run(&conn, &params(&regions, code)).unwrap();
                assert!(table.rows.iter().all(|row| row.len() == r.columns.len()), "{}", r.id);
            }
        }
    }

    #[test]
    fn a_good_definition_parses_and_binds_every_occurrence() {
        let r = parse_one(GOOD).unwrap();
        assert_eq!(r.id, "t");
        assert_eq!(r.params, vec![Param::Dates, Param::Region, Param::Kind]);
        use Placeholder::*;
        assert_eq!(r.binds, vec![Depth, RegionPath, From, To, Kind, Kind]);
        assert!(r.sql.contains("least(CAST(? AS INTEGER), 2) + 2"), "{}", r.sql);
        assert!(!r.sql.contains(':'), "{}", r.sql);
        assert_eq!(r.chart.as_ref().unwrap().kind, ChartKind::Bar);
        assert_eq!(r.sql_line, 5);
        assert_eq!(r.column_lines, vec![12, 16, 20]);
    }

    #[test]
    fn scanner_leaves_casts_strings_and_comments_alone() {
        let s =
            scan_sql("SELECT x::DOUBLE, ':from', \"a:b\" -- :nope\n/* :nope */ FROM t WHERE d >= :from AND e < :from")
                .unwrap();
        assert_eq!(s.sql, "SELECT x::DOUBLE, ':from', \"a:b\" -- :nope\n/* :nope */ FROM t WHERE d >= ? AND e < ?");
        assert_eq!(s.binds.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![Placeholder::From, Placeholder::From]);
        assert!(!s.uses_child);
        let err = scan_sql("SELECT :region").unwrap_err();
        assert_eq!(err.0, 7);
        assert!(err.1.contains(":region"), "{}", err.1);
        assert!(scan_sql("SELECT {parent}").unwrap_err().1.contains("{parent}"));
        assert_eq!(scan_sql("SELECT {'a': 1}").unwrap().sql, "SELECT {'a': 1}");
    }

    #[test]
    fn a_toml_syntax_error_names_the_file_and_line() {
        let text = "title = \"x\"\ndescription = \"y\"\nparams = [\"region\"]\nsql = \"SELECT :region_path\"\ngroup = = \"region\"\n";
        let err = Catalog::parse(&[("good.toml", GOOD), ("bad.toml", text)]).unwrap_err();
        assert_eq!(err.file, "bad.toml");
        assert_eq!(err.line, Some(5), "{err}");
        assert!(err.to_string().starts_with("reports/bad.toml:5: "), "{err}");
    }

    #[test]
    fn semantic_errors_point_at_the_offending_line() {
        // (what, replaced text of GOOD, replacement, expected line)
        let cases: [(&str, &str, &str, usize); 10] = [
            ("unknown format", "format = \"percent\"", "format = \"money\"", 22),
            ("duplicate column", "name = \"rate\"", "name = \"n\"", 20),
            ("chart column", "values = [\"n\"]", "values = [\"n\", \"nope\"]", 26),
            ("chart value not numeric", "values = [\"n\"]", "values = [\"region\"]", 26),
            ("chart type", "type = \"bar\"", "type = \"pie\"", 24),
            ("unknown param", "\"dates\", \"region\", \"kind\"]", "\"dates\", \"region\", \"kind\", \"size\"]", 3),
            ("undeclared placeholder", "[\"dates\", \"region\", \"kind\"]", "[\"region\", \"kind\"]", 8),
            ("unknown placeholder", "<= :to", "<= :until", 8),
            ("unused param", "(:kind = '' OR g.name = :kind)", "true", 3),
            ("unknown group", "group = \"region\"", "group = \"kind\"", 4),
        ];
        for (what, from, to, line) in cases {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "{what}");
            let err = parse_one(&text).unwrap_err();
            assert_eq!(err.line, Some(line), "{what}: {err}");
            assert!(err.to_string().starts_with(&format!("reports/t.toml:{line}: ")), "{what}: {err}");
        }
        let unscoped = GOOD.replacen("[\"dates\", \"region\", \"kind\"]", "[\"dates\", \"kind\"]", 1);
        let err = parse_one(&unscoped).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("region"), "{err}");
    }

    #[test]
    fn empty_sql_and_unknown_keys_are_refused() {
        let text = "title = \"x\"\nparams = [\"region\"]\nsql = \"  \"\n[[columns]]\nname = \"a\"\ntitle = \"A\"\nformat = \"text\"\n";
        let err = parse_one(text).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        let err = parse_one(&GOOD.replacen("description", "descripton", 1)).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        let err = Catalog::parse(&[("Bad-Name.toml", GOOD)]).unwrap_err();
        assert_eq!(err.line, Some(1), "{err}");
        let err = Catalog::parse(&[("a.toml", GOOD), ("a.toml", GOOD)]).unwrap_err();
        assert!(err.message.contains("exists already"), "{err}");
    }

    #[test]
    fn the_check_reports_sql_errors_and_missing_columns_with_file_and_line() {
        let (conn, _) = database();
        let broken = GOOD.replacen("count(*) AS n", "count(nope) AS n", 1);
        let catalog = Catalog::parse(&[("broken.toml", broken.as_str())]).unwrap();
        let err = catalog.check_against(&conn).unwrap_err();
        assert_eq!(err.line, Some(5), "{err}");
        assert!(err.to_string().starts_with("reports/broken.toml:5: SQL: "), "{err}");
        let renamed = GOOD.replacen("0.5 AS rate", "0.5 AS ratio", 1);
        let err = Catalog::parse(&[("renamed.toml", renamed.as_str())]).unwrap().check_against(&conn).unwrap_err();
        assert_eq!(err.line, Some(20), "{err}");
        assert!(err.message.contains("\"rate\""), "{err}");
    }

    #[test]
    fn survey_by_region_counts() {
        let (conn, regions) = database();
        sample_data(&conn);
        let report = Catalog::builtin().unwrap().get("survey_by_region").unwrap().clone();
        let rate = 2.0 / 3.0;

        // Province: one row per city; 杭州 has surveys 1 and 2 (activity 2 in two counties counts once).
        let table = report.run(&conn, &params(&regions, 330000)).unwrap();
        assert_eq!(table.rows.len(), regions.children(regions.root().adcode).count());
        let row = |t: &Table, code: i64| t.rows.iter().find(|r| r[0] == Cell::Int(code)).unwrap().clone();
        assert_eq!(
            row(&table, 330100),
            vec![Cell::Int(330100), Cell::Int(2), Cell::Int(3), Cell::Int(2), Cell::Float(rate)]
        );
        assert_eq!(row(&table, 330200), vec![Cell::Int(330200), Cell::Int(1), Cell::Int(0), Cell::Int(0), Cell::Null]);
        assert_eq!(row(&table, 330300)[1], Cell::Int(0));
        assert_eq!(display(&row(&table, 330200)[4], &table.columns[4], &regions), "—");
        assert_eq!(display(&row(&table, 330100)[4], &table.columns[4], &regions), "66.7%");
        assert_eq!(display(&row(&table, 330100)[0], &table.columns[0], &regions), "杭州市");

        // 杭州市: counties; 滨江区 has only activity 2.
        let table = report.run(&conn, &params(&regions, 330100)).unwrap();
        assert_eq!(
            row(&table, 330106),
            vec![Cell::Int(330106), Cell::Int(2), Cell::Int(3), Cell::Int(2), Cell::Float(rate)]
        );
        assert_eq!(
            row(&table, 330108),
            vec![Cell::Int(330108), Cell::Int(1), Cell::Int(1), Cell::Int(1), Cell::Float(1.0)]
        );

        // A county: the county itself.
        let table = report.run(&conn, &params(&regions, 330106)).unwrap();
        assert_eq!(
            table.rows,
            vec![vec![Cell::Int(330106), Cell::Int(2), Cell::Int(3), Cell::Int(2), Cell::Float(rate)]]
        );

        // The kind filter.
        let mut p = params(&regions, 330000);
        p.kind = Some("performance".into());
        let table = report.run(&conn, &p).unwrap();
        assert_eq!(
            row(&table, 330100),
            vec![Cell::Int(330100), Cell::Int(1), Cell::Int(1), Cell::Int(1), Cell::Float(1.0)]
        );
        assert_eq!(row(&table, 330200)[1], Cell::Int(0));
    }

    #[test]
    fn turnaround_counts_working_days_with_holidays() {
        let (conn, regions) = database();
        sample_data(&conn);
        let report = Catalog::builtin().unwrap().get("turnaround_by_region").unwrap().clone();
        let table = report.run(&conn, &params(&regions, 330100)).unwrap();
        let row = table.rows.iter().find(|r| r[0] == Cell::Int(330106)).unwrap();
        // Activity 1: 2026-03-03..06 = 4 days, within the statutory 7; activity 2: April 2..30 less 清明 (6th) = 20,
        // overdue.
        assert_eq!(row, &vec![Cell::Int(330106), Cell::Int(2), Cell::Float(12.0), Cell::Int(20), Cell::Int(1)]);
    }

    #[test]
    fn survey_by_month_fills_every_month_and_reads_dates() {
        let (conn, regions) = database();
        sample_data(&conn);
        let report = Catalog::builtin().unwrap().get("survey_by_month").unwrap().clone();
        let table = report.run(&conn, &params(&regions, 330000)).unwrap();
        assert_eq!(table.rows.len(), 6);
        assert_eq!(table.rows[2][..4], [Cell::Date(date(2026, 3, 1)), Cell::Int(3), Cell::Int(3), Cell::Int(2)]);
        assert_eq!(display(&table.rows[2][0], &table.columns[0], &regions), "2026-03");
        assert_eq!(table.rows[0][4], Cell::Null);
    }

    #[test]
    fn display_formats() {
        let regions = crate::setup::load_regions(None).unwrap();
        let col = |format| Column { name: "c".into(), title: "c".into(), format };
        let show = |c: Cell, f| display(&c, &col(f), &regions);
        assert_eq!(show(Cell::Float(0.375), ColumnFormat::Percent), "37.5%");
        assert_eq!(show(Cell::Null, ColumnFormat::Percent), "—");
        assert_eq!(show(Cell::Int(1_234_567), ColumnFormat::Integer), "1,234,567");
        assert_eq!(show(Cell::Int(-1_234), ColumnFormat::Integer), "-1,234");
        assert_eq!(show(Cell::Int(999), ColumnFormat::Integer), "999");
        assert_eq!(show(Cell::Float(1234.56), ColumnFormat::Decimal), "1,234.6");
        assert_eq!(show(Cell::Float(2.0), ColumnFormat::Integer), "2");
        assert_eq!(show(Cell::Date(date(2026, 3, 1)), ColumnFormat::Month), "2026-03");
        assert_eq!(show(Cell::Date(date(2026, 3, 1)), ColumnFormat::Date), "2026-03-01");
        assert_eq!(show(Cell::Int(330106), ColumnFormat::Region), "西湖区");
        assert_eq!(show(Cell::Text("job_fair".into()), ColumnFormat::Kind), "人才招聘");
        assert_eq!(show(Cell::Text("甲".into()), ColumnFormat::Text), "甲");
    }

    #[test]
    fn sorting_puts_null_last_and_compares_numbers() {
        let columns = vec![Column { name: "v".into(), title: "v".into(), format: ColumnFormat::Decimal }];
        let rows = [Cell::Int(10), Cell::Null, Cell::Float(2.5), Cell::Int(9)].map(|c| vec![c]).to_vec();
        let mut t = Table { columns, rows };
        t.sort_by(0, false);
        assert_eq!(t.rows.concat(), vec![Cell::Float(2.5), Cell::Int(9), Cell::Int(10), Cell::Null]);
        t.sort_by(0, true);
        assert_eq!(t.rows.concat(), vec![Cell::Int(10), Cell::Int(9), Cell::Float(2.5), Cell::Null]);
        t.sort_by(5, true);
        assert_eq!(t.rows.len(), 4);
    }
}
