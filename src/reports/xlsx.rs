//! Excel export: a report as a workbook (sheet 数据 with the table and its native chart, sheet 参数 with who exported
//! what and with which filters), and a streaming writer for long lists (许可管理) that keeps memory constant.

use std::io::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_xlsxwriter::{
    Chart as XlsxChart, ChartType, ColNum, Color, ExcelDateTime, Format, FormatAlign, FormatBorder, RowNum, Workbook,
    Worksheet, XlsxError, utility,
};

pub use super::ColumnFormat;
use super::{Cell, ChartKind, Report, Table, display_as, kind_label};
use crate::domain::region::RegionTree;

/// The name of the data sheet.
pub const DATA_SHEET: &str = "数据";
/// The name of the sheet with the export's parameters.
pub const PARAMS_SHEET: &str = "参数";

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

/// What one cell becomes in a sheet: a number in its column's number format, or text.
enum SheetValue<'a> {
    Number(f64),
    Integer(i64),
    Text(std::borrow::Cow<'a, str>),
}

/// The value of `cell` in a column of `format` — numbers and dates as real values, regions and kinds as names —,
/// `None` for NULL (written as `—` in the NULL style). Without a region tree a region is its code. The one rule
/// for both writers: rust_xlsxwriter's ([`write_cell`]) and the streamed rows' XML ([`write_row_xml`]).
fn sheet_value<'a>(cell: &'a Cell, format: ColumnFormat, regions: Option<&RegionTree>) -> Option<SheetValue<'a>> {
    use ColumnFormat as F;
    let shown = || SheetValue::Text(display_as(cell, format, regions).into());
    Some(match (format, cell) {
        (_, Cell::Null) => return None,
        (F::Integer | F::Decimal | F::Percent, Cell::Int(i)) => SheetValue::Integer(*i),
        // NaN and infinities are no Excel numbers (the file would be refused as damaged): written as text.
        (F::Integer | F::Decimal | F::Percent, Cell::Float(x)) if x.is_finite() => SheetValue::Number(*x),
        (F::Date | F::Month | F::DateTime, Cell::Date(d)) => {
            excel_date(*d).map_or_else(shown, |d| SheetValue::Number(d.to_excel()))
        }
        (F::Date | F::Month | F::DateTime, Cell::DateTime(t)) => {
            excel_datetime(*t).map_or_else(shown, |d| SheetValue::Number(d.to_excel()))
        }
        (F::Kind, Cell::Text(code)) => SheetValue::Text(kind_label(code).unwrap_or(code.as_str()).into()),
        // Text is shown as it is in every other column (as `display_as` shows it), without a copy.
        (_, Cell::Text(s)) => SheetValue::Text(s.as_str().into()),
        _ => shown(),
    })
}

/// Writes one cell through rust_xlsxwriter, its value by [`sheet_value`].
fn write_cell(
    sheet: &mut Worksheet,
    (row, col): (RowNum, ColNum),
    cell: &Cell,
    format: ColumnFormat,
    formats: &Formats,
    regions: Option<&RegionTree>,
) -> Result<(), XlsxError> {
    let f = formats.for_format(format);
    match sheet_value(cell, format, regions) {
        None => sheet.write_string_with_format(row, col, "—", &formats.missing)?,
        // Exact up to 2^53; beyond that Excel itself cannot hold the value.
        Some(SheetValue::Integer(i)) => sheet.write_number_with_format(row, col, i as f64, f)?,
        Some(SheetValue::Number(x)) => sheet.write_number_with_format(row, col, x, f)?,
        Some(SheetValue::Text(text)) => sheet.write_string_with_format(row, col, text.as_ref(), f)?,
    };
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

/// Compression level of a streamed workbook. Level 6 (rust_xlsxwriter's, fixed) deflated the 1,000,000-row list at
/// about 80 MB of XML a second, longer than the rest of the export together; level 2 is about three times as fast
/// for a file about a fifth larger (figures in the README's benchmark section).
const STREAM_LEVEL: u32 = 2;
/// Sheet XML handed to the compressing thread at a time.
const STREAM_PART: usize = 256 * 1024;
/// The data sheet in the package rust_xlsxwriter writes.
const DATA_SHEET_ENTRY: &str = "xl/worksheets/sheet1.xml";

/// The workbook around streamed rows, as rust_xlsxwriter writes it: the package's entries (the data sheet's slot
/// `None`), the data sheet's XML before and after its rows, and the style (xf index) rust_xlsxwriter gave each
/// column's format and the NULL cell's.
struct Frame {
    entries: Vec<(String, Option<Vec<u8>>)>,
    head: String,
    tail: String,
    styles: Vec<u32>,
    missing: u32,
}

fn layout_error(what: &str) -> XlsxError {
    XlsxError::ParameterError(format!("unexpected worksheet layout from rust_xlsxwriter: {what}"))
}

/// Builds the workbook of a streamed list of `rows` rows with rust_xlsxwriter — sheet 数据 with the bold header,
/// frozen, fixed widths by format and the autofilter over all rows; sheet 参数 — plus a probe row with one blank
/// cell in each column's format and one in the NULL format, and takes it apart around the rows.
fn frame(headers: &[(&str, ColumnFormat)], meta: &ExportMeta, rows: usize) -> Result<Frame, XlsxError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(DATA_SHEET)?;
    for (c, (title, format)) in headers.iter().enumerate() {
        let c = col_num(c)?;
        sheet.write_string_with_format(0, c, *title, &formats.header)?;
        sheet.set_column_width(c, fixed_width(*format, title))?;
        sheet.write_blank(1, c, formats.for_format(*format))?;
    }
    sheet.write_blank(2, 0, &formats.missing)?;
    sheet.set_freeze_panes(1, 0)?;
    if !headers.is_empty() {
        // Beyond Excel's last row this is an error: more rows than a sheet holds are refused here.
        sheet.autofilter(0, 0, row_num(rows)?, col_num(headers.len() - 1)?)?;
    }
    write_params_sheet(workbook.add_worksheet(), &[], meta, &formats)?;
    let package = workbook.save_to_buffer()?;

    let mut archive =
        ::zip::ZipArchive::new(std::io::Cursor::new(package)).map_err(|e| layout_error(&e.to_string()))?;
    let mut entries = Vec::with_capacity(archive.len());
    let mut sheet_xml = None;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| layout_error(&e.to_string()))?;
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)?;
        let name = entry.name().to_string();
        if name == DATA_SHEET_ENTRY {
            sheet_xml = Some(String::from_utf8(data).map_err(|_| layout_error("sheet not UTF-8"))?);
            entries.push((name, None));
        } else {
            entries.push((name, Some(data)));
        }
    }
    let xml = sheet_xml.ok_or_else(|| layout_error("no data sheet"))?;
    let probe = xml.find("<row r=\"2\"").ok_or_else(|| layout_error("no probe row"))?;
    let end = xml.find("</sheetData>").ok_or_else(|| layout_error("no sheetData"))?;
    let style = |cell: &str| -> u32 {
        let attrs = cell.split('>').next().unwrap_or("");
        attrs.split_once(" s=\"").and_then(|(_, v)| v.split('"').next()?.parse().ok()).unwrap_or(0)
    };
    let probes: Vec<u32> = xml.get(probe..end).unwrap_or("").split("<c ").skip(1).map(style).collect();
    if probes.len() != headers.len() + 1 {
        return Err(layout_error("probe cells"));
    }
    let mut head = xml[..probe].to_string();
    if let (Some(last), Some(at)) = (headers.len().checked_sub(1), head.find("<dimension ref=\"")) {
        let from = at + "<dimension ref=\"".len();
        let to = from + head[from..].find('"').ok_or_else(|| layout_error("dimension"))?;
        let range = format!("A1:{}{}", utility::column_number_to_name(col_num(last)?), rows + 1);
        head.replace_range(from..to, &range);
    }
    Ok(Frame {
        entries,
        head,
        tail: xml[end..].to_string(),
        styles: probes[..headers.len()].to_vec(),
        missing: probes[headers.len()],
    })
}

/// Appends `text` as XML character data the way rust_xlsxwriter does: `&`, `<`, `>` as entities; control
/// characters other than tab and newline (and U+FFFE, U+FFFF) as Excel's `_xHHHH_`; a literal `_xHHHH_` with its
/// underscore escaped (`_x005F_xHHHH_`), so that Excel shows it as typed.
fn escape_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut plain = 0;
    for (i, ch) in text.char_indices() {
        let escaped: Option<std::borrow::Cow<'static, str>> = match ch {
            '&' => Some("&amp;".into()),
            '<' => Some("&lt;".into()),
            '>' => Some("&gt;".into()),
            '\t' | '\n' => None,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => Some(format!("_x{:04X}_", u32::from(ch)).into()),
            '_' if bytes.len() >= i + 7
                && bytes[i + 1] == b'x'
                && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
                && bytes[i + 6] == b'_' =>
            {
                Some("_x005F_".into())
            }
            _ => None,
        };
        if let Some(e) = escaped {
            out.extend_from_slice(&bytes[plain..i]);
            out.extend_from_slice(e.as_bytes());
            plain = i + ch.len_utf8();
        }
    }
    out.extend_from_slice(&bytes[plain..]);
}

/// Appends row `row` (1-based, as Excel numbers rows) of `cells` to `out`.
fn write_row_xml(out: &mut Vec<u8>, frame: &Frame, columns: &[(String, ColumnFormat)], row: usize, cells: &[Cell]) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "<row r=\"{row}\">");
    for (((name, format), style), cell) in columns.iter().zip(&frame.styles).zip(cells) {
        let (value, style) = match sheet_value(cell, *format, None) {
            Some(v) => (v, *style),
            None => (SheetValue::Text("—".into()), frame.missing),
        };
        let _ = write!(out, "<c r=\"{name}{row}\"");
        if style > 0 {
            let _ = write!(out, " s=\"{style}\"");
        }
        let _ = match value {
            SheetValue::Integer(i) => write!(out, "><v>{i}</v></c>"),
            SheetValue::Number(x) => write!(out, "><v>{x}</v></c>"),
            SheetValue::Text(text) => {
                let preserve = [' ', '\t', '\n'];
                if text.starts_with(preserve) || text.ends_with(preserve) {
                    out.extend_from_slice(b" t=\"inlineStr\"><is><t xml:space=\"preserve\">");
                } else {
                    out.extend_from_slice(b" t=\"inlineStr\"><is><t>");
                }
                escape_text(out, &text);
                out.write_all(b"</t></is></c>")
            }
        };
    }
    out.extend_from_slice(b"</row>");
}

/// Streams a long list of exactly `rows` rows into a workbook written to `writer`, with constant memory: the rows'
/// XML is written on this thread and deflated into the package on a second one while later rows are still coming.
/// The workbook around the rows — sheet 数据 with the bold header, frozen, fixed widths by format, the autofilter,
/// the styles; sheet 参数 (导出人, 导出时间, each filter) — is rust_xlsxwriter's, and the rows are written as its
/// constant-memory mode writes them (inline strings, numbers and dates as values in the column's format, NULL as
/// `—`). Regions are written as given (pass names as text); kinds by their short label. More rows than Excel holds
/// is an error, and so is a different number of rows than announced (the rows' source failed): then the package
/// is left without its directory, so the client never receives a complete-looking file.
pub fn stream_rows<W: Write + Send>(
    writer: W,
    headers: &[(&str, ColumnFormat)],
    meta: &ExportMeta,
    rows: usize,
    cells: impl Iterator<Item = Vec<Cell>>,
) -> Result<W, XlsxError> {
    let frame = frame(headers, meta, rows)?;
    let columns: Vec<(String, ColumnFormat)> = headers
        .iter()
        .enumerate()
        .map(|(c, (_, f))| Ok((utility::column_number_to_name(col_num(c)?), *f)))
        .collect::<Result<_, XlsxError>>()?;
    let (parts, received) = std::sync::mpsc::sync_channel::<Option<Vec<u8>>>(4);
    std::thread::scope(|scope| {
        let entries = &frame.entries;
        let packer = scope.spawn(move || -> std::io::Result<W> {
            let mut zip = super::zipout::ZipOut::new(writer, STREAM_LEVEL);
            for (name, data) in entries {
                match data {
                    Some(data) => zip.add(name, data)?,
                    None => zip.add_streamed(name, received.iter())?,
                }
            }
            zip.finish()
        });
        let produced = (|| -> Result<(), XlsxError> {
            let gone =
                || XlsxError::IoError(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "package writer stopped"));
            let mut buf = Vec::with_capacity(STREAM_PART + 4096);
            buf.extend_from_slice(frame.head.as_bytes());
            let mut written = 0;
            for row in cells {
                written += 1;
                if written > rows {
                    return Err(XlsxError::ParameterError(format!("more rows than the {rows} announced")));
                }
                write_row_xml(&mut buf, &frame, &columns, written + 1, &row);
                if buf.len() >= STREAM_PART {
                    let full = std::mem::replace(&mut buf, Vec::with_capacity(STREAM_PART + 4096));
                    parts.send(Some(full)).map_err(|_| gone())?;
                }
            }
            if written != rows {
                return Err(XlsxError::ParameterError(format!("{written} rows of the {rows} announced")));
            }
            buf.extend_from_slice(frame.tail.as_bytes());
            parts.send(Some(buf)).map_err(|_| gone())?;
            parts.send(None).map_err(|_| gone())
        })();
        // Without the end mark the packer stops with an error and writes no directory.
        drop(parts);
        let packed = packer.join().map_err(|_| XlsxError::ParameterError("the package writer panicked".into()))?;
        match (produced, packed) {
            (Ok(()), Ok(writer)) => Ok(writer),
            // The rows stopped because the package could not be written (the client has gone): that is the cause.
            (Err(XlsxError::IoError(e)), Err(cause)) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(cause.into()),
            (Err(e), _) => Err(e),
            (Ok(()), Err(cause)) => Err(cause.into()),
        }
    })
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
        let out = stream_rows(Cursor::new(Vec::new()), &headers, &meta(), 10_000, rows).unwrap();

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

    /// The number format code of every cell of row `row` of a workbook's first sheet, by column letter: the cell's
    /// style (its `s`) looked up in styles.xml's cellXfs and numFmts.
    fn number_formats(bytes: &[u8], row: usize) -> Vec<(String, String)> {
        let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
        let mut read = |name: &str| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut archive.by_name(name).unwrap(), &mut text).unwrap();
            text
        };
        let (sheet, styles) = (read(DATA_SHEET_ENTRY), read("xl/styles.xml"));
        let attr = |tag: &str, name: &str| -> Option<String> {
            let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
            Some(tag[at..].split('"').next()?.to_string())
        };
        let custom: Vec<(String, String)> = styles
            .split("<numFmt ")
            .skip(1)
            .map(|t| (attr(&format!(" {t}"), "numFmtId").unwrap(), attr(t, "formatCode").unwrap()))
            .collect();
        let xfs: Vec<String> = styles
            .split("<cellXfs")
            .nth(1)
            .unwrap()
            .split("</cellXfs>")
            .next()
            .unwrap()
            .split("<xf ")
            .skip(1)
            .map(|t| attr(&format!(" {t}"), "numFmtId").unwrap_or_else(|| "0".into()))
            .collect();
        let start = sheet.find(&format!("<row r=\"{row}\"")).unwrap();
        let row_xml = &sheet[start..start + sheet[start..].find("</row>").unwrap()];
        row_xml
            .split("<c ")
            .skip(1)
            .map(|c| {
                let tag = format!(" {}", c.split('>').next().unwrap());
                let tag = tag.as_str();
                let col: String = attr(tag, "r").unwrap().chars().filter(char::is_ascii_alphabetic).collect();
                let xf: usize = attr(tag, "s").map_or(0, |v| v.parse().unwrap());
                let id = &xfs[xf];
                let code =
                    custom.iter().find(|(i, _)| i == id).map_or_else(|| format!("builtin {id}"), |(_, c)| c.clone());
                (col, code)
            })
            .collect()
    }

    /// The same rows streamed and written cell by cell through rust_xlsxwriter (`write_cell`) read back alike:
    /// values, types and number formats.
    #[test]
    fn streamed_rows_match_rust_xlsxwriter_cell_by_cell() {
        use ColumnFormat as F;
        let headers = [
            ("文本", F::Text),
            ("类型", F::Kind),
            ("人数", F::Integer),
            ("金额", F::Decimal),
            ("比例", F::Percent),
            ("日期", F::Date),
            ("月份", F::Month),
            ("时间", F::DateTime),
            ("地区", F::Region),
        ];
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let rows: Vec<Vec<Cell>> = vec![
            vec![
                Cell::Text("西湖 <音乐> & 节".into()),
                Cell::Text("sports".into()),
                Cell::Int(12_345),
                Cell::Float(1234.5),
                Cell::Float(0.375),
                Cell::Date(day),
                Cell::Date(day),
                Cell::DateTime(day.and_hms_opt(19, 30, 15).unwrap()),
                Cell::Text("西湖区、上城区".into()),
            ],
            vec![
                Cell::Null,
                Cell::Text("unknown-kind".into()),
                Cell::Float(2.5),
                Cell::Int(-7),
                Cell::Null,
                Cell::DateTime(day.and_hms_opt(8, 0, 0).unwrap()),
                Cell::Text("2026-03".into()),
                Cell::Date(NaiveDate::from_ymd_opt(1800, 1, 1).unwrap()),
                Cell::Int(330106),
            ],
            vec![
                Cell::Text(" 前后空格 ".into()),
                Cell::Text("\u{1}控制_x0041_字符\r\n".into()),
                Cell::Float(f64::NAN),
                Cell::Text("十二".into()),
                Cell::Int(1),
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        ];
        let streamed = stream_rows(Vec::new(), &headers, &meta(), rows.len(), rows.clone().into_iter()).unwrap();

        let formats = Formats::new();
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(DATA_SHEET).unwrap();
        for (c, (title, _)) in headers.iter().enumerate() {
            sheet.write_string_with_format(0, col_num(c).unwrap(), *title, &formats.header).unwrap();
        }
        for (r, cells) in rows.iter().enumerate() {
            for (c, (cell, (_, format))) in cells.iter().zip(&headers).enumerate() {
                let at = (row_num(r + 1).unwrap(), col_num(c).unwrap());
                write_cell(sheet, at, cell, *format, &formats, None).unwrap();
            }
        }
        let direct = workbook.save_to_buffer().unwrap();

        let (mut a, mut b) = (open(streamed.clone()), open(direct.clone()));
        let (ra, rb) = (a.worksheet_range(DATA_SHEET).unwrap(), b.worksheet_range(DATA_SHEET).unwrap());
        assert_eq!(ra.get_size(), rb.get_size());
        for (r, (x, y)) in ra.rows().zip(rb.rows()).enumerate() {
            assert_eq!(x, y, "row {r}");
        }
        for row in 2..=4 {
            assert_eq!(number_formats(&streamed, row), number_formats(&direct, row), "formats of row {row}");
        }
        let formats = number_formats(&streamed, 2);
        assert_eq!(formats[7], ("H".to_string(), "yyyy-mm-dd hh:mm".to_string()));
        assert_eq!(text(ra.get_value((3, 1))), "\u{1}控制_x0041_字符\r\n", "escapes read back as typed");
        assert_eq!(text(ra.get_value((3, 0))), " 前后空格 ");
    }

    #[test]
    fn fewer_or_more_rows_than_announced_leave_no_complete_file() {
        let headers = [("编号", ColumnFormat::Integer)];
        let rows = |n: i64| (0..n).map(|i| vec![Cell::Int(i)]);
        for (announced, given) in [(5, 3), (3, 5)] {
            let mut out = Vec::new();
            let result = stream_rows(&mut out, &headers, &meta(), announced, rows(given));
            assert!(result.is_err(), "{given} rows of {announced} announced");
            assert!(!out.windows(4).any(|w| w == b"PK\x05\x06"), "no end of central directory");
        }
        let out = stream_rows(Vec::new(), &headers, &meta(), 0, rows(0)).unwrap();
        let mut book = open(out);
        assert_eq!(book.worksheet_range(DATA_SHEET).unwrap().get_size(), (1, 1), "the header alone");
    }

    #[test]
    fn more_rows_than_excel_holds_are_refused_before_any_is_written() {
        let headers = [("编号", ColumnFormat::Integer)];
        let mut out = Vec::new();
        let err = stream_rows(&mut out, &headers, &meta(), 1_048_576, std::iter::empty()).unwrap_err();
        assert!(matches!(err, XlsxError::RowColumnLimitError), "{err:?}");
        assert!(out.is_empty());
    }
}
