//! Excel export: a report as a workbook (sheet 数据 with the table and its native chart, sheet 参数 with who exported
//! what and with which filters), and a streaming writer for long lists (许可管理) that keeps memory constant.

use std::io::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{
    Chart as XlsxChart, ChartType, ColNum, Color, ExcelDateTime, Format, FormatAlign, FormatBorder, RowNum, Workbook,
    Worksheet, XlsxError,
};

pub use super::ColumnFormat;
use super::{Cell, ChartKind, Report, Table, display_as, kind_label};
use crate::domain::region::RegionTree;

/// The name of the data sheet.
pub const DATA_SHEET: &str = "数据";
/// The name of the sheet with the export's parameters.
pub const PARAMS_SHEET: &str = "参数";

/// The streaming writer reports progress every this many rows (and once at the end).
const PROGRESS_EVERY: u64 = 1000;

/// Who exported what, for the 参数 sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportMeta {
    /// 导出人 (the user's real name and login, as the caller wants it shown).
    pub user: String,
    /// 导出时间, in Beijing time.
    pub generated_at: NaiveDateTime,
    /// The filters in force, as (名称, 值), e.g. (统计期间, 2026-01-01 至 2026-06-30).
    pub filters: Vec<(String, String)>,
}

/// The cell formats of an export.
struct Formats {
    header: Format,
    text: Format,
    integer: Format,
    decimal: Format,
    percent: Format,
    date: Format,
    datetime: Format,
    month: Format,
    missing: Format,
    label: Format,
    wrap: Format,
}

impl Formats {
    fn new() -> Self {
        let border = |f: Format| f.set_border(FormatBorder::Thin);
        Self {
            header: border(
                Format::new()
                    .set_bold()
                    .set_background_color(Color::RGB(0xDD_EB_F7))
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter),
            ),
            text: border(Format::new()),
            integer: border(Format::new().set_num_format("#,##0")),
            decimal: border(Format::new().set_num_format("#,##0.0")),
            percent: border(Format::new().set_num_format("0.0%")),
            date: border(Format::new().set_num_format("yyyy-mm-dd")),
            datetime: border(Format::new().set_num_format("yyyy-mm-dd hh:mm")),
            month: border(Format::new().set_num_format("yyyy-mm")),
            missing: border(Format::new().set_align(FormatAlign::Center)),
            label: Format::new().set_bold(),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
        }
    }

    fn for_format(&self, format: ColumnFormat) -> &Format {
        match format {
            ColumnFormat::Text | ColumnFormat::Region | ColumnFormat::Kind => &self.text,
            ColumnFormat::Integer => &self.integer,
            ColumnFormat::Decimal => &self.decimal,
            ColumnFormat::Percent => &self.percent,
            ColumnFormat::Date => &self.date,
            ColumnFormat::DateTime => &self.datetime,
            ColumnFormat::Month => &self.month,
        }
    }
}

/// A row number from an index; beyond Excel's rows is an error.
fn row_num(i: usize) -> Result<RowNum, XlsxError> {
    RowNum::try_from(i).map_err(|_| XlsxError::RowColumnLimitError)
}

/// A column number from an index; beyond Excel's columns is an error.
fn col_num(i: usize) -> Result<ColNum, XlsxError> {
    ColNum::try_from(i).map_err(|_| XlsxError::RowColumnLimitError)
}

/// An Excel date, when the date is within Excel's years (1900–9999).
fn excel_date(d: NaiveDate) -> Option<ExcelDateTime> {
    let year = u16::try_from(d.year()).ok()?;
    let month = u8::try_from(d.month()).ok()?;
    let day = u8::try_from(d.day()).ok()?;
    ExcelDateTime::from_ymd(year, month, day).ok()
}

/// An Excel date and time (whole seconds).
fn excel_datetime(t: NaiveDateTime) -> Option<ExcelDateTime> {
    let hour = u16::try_from(t.hour()).ok()?;
    let minute = u8::try_from(t.minute()).ok()?;
    excel_date(t.date())?.and_hms(hour, minute, t.second()).ok()
}

/// Writes one cell: numbers and dates as real values with their number format, regions and kinds as names, NULL
/// as `—`. Without a region tree a region is written as its code.
fn write_cell(
    sheet: &mut Worksheet,
    (row, col): (RowNum, ColNum),
    cell: &Cell,
    format: ColumnFormat,
    formats: &Formats,
    regions: Option<&RegionTree>,
) -> Result<(), XlsxError> {
    let f = formats.for_format(format);
    let as_text = |sheet: &mut Worksheet| -> Result<(), XlsxError> {
        sheet.write_string_with_format(row, col, display_as(cell, format, regions), f)?;
        Ok(())
    };
    match (format, cell) {
        (_, Cell::Null) => {
            sheet.write_string_with_format(row, col, "—", &formats.missing)?;
        }
        (ColumnFormat::Integer | ColumnFormat::Decimal | ColumnFormat::Percent, Cell::Int(i)) => {
            // Exact up to 2^53; beyond that Excel itself cannot hold the value.
            sheet.write_number_with_format(row, col, *i as f64, f)?;
        }
        (ColumnFormat::Integer | ColumnFormat::Decimal | ColumnFormat::Percent, Cell::Float(x)) => {
            sheet.write_number_with_format(row, col, *x, f)?;
        }
        (ColumnFormat::Date | ColumnFormat::Month | ColumnFormat::DateTime, Cell::Date(d)) => match excel_date(*d) {
            Some(dt) => {
                sheet.write_datetime_with_format(row, col, &dt, f)?;
            }
            None => as_text(sheet)?,
        },
        (ColumnFormat::Date | ColumnFormat::Month | ColumnFormat::DateTime, Cell::DateTime(t)) => {
            match excel_datetime(*t) {
                Some(dt) => {
                    sheet.write_datetime_with_format(row, col, &dt, f)?;
                }
                None => as_text(sheet)?,
            }
        }
        (ColumnFormat::Kind, Cell::Text(code)) => {
            sheet.write_string_with_format(row, col, kind_label(code).unwrap_or(code.as_str()), f)?;
        }
        _ => as_text(sheet)?,
    }
    Ok(())
}

/// True for characters that take two columns (CJK, Hangul, full-width forms).
fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x2_0000..=0x3_FFFD)
}

/// The width of `text` in Excel character columns: CJK characters count double.
fn text_width(text: &str) -> usize {
    text.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// A column width from its widest text (plus room for the filter button), clamped to 8..=50.
fn column_width(widest: usize) -> f64 {
    // At most 50: the conversion is exact.
    f64::from(u32::try_from((widest + 3).clamp(8, 50)).unwrap_or(50))
}

/// The fixed width of a streamed column: by format, at least its title.
fn fixed_width(format: ColumnFormat, title: &str) -> f64 {
    let by_format = match format {
        ColumnFormat::Text => 24,
        ColumnFormat::Integer | ColumnFormat::Decimal | ColumnFormat::Kind => 12,
        ColumnFormat::Percent | ColumnFormat::Month => 10,
        ColumnFormat::Date => 12,
        ColumnFormat::DateTime => 18,
        ColumnFormat::Region => 14,
    };
    column_width(text_width(title).max(by_format))
}

/// Writes the 参数 sheet: `head` rows (e.g. 报表, 说明), then 导出人, 导出时间 and each filter.
fn write_params_sheet(
    sheet: &mut Worksheet,
    head: &[(&str, &str)],
    meta: &ExportMeta,
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(PARAMS_SHEET)?;
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, 80)?;
    let generated = meta.generated_at.format("%Y-%m-%d %H:%M:%S").to_string();
    let fixed = [("导出人", meta.user.as_str()), ("导出时间", generated.as_str())];
    let filters = meta.filters.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (i, (name, value)) in head.iter().copied().chain(fixed).chain(filters).enumerate() {
        let row = row_num(i)?;
        sheet.write_string_with_format(row, 0, name, &formats.label)?;
        sheet.write_string_with_format(row, 1, value, &formats.wrap)?;
    }
    Ok(())
}

/// Writes the table with its header, frozen header row, autofilter and widths from the content.
fn write_table(sheet: &mut Worksheet, table: &Table, formats: &Formats, regions: &RegionTree) -> Result<(), XlsxError> {
    let mut widths: Vec<usize> = table.columns.iter().map(|c| text_width(&c.title)).collect();
    for (c, column) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, col_num(c)?, column.title.as_str(), &formats.header)?;
    }
    for (r, cells) in table.rows.iter().enumerate() {
        let row = row_num(r + 1)?;
        for ((c, column), cell) in table.columns.iter().enumerate().zip(cells) {
            write_cell(sheet, (row, col_num(c)?), cell, column.format, formats, Some(regions))?;
            let shown = text_width(&display_as(cell, column.format, Some(regions)));
            if let Some(w) = widths.get_mut(c) {
                *w = (*w).max(shown);
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(col_num(c)?, column_width(*w))?;
    }
    sheet.set_row_height(0, 20)?;
    sheet.set_freeze_panes(1, 0)?;
    if !table.columns.is_empty() {
        sheet.autofilter(0, 0, row_num(table.rows.len())?, col_num(table.columns.len() - 1)?)?;
    }
    Ok(())
}

/// Adds the report's chart to the right of the table: categories from the category column, one series per value
/// column, named by its header cell. Nothing when the report has no chart or the table no rows.
fn insert_chart(sheet: &mut Worksheet, report: &Report, table: &Table) -> Result<(), XlsxError> {
    let Some(spec) = &report.chart else { return Ok(()) };
    let index = |name: &str| table.columns.iter().position(|c| c.name == name);
    let (Some(category), false) = (index(spec.category.as_str()), table.rows.is_empty()) else { return Ok(()) };
    let last = row_num(table.rows.len())?;
    let category = col_num(category)?;
    let mut chart = XlsxChart::new(match spec.kind {
        ChartKind::Bar => ChartType::Bar,
        ChartKind::Column => ChartType::Column,
        ChartKind::Line => ChartType::Line,
    });
    chart.title().set_name(report.title.as_str());
    for value in spec.values.iter().filter_map(|v| index(v.as_str())) {
        let value = col_num(value)?;
        chart
            .add_series()
            .set_categories((DATA_SHEET, 1, category, last, category))
            .set_values((DATA_SHEET, 1, value, last, value))
            .set_name((DATA_SHEET, 0, value));
    }
    chart.set_width(720).set_height(420);
    sheet.insert_chart(1, col_num(table.columns.len() + 1)?, &chart)?;
    Ok(())
}

/// The workbook of a report's result: sheet 数据 (bold filled header, frozen, autofilter, widths from the content,
/// numbers and dates as real values with number formats, NULL as `—`, the native chart to the right) and sheet
/// 参数 (报表, 说明, 导出人, 导出时间, then each filter).
pub fn report_workbook(
    report: &Report,
    table: &Table,
    meta: &ExportMeta,
    regions: &RegionTree,
) -> Result<Vec<u8>, XlsxError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(DATA_SHEET)?;
    write_table(sheet, table, &formats, regions)?;
    insert_chart(sheet, report, table)?;
    let head = [("报表", report.title.as_str()), ("说明", report.description.as_str())];
    write_params_sheet(workbook.add_worksheet(), &head, meta, &formats)?;
    workbook.save_to_buffer()
}

/// Streams a long list into a workbook written to `writer`, keeping memory constant (rust_xlsxwriter's constant
/// memory mode: rows go to a temporary file as they are written). Sheet 数据 has the bold header, frozen, with an
/// autofilter and fixed widths by format; sheet 参数 follows (导出人, 导出时间, each filter). `progress` is called
/// with the number of rows written every 1,000 rows and at the end. Regions are written as given (pass names as
/// text); kinds by their short label. More rows than Excel holds (1,048,575) is an error.
pub fn stream_rows<W: Write + Send>(
    mut writer: W,
    headers: &[(&str, ColumnFormat)],
    meta: &ExportMeta,
    rows: impl Iterator<Item = Vec<Cell>>,
    progress: &dyn Fn(u64),
) -> Result<W, XlsxError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet_with_constant_memory();
    sheet.set_name(DATA_SHEET)?;
    for (c, (title, format)) in headers.iter().enumerate() {
        let c = col_num(c)?;
        sheet.write_string_with_format(0, c, *title, &formats.header)?;
        sheet.set_column_width(c, fixed_width(*format, title))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let mut written: u64 = 0;
    let mut row: RowNum = 0;
    for cells in rows {
        row = row.checked_add(1).ok_or(XlsxError::RowColumnLimitError)?;
        for (c, (cell, (_, format))) in cells.iter().zip(headers).enumerate() {
            write_cell(sheet, (row, col_num(c)?), cell, *format, &formats, None)?;
        }
        written += 1;
        if written.is_multiple_of(PROGRESS_EVERY) {
            progress(written);
        }
    }
    if !headers.is_empty() {
        sheet.autofilter(0, 0, row, col_num(headers.len() - 1)?)?;
    }
    write_params_sheet(workbook.add_worksheet(), &[], meta, &formats)?;
    workbook.save_to_writer(&mut writer)?;
    progress(written);
    Ok(writer)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

    use super::*;
    use crate::reports::Catalog;

    fn meta() -> ExportMeta {
        ExportMeta {
            user: "张三（zhangsan）".into(),
            generated_at: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap().and_hms_opt(10, 0, 0).unwrap(),
            filters: vec![("统计期间".into(), "2026-01-01 至 2026-06-30".into()), ("地区".into(), "浙江省".into())],
        }
    }

    fn open(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
        open_workbook_from_rs(Cursor::new(bytes)).unwrap()
    }

    fn number(d: Option<&Data>) -> f64 {
        match d {
            Some(Data::Float(f)) => *f,
            Some(Data::Int(i)) => *i as f64,
            Some(Data::DateTime(t)) => t.as_f64(),
            other => panic!("not a number: {other:?}"),
        }
    }

    fn text(d: Option<&Data>) -> String {
        match d {
            Some(Data::String(s)) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    fn serial(y: u16, m: u8, d: u8) -> f64 {
        ExcelDateTime::from_ymd(y, m, d).unwrap().to_excel()
    }

    #[test]
    fn report_workbook_round_trip() {
        let regions = crate::setup::load_regions(None).unwrap();
        let catalog = Catalog::builtin().unwrap();
        let report = catalog.get("survey_by_region").unwrap();
        let table = Table {
            columns: report.columns.clone(),
            rows: vec![
                vec![Cell::Int(330100), Cell::Int(1234), Cell::Int(8), Cell::Int(3), Cell::Float(0.375)],
                vec![Cell::Int(330200), Cell::Int(0), Cell::Int(0), Cell::Int(0), Cell::Null],
            ],
        };
        let bytes = report_workbook(report, &table, &meta(), &regions).unwrap();
        assert!(bytes.windows(20).any(|w| w == b"xl/charts/chart1.xml"), "the chart is in the package");
        let mut book = open(bytes);
        assert_eq!(book.sheet_names(), vec![DATA_SHEET.to_string(), PARAMS_SHEET.to_string()]);

        let data = book.worksheet_range(DATA_SHEET).unwrap();
        assert_eq!(data.get_size(), (3, 5));
        let titles: Vec<String> = (0..5).map(|c| text(data.get_value((0, c)))).collect();
        assert_eq!(titles, ["地区", "踏勘频次数", "整改意见数量", "整改反馈数量", "整改反馈率"]);
        assert_eq!(text(data.get_value((1, 0))), "杭州市");
        assert_eq!(number(data.get_value((1, 1))), 1234.0);
        assert_eq!(number(data.get_value((1, 4))), 0.375, "percent stored as a fraction");
        assert_eq!(text(data.get_value((2, 0))), "宁波市");
        assert_eq!(text(data.get_value((2, 4))), "—");

        let params = book.worksheet_range(PARAMS_SHEET).unwrap();
        let rows: Vec<(String, String)> =
            (0..6).map(|r| (text(params.get_value((r, 0))), text(params.get_value((r, 1))))).collect();
        let expected = [
            ("报表", report.title.as_str()),
            ("说明", report.description.as_str()),
            ("导出人", "张三（zhangsan）"),
            ("导出时间", "2026-05-01 10:00:00"),
            ("统计期间", "2026-01-01 至 2026-06-30"),
            ("地区", "浙江省"),
        ];
        assert_eq!(rows, expected.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn months_are_real_dates_and_an_empty_table_has_no_chart() {
        let regions = crate::setup::load_regions(None).unwrap();
        let catalog = Catalog::builtin().unwrap();
        let report = catalog.get("survey_by_month").unwrap();
        let month = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let table = Table {
            columns: report.columns.clone(),
            rows: vec![vec![Cell::Date(month), Cell::Int(3), Cell::Int(3), Cell::Int(2), Cell::Float(2.0 / 3.0)]],
        };
        let mut book = open(report_workbook(report, &table, &meta(), &regions).unwrap());
        let data = book.worksheet_range(DATA_SHEET).unwrap();
        assert!(matches!(data.get_value((1, 0)), Some(Data::DateTime(_))), "{:?}", data.get_value((1, 0)));
        assert_eq!(number(data.get_value((1, 0))), serial(2026, 3, 1));

        let empty = Table { columns: report.columns.clone(), rows: vec![] };
        let bytes = report_workbook(report, &empty, &meta(), &regions).unwrap();
        assert!(!bytes.windows(20).any(|w| w == b"xl/charts/chart1.xml"));
        assert_eq!(open(bytes).worksheet_range(DATA_SHEET).unwrap().get_size(), (1, 5));
    }

    #[test]
    fn column_widths_count_cjk_double() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("杭州市"), 6);
        assert_eq!(text_width("（未登记）"), 10);
        assert_eq!(column_width(1), 8.0);
        assert_eq!(column_width(10), 13.0);
        assert_eq!(column_width(200), 50.0);
    }

    #[test]
    fn streaming_ten_thousand_rows() {
        let headers = [
            ("编号", ColumnFormat::Integer),
            ("名称", ColumnFormat::Text),
            ("类型", ColumnFormat::Kind),
            ("开始日期", ColumnFormat::Date),
            ("提交时间", ColumnFormat::DateTime),
            ("比例", ColumnFormat::Percent),
        ];
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let n: i64 = 10_000;
        let rows = (1..=n).map(|i| {
            vec![
                Cell::Int(i),
                Cell::Text(format!("活动{i}")),
                Cell::Text("sports".into()),
                Cell::Date(day),
                Cell::DateTime(day.and_hms_opt(14, 30, 0).unwrap()),
                if i % 2 == 0 { Cell::Float(0.5) } else { Cell::Null },
            ]
        });
        let calls = std::cell::RefCell::new(Vec::new());
        let out =
            stream_rows(Cursor::new(Vec::new()), &headers, &meta(), rows, &|k| calls.borrow_mut().push(k)).unwrap();
        let calls = calls.into_inner();
        assert_eq!(calls.len(), 11);
        assert_eq!(calls.last(), Some(&10_000));

        let mut book = open(out.into_inner());
        assert_eq!(book.sheet_names(), vec![DATA_SHEET.to_string(), PARAMS_SHEET.to_string()]);
        let data = book.worksheet_range(DATA_SHEET).unwrap();
        assert_eq!(data.get_size(), (10_001, 6));
        assert_eq!(text(data.get_value((0, 4))), "提交时间");
        assert_eq!(number(data.get_value((10_000, 0))), 10_000.0);
        assert_eq!(text(data.get_value((10_000, 1))), "活动10000");
        assert_eq!(text(data.get_value((10_000, 2))), "体育比赛");
        assert_eq!(number(data.get_value((10_000, 3))), serial(2026, 3, 1));
        let at = number(data.get_value((10_000, 4))) - serial(2026, 3, 1);
        assert!((at - 14.5 / 24.0).abs() < 1e-9, "{at}");
        assert_eq!(number(data.get_value((10_000, 5))), 0.5);
        assert_eq!(text(data.get_value((9_999, 5))), "—");
        let params = book.worksheet_range(PARAMS_SHEET).unwrap();
        assert_eq!(text(params.get_value((0, 0))), "导出人");
        assert_eq!(text(params.get_value((1, 1))), "2026-05-01 10:00:00");
        assert_eq!(text(params.get_value((3, 1))), "浙江省");
    }
}
