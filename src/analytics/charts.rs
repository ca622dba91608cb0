//! SVG charts for the statistics pages and the situation wall screen: ranked horizontal bars and columns by month,
//! drawn with plotters' SVG backend into a string.
//!
//! Without plotters' `ttf` feature text stays text: the backend writes `<text font-family="…" font-size="…">` and only
//! estimates widths, so the browser renders the Chinese labels with the CJK font named in [`FONT`]. plotters-svg
//! writes `font-size` as the style size divided by 1.24, which `text_style` compensates so the sizes below are the
//! CSS pixel sizes in the SVG. It escapes `<`, `>`, `&` and quotes in text and attribute values; control characters,
//! which XML forbids, are replaced here. Every chart gets `role="img"`, an `aria-label` and a `<title>` holding the
//! chart title; plotters already writes `width`, `height` and `viewBox`.

use plotters::coord::Shift;
use plotters::prelude::{
    Color, DrawingArea, DrawingAreaErrorKind, FontDesc, FontFamily, FontStyle, IntoDrawingArea, PathElement, RGBColor,
    Rectangle, SVGBackend, TextStyle, WHITE,
};
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font family list of every chart text (CSS syntax): the CJK fonts of Linux, Windows and macOS in turn.
pub const FONT: &str = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif";

/// The fill of a region without data (the caller adds hatching).
pub const NO_DATA: &str = "#d9d9d9";

/// The fill of a region whose value is zero: lighter than the lightest class colour.
pub const ZERO: &str = "#fbfbf7";

/// The most bars [`hbar`] draws (the first ones; callers pass a top-N list).
pub const MAX_BARS: usize = 15;

/// The most columns [`columns`] draws (the last ones: three years of months).
pub const MAX_COLUMNS: usize = 36;

/// The text shown instead of a chart without items.
pub const EMPTY_TEXT: &str = "暂无数据";

/// ColorBrewer OrRd (Cynthia Brewer, Penn State; Apache-2.0 licence) for 3 to 9 classes, light to dark.
const ORRD: [&[&str]; 7] = [
    &["#fee8c8", "#fdbb84", "#e34a33"],
    &["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"],
    &["#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"],
    &["#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"],
    &["#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000"],
    &["#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000"],
    &["#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#b30000", "#7f0000"],
];

/// The bar and column colour: a dark OrRd red.
const BAR_COLOUR: &str = "#d7301f";
const TEXT_COLOUR: RGBColor = RGBColor(0x33, 0x33, 0x33);
const MUTED_COLOUR: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID_COLOUR: RGBColor = RGBColor(0xe3, 0xe3, 0xe3);
const AXIS_COLOUR: RGBColor = RGBColor(0x99, 0x99, 0x99);

/// CSS pixel sizes of the texts (wall-screen legible).
const TITLE_PX: f64 = 28.0;
const LABEL_PX: f64 = 20.0;
const TICK_PX: f64 = 18.0;
const EMPTY_PX: f64 = 24.0;
/// plotters-svg writes `font-size = size / 1.24`; sizes are multiplied by this to come out as given.
const SVG_FONT_SCALE: f64 = 1.24;
const MARGIN: f64 = 16.0;
/// Sizes are clamped to this range so that degenerate or absurd requests still give a usable SVG.
const MIN_SIZE: (u32, u32) = (240, 160);
const MAX_SIDE: u32 = 8000;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The ColorBrewer OrRd colours (`#rrggbb`) for `k` classes, light to dark; `k` is clamped to 1..=9. One and two
/// classes take the darker colours of the three-class scheme so they stand out from [`ZERO`].
pub fn sequential(k: usize) -> Vec<&'static str> {
    match k.clamp(1, 9) {
        1 => vec!["#e34a33"],
        2 => vec!["#fdbb84", "#e34a33"],
        k => ORRD.get(k - 3).map(|scheme| scheme.to_vec()).unwrap_or_default(),
    }
}

/// A number with thousands separators: integers as such (`1234567` → `1,234,567`), other values with one decimal
/// (`1234.56` → `1,234.6`); `—` for NaN and infinities.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let text = if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { format!("{v:.1}") };
    group_digits(&text)
}

/// A ranked horizontal bar chart: labels on the left, bars in one dark colour, the value at each bar's end
/// (`12,345`, or `37.5%` when `percent`: the values are then fractions, 0.375 → `37.5%`). At most [`MAX_BARS`] bars (fewer
/// when `size` is too low for them); bar lengths are relative to the largest value. No items: the title and
/// [`EMPTY_TEXT`].
pub fn hbar(title: &str, items: &[(String, f64)], percent: bool, size: (u32, u32)) -> String {
    let title = clean_title(title);
    let rows: Vec<Row> = items
        .iter()
        .take(MAX_BARS)
        .map(|(label, value)| Row::new(label, *value, if percent { percent_text(*value) } else { thousands(*value) }))
        .collect();
    render(&title, size, |root| draw_hbar(root, &title, &rows))
}

/// A column chart (e.g. one column per month, labelled `2026-01`) with a value axis from zero in thousands
/// notation, `y_label` as the axis caption above it and each value above its column when there is room. At most the
/// last [`MAX_COLUMNS`] items. No items: the title and [`EMPTY_TEXT`].
pub fn columns(title: &str, items: &[(String, f64)], y_label: &str, size: (u32, u32)) -> String {
    let title = clean_title(title);
    let y_label = clean(y_label);
    let skip = items.len().saturating_sub(MAX_COLUMNS);
    let cols: Vec<Row> =
        items.iter().skip(skip).map(|(label, value)| Row::new(label, *value, thousands(*value))).collect();
    render(&title, size, |root| draw_columns(root, &title, &y_label, &cols))
}

/// One bar or column: its cleaned label, value and value text.
struct Row {
    label: String,
    value: f64,
    text: String,
}

impl Row {
    fn new(label: &str, value: f64, text: String) -> Self {
        let label = clean(label);
        let label = if label.is_empty() { "—".to_string() } else { label };
        Row { label, value, text }
    }

    /// The length of the bar as a share of `max` (0 for values that are not finite and positive).
    fn share(&self, max: f64) -> f64 {
        if self.value.is_finite() && self.value > 0.0 && max.is_finite() && max > 0.0 {
            (self.value / max).min(1.0)
        } else {
            0.0
        }
    }
}

/// Draws into a fresh SVG of `size` and adds the accessibility markup.
fn render(title: &str, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> String {
    let size = (size.0.clamp(MIN_SIZE.0, MAX_SIDE), size.1.clamp(MIN_SIZE.1, MAX_SIDE));
    let mut buf = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).and_then(|()| draw(&root)).and_then(|()| root.present())
    };
    // The string backend cannot fail; should it, the caller still gets a valid SVG.
    if drawn.is_err() {
        return fallback(title, size);
    }
    decorate(&buf, title, size)
}

fn draw_hbar(root: &Area<'_>, title: &str, rows: &[Row]) -> Drawn {
    let (w, h) = dims(root);
    let top = draw_title(root, title, w)?;
    let bottom = h - MARGIN;
    let rows = &rows[..rows.len().min(rows_that_fit(bottom - top, LABEL_PX * 1.4, MAX_BARS))];
    if rows.is_empty() {
        return draw_empty(root, w, top, h);
    }
    let label_w = rows.iter().map(|r| text_width(&r.label, LABEL_PX)).fold(0.0, f64::max).min(w * 0.4);
    let value_w = rows.iter().map(|r| text_width(&r.text, LABEL_PX)).fold(0.0, f64::max).min(w * 0.3);
    let axis_x = MARGIN + label_w + 12.0;
    let bar_space = (w - MARGIN - value_w - 10.0 - axis_x).max(10.0);
    let max = rows.iter().map(|r| r.value).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let row_h = (bottom - top) / count_f64(rows.len());
    let bar_h = (row_h * 0.64).min(40.0);
    let bar_colour = hex_colour(BAR_COLOUR);
    let label_style = text_style(LABEL_PX, FontStyle::Normal, TEXT_COLOUR, HPos::Right, VPos::Center);
    let value_style = text_style(LABEL_PX, FontStyle::Normal, TEXT_COLOUR, HPos::Left, VPos::Center);
    for (i, row) in rows.iter().enumerate() {
        let cy = top + row_h * (count_f64(i) + 0.5);
        root.draw_text(&fit(&row.label, LABEL_PX, label_w), &label_style, (px(axis_x - 10.0), px(cy)))?;
        let len = row.share(max) * bar_space;
        if len >= 0.5 {
            let corners = [(px(axis_x), px(cy - bar_h / 2.0)), (px(axis_x + len), px(cy + bar_h / 2.0))];
            root.draw(&Rectangle::new(corners, bar_colour.filled()))?;
        }
        root.draw_text(&row.text, &value_style, (px(axis_x + len + 8.0), px(cy)))?;
    }
    line(root, (axis_x, top), (axis_x, bottom), AXIS_COLOUR)
}

fn draw_columns(root: &Area<'_>, title: &str, y_label: &str, cols: &[Row]) -> Drawn {
    let (w, h) = dims(root);
    let mut top = draw_title(root, title, w)?;
    if cols.is_empty() {
        return draw_empty(root, w, top, h);
    }
    if !y_label.is_empty() {
        let style = text_style(TICK_PX, FontStyle::Normal, MUTED_COLOUR, HPos::Left, VPos::Top);
        root.draw_text(&fit(y_label, TICK_PX, w - 2.0 * MARGIN), &style, (px(MARGIN), px(top)))?;
        top += TICK_PX * 1.3 + 6.0;
    }
    let max = cols.iter().map(|c| c.value).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let integers = cols.iter().all(|c| !c.value.is_finite() || c.value.fract() == 0.0);
    let axis = Axis::new(max, integers);
    let tick_w = axis.ticks().map(|t| text_width(&thousands(t), TICK_PX)).fold(0.0, f64::max);
    let plot = Plot {
        left: MARGIN + tick_w + 10.0,
        right: w - MARGIN,
        top: top + TICK_PX * 1.3,
        bottom: h - MARGIN - TICK_PX * 1.3 - 8.0,
    };
    draw_value_axis(root, &plot, &axis)?;
    draw_column_bars(root, &plot, axis.top(), cols)?;
    line(root, (plot.left, plot.bottom), (plot.right, plot.bottom), AXIS_COLOUR)
}

/// The pixel box of a column chart's plotting area.
struct Plot {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Plot {
    fn height(&self) -> f64 {
        (self.bottom - self.top).max(1.0)
    }

    /// The y pixel of `value` on an axis from 0 to `top`.
    fn y(&self, value: f64, top: f64) -> f64 {
        let share = if top > 0.0 && top.is_finite() { (value / top).clamp(0.0, 1.0) } else { 0.0 };
        self.bottom - share * self.height()
    }
}

/// Grid lines and tick labels of the value axis.
fn draw_value_axis(root: &Area<'_>, plot: &Plot, axis: &Axis) -> Drawn {
    let style = text_style(TICK_PX, FontStyle::Normal, MUTED_COLOUR, HPos::Right, VPos::Center);
    for tick in axis.ticks() {
        let y = plot.y(tick, axis.top());
        if tick > 0.0 {
            line(root, (plot.left, y), (plot.right, y), GRID_COLOUR)?;
        }
        root.draw_text(&thousands(tick), &style, (px(plot.left - 8.0), px(y)))?;
    }
    Ok(())
}

/// The columns, their values above them (when they fit the slot) and their labels below (thinned out when they do
/// not fit, the first one always shown).
fn draw_column_bars(root: &Area<'_>, plot: &Plot, axis_top: f64, cols: &[Row]) -> Drawn {
    let slot = (plot.right - plot.left).max(1.0) / count_f64(cols.len());
    let col_w = (slot * 0.66).min(72.0);
    let widest_label = cols.iter().map(|c| text_width(&c.label, TICK_PX)).fold(0.0, f64::max);
    let every = label_step(widest_label + 8.0, slot, cols.len());
    let colour = hex_colour(BAR_COLOUR);
    let value_style = text_style(TICK_PX, FontStyle::Normal, TEXT_COLOUR, HPos::Center, VPos::Bottom);
    let label_style = text_style(TICK_PX, FontStyle::Normal, TEXT_COLOUR, HPos::Center, VPos::Top);
    for (i, col) in cols.iter().enumerate() {
        let cx = plot.left + slot * (count_f64(i) + 0.5);
        let y = plot.bottom - col.share(axis_top) * plot.height();
        if plot.bottom - y >= 0.5 {
            let corners = [(px(cx - col_w / 2.0), px(y)), (px(cx + col_w / 2.0), px(plot.bottom))];
            root.draw(&Rectangle::new(corners, colour.filled()))?;
        }
        if text_width(&col.text, TICK_PX) <= slot - 2.0 {
            root.draw_text(&col.text, &value_style, (px(cx), px(y - 4.0)))?;
        }
        if i % every == 0 {
            let label = fit(&col.label, TICK_PX, slot * count_f64(every) - 4.0);
            root.draw_text(&label, &label_style, (px(cx), px(plot.bottom + 8.0)))?;
        }
    }
    Ok(())
}

/// A value axis from zero in "nice" steps (1, 2 or 5 × 10ⁿ; at least 1 for whole-number data).
struct Axis {
    step: f64,
    intervals: usize,
}

impl Axis {
    fn new(max: f64, integers: bool) -> Self {
        let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
        let raw = max / 5.0;
        // The decimal exponent is clamped to the f64 range first, so the cast cannot wrap (NaN becomes 0).
        let exponent = raw.log10().floor().clamp(-330.0, 330.0) as i32;
        let magnitude = 10f64.powi(exponent);
        let norm = raw / magnitude;
        let nice = if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
        let mut step = nice * magnitude;
        if integers {
            step = step.max(1.0);
        }
        if !step.is_finite() || step <= 0.0 {
            step = max;
        }
        let mut intervals = 1;
        while intervals < 10 && step * count_f64(intervals) < max {
            intervals += 1;
        }
        Axis { step, intervals }
    }

    fn top(&self) -> f64 {
        self.step * count_f64(self.intervals)
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + use<> {
        let step = self.step;
        (0..=self.intervals).map(move |i| step * count_f64(i))
    }
}

/// How many rows of at least `row_min` pixels fit into `space` (at least one, at most `cap`).
fn rows_that_fit(space: f64, row_min: f64, cap: usize) -> usize {
    let mut n = 1;
    while n < cap && count_f64(n + 1) * row_min <= space {
        n += 1;
    }
    n
}

/// Every how many slots of width `slot` a label of width `need` can be shown without overlapping.
fn label_step(need: f64, slot: f64, slots: usize) -> usize {
    let mut every = 1;
    while every < slots.max(1) && count_f64(every) * slot < need {
        every += 1;
    }
    every
}

/// The bold title centred at the top; returns the y where the chart body starts.
fn draw_title(root: &Area<'_>, title: &str, w: f64) -> Result<f64, DrawingAreaErrorKind<std::io::Error>> {
    let style = text_style(TITLE_PX, FontStyle::Bold, TEXT_COLOUR, HPos::Center, VPos::Top);
    root.draw_text(&fit(title, TITLE_PX, w - 2.0 * MARGIN), &style, (px(w / 2.0), px(MARGIN)))?;
    Ok(MARGIN + TITLE_PX * 1.2 + 12.0)
}

/// [`EMPTY_TEXT`] centred below the title.
fn draw_empty(root: &Area<'_>, w: f64, top: f64, h: f64) -> Drawn {
    let style = text_style(EMPTY_PX, FontStyle::Normal, MUTED_COLOUR, HPos::Center, VPos::Center);
    root.draw_text(EMPTY_TEXT, &style, (px(w / 2.0), px((top + h) / 2.0)))
}

fn line(root: &Area<'_>, from: (f64, f64), to: (f64, f64), colour: RGBColor) -> Drawn {
    root.draw(&PathElement::new(vec![(px(from.0), px(from.1)), (px(to.0), px(to.1))], colour.stroke_width(1)))
}

/// A text style in [`FONT`] of `size_px` CSS pixels, anchored at `h_pos`/`v_pos`.
fn text_style(size_px: f64, weight: FontStyle, colour: RGBColor, h_pos: HPos, v_pos: VPos) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FONT), size_px * SVG_FONT_SCALE, weight).color(&colour).pos(Pos::new(h_pos, v_pos))
}

fn dims(root: &Area<'_>) -> (f64, f64) {
    let (w, h) = root.dim_in_pixel();
    (f64::from(w), f64::from(h))
}

/// A pixel coordinate. Coordinates are clamped to ±10⁶ first, so the cast cannot wrap; NaN becomes 0.
fn px(v: f64) -> i32 {
    v.clamp(-1.0e6, 1.0e6).round() as i32
}

/// A count as a float (counts here are tiny; beyond 2³² the value saturates).
fn count_f64(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

fn hex_colour(hex: &str) -> RGBColor {
    let channel = |at: usize| hex.get(at..at + 2).and_then(|s| u8::from_str_radix(s, 16).ok()).unwrap_or(0);
    RGBColor(channel(1), channel(3), channel(5))
}

/// A fraction as a percentage with one decimal and thousands separators (`0.375` → `37.5%`); `—` for NaN and
/// infinities.
fn percent_text(fraction: f64) -> String {
    let v = fraction * 100.0;
    if !v.is_finite() {
        return "—".to_string();
    }
    format!("{}%", group_digits(&format!("{v:.1}")))
}

/// Inserts thousands separators into a formatted decimal number (`-1234.5` → `-1,234.5`); a negative zero loses
/// its sign.
fn group_digits(text: &str) -> String {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').map_or((body, None), |(int, frac)| (int, Some(frac)));
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 1);
    if negative && body.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        out.push('-');
    }
    let digits = int.chars().count();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// The estimated width of `c` in ems (CJK and other wide characters 1 em; plotters cannot measure SVG text).
fn char_em(c: char) -> f64 {
    match c {
        ' ' => 0.3,
        'A'..='Z' | 'm' | 'w' | '%' => 0.72,
        c if c.is_ascii() => 0.56,
        _ => 1.0,
    }
}

fn text_width(text: &str, size_px: f64) -> f64 {
    text.chars().map(char_em).sum::<f64>() * size_px
}

/// `text` cut to `max_w` pixels, with `…` when cut.
fn fit(text: &str, size_px: f64, max_w: f64) -> String {
    if text_width(text, size_px) <= max_w {
        return text.to_string();
    }
    let budget = max_w - size_px;
    let mut out = String::new();
    let mut used = 0.0;
    for c in text.chars() {
        let width = char_em(c) * size_px;
        if used + width > budget {
            break;
        }
        used += width;
        out.push(c);
    }
    out.push('…');
    out
}

/// `text` without the control characters and non-characters XML forbids, trimmed.
fn clean(text: &str) -> String {
    let cleaned: String =
        text.chars().map(|c| if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') { ' ' } else { c }).collect();
    cleaned.trim().to_string()
}

fn clean_title(title: &str) -> String {
    let title = clean(title);
    if title.is_empty() { "图表".to_string() } else { title }
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Adds `role="img"`, `aria-label` (and `viewBox` should plotters ever omit it) to the root element and a `<title>`
/// right after it.
fn decorate(svg: &str, title: &str, (w, h): (u32, u32)) -> String {
    let Some((start, end)) = svg.find("<svg").and_then(|start| svg[start..].find('>').map(|end| (start, start + end)))
    else {
        return fallback(title, (w, h));
    };
    let (head, tag, rest) = (&svg[..start], svg[start..end].trim_end_matches('/'), &svg[end + 1..]);
    let view_box = if tag.contains("viewBox=") { String::new() } else { format!(" viewBox=\"0 0 {w} {h}\"") };
    let title = escape(title);
    format!("{head}{tag}{view_box} role=\"img\" aria-label=\"{title}\">\n<title>{title}</title>{rest}")
}

/// A hand-written SVG with the title and [`EMPTY_TEXT`], for the case plotters fails.
fn fallback(title: &str, (w, h): (u32, u32)) -> String {
    let title = escape(title);
    let (cx, cy) = (w / 2, h / 2);
    let font = escape(FONT);
    format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"{title}\">\n<title>{title}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#FFFFFF\"/>\n\
         <text x=\"{cx}\" y=\"{MARGIN}\" dy=\"0.76em\" text-anchor=\"middle\" font-family=\"{font}\" \
         font-size=\"{TITLE_PX}\" font-weight=\"bold\" fill=\"#333333\">{title}</text>\n\
         <text x=\"{cx}\" y=\"{cy}\" dy=\"0.5ex\" text-anchor=\"middle\" font-family=\"{font}\" font-size=\"{EMPTY_PX}\" \
         fill=\"#666666\">{EMPTY_TEXT}</text>\n</svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small XML check: balanced tags, nothing but the five entities after `&`, no control characters.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(!svg.chars().any(|c| c.is_control() && c != '\n'), "control character in {svg}");
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            assert_entities(&rest[..open]);
            let close = open + rest[open..].find('>').expect("unclosed tag");
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "{tag}");
            assert_entities(tag);
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().expect("tag name"));
            }
            rest = &rest[close + 1..];
        }
        assert_entities(rest);
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    fn assert_entities(text: &str) {
        for (i, _) in text.match_indices('&') {
            let after = &text[i..];
            assert!(
                ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"].iter().any(|e| after.starts_with(e)),
                "bare & in {text}"
            );
        }
    }

    fn font_sizes(svg: &str) -> Vec<f64> {
        svg.split("font-size=\"")
            .skip(1)
            .map(|s| s.split('"').next().and_then(|n| n.parse().ok()).expect("font size"))
            .collect()
    }

    fn items(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|(l, v)| (l.to_string(), *v)).collect()
    }

    #[test]
    fn thousands_formats() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(-0.0), "0");
        assert_eq!(thousands(7.0), "7");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(12345.0), "12,345");
        assert_eq!(thousands(1234567.0), "1,234,567");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(thousands(1234.56), "1,234.6");
        assert_eq!(thousands(12.34), "12.3");
        assert_eq!(thousands(1e15), "1,000,000,000,000,000");
        assert_eq!(thousands(f64::NAN), "—");
        assert_eq!(thousands(f64::INFINITY), "—");
        assert_eq!(percent_text(0.375), "37.5%");
        assert_eq!(percent_text(1.0), "100.0%");
        assert_eq!(percent_text(0.0), "0.0%");
        assert_eq!(percent_text(12.34), "1,234.0%");
        assert_eq!(percent_text(f64::NAN), "—");
    }

    #[test]
    fn sequential_colours() {
        for k in 1..=9 {
            let colours = sequential(k);
            assert_eq!(colours.len(), k);
            for c in &colours {
                assert!(c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit()), "{c}");
            }
        }
        assert_eq!(sequential(0).len(), 1);
        assert_eq!(sequential(20).len(), 9);
        assert_eq!(sequential(9)[0], "#fff7ec");
        assert_eq!(sequential(9)[8], "#7f0000");
        assert_eq!(sequential(3), vec!["#fee8c8", "#fdbb84", "#e34a33"]);
        assert_eq!(hex_colour("#d7301f"), RGBColor(0xd7, 0x30, 0x1f));
    }

    #[test]
    fn hbar_has_labels_values_and_accessibility() {
        let svg =
            hbar("各市活动数", &items(&[("杭州市", 12345.0), ("宁波市", 8000.0), ("温州市", 0.0)]), false, (800, 480));
        assert_well_formed(&svg);
        assert!(svg.contains("width=\"800\"") && svg.contains("height=\"480\""));
        assert!(svg.contains("viewBox=\"0 0 800 480\""));
        assert_eq!(svg.matches("viewBox=").count(), 1);
        assert!(svg.contains("role=\"img\" aria-label=\"各市活动数\""));
        let title_at = svg.find("<title>各市活动数</title>").expect("title element");
        assert!(title_at < svg.find("<rect").expect("background"));
        for text in ["杭州市", "宁波市", "温州市", "12,345", "8,000", ">\n0\n</text>"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(svg.contains(&format!("font-family=\"{FONT}\"")));
        let sizes = font_sizes(&svg);
        assert!(sizes.iter().all(|s| *s >= 16.0), "{sizes:?}");
        assert!(sizes.iter().any(|s| *s >= 20.0));
        assert!(svg.contains("font-size=\"28\""));
    }

    #[test]
    fn hbar_percent() {
        let svg =
            hbar("活动比例", &items(&[("体育比赛", 0.375), ("文艺演出", 1.0), ("展览展销", 0.0)]), true, (560, 300));
        assert_well_formed(&svg);
        assert!(svg.contains("37.5%") && svg.contains("100.0%") && svg.contains("0.0%"));
        assert!(svg.contains("体育比赛") && svg.contains("展览展销"));
    }

    #[test]
    fn empty_charts_say_no_data() {
        for svg in [hbar("各市活动数", &[], false, (800, 480)), columns("月度趋势", &[], "件", (800, 480))] {
            assert_well_formed(&svg);
            assert!(svg.contains(EMPTY_TEXT));
            assert!(svg.contains("viewBox="));
            assert!(svg.contains("<title>"));
        }
        assert!(fallback("标题", (300, 200)).contains(EMPTY_TEXT));
        assert_well_formed(&fallback("a<b", (300, 200)));
    }

    #[test]
    fn text_is_escaped_and_cleaned() {
        let svg =
            hbar("A<B & \"C\"", &items(&[("x<y&z", 1.0), ("bad\u{0}\u{7}name", 2.0), ("", 3.0)]), false, (800, 480));
        assert_well_formed(&svg);
        assert!(svg.contains("<title>A&lt;B &amp; &quot;C&quot;</title>"));
        assert!(svg.contains("aria-label=\"A&lt;B &amp; &quot;C&quot;\""));
        assert!(svg.contains("x&lt;y&amp;z"));
        assert!(svg.contains("bad  name"));
        let svg = columns("", &items(&[("1'2", 1.0)]), "<件>", (800, 480));
        assert_well_formed(&svg);
        assert!(svg.contains("&lt;件&gt;") && svg.contains("1&apos;2") && svg.contains("<title>图表</title>"));
    }

    #[test]
    fn bars_are_capped() {
        let many: Vec<(String, f64)> = (0..1000).map(|i| (format!("区域{i}"), f64::from(1000 - i))).collect();
        let svg = hbar("前十五", &many, false, (960, 640));
        assert_well_formed(&svg);
        assert_eq!(svg.matches("fill=\"#D7301F\"").count(), MAX_BARS);
        assert!(svg.contains("区域14") && !svg.contains("区域15"));
        // A low chart shows fewer bars rather than overlapping rows.
        let low = hbar("前十五", &many, false, (960, 200));
        assert_well_formed(&low);
        assert!(low.matches("fill=\"#D7301F\"").count() < MAX_BARS);
        let svg = columns("月度", &many, "件", (1200, 500));
        assert_well_formed(&svg);
        assert_eq!(svg.matches("fill=\"#D7301F\"").count(), MAX_COLUMNS);
    }

    #[test]
    fn hostile_values_and_sizes_do_not_panic() {
        let nasty = items(&[
            ("非数", f64::NAN),
            ("负数", -5.0),
            ("极大", f64::MAX),
            ("无穷", f64::INFINITY),
            ("负无穷", f64::NEG_INFINITY),
            ("极小", 1e-300),
            ("次正规", 5e-324),
            ("很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长的名字", 3.0),
        ]);
        for size in [(0, 0), (1, 1), (800, 480), (100_000, 100_000), (u32::MAX, 5)] {
            for percent in [false, true] {
                assert_well_formed(&hbar("极端", &nasty, percent, size));
            }
            assert_well_formed(&columns("极端", &nasty, "值", size));
        }
        let svg = hbar("极端", &nasty, false, (800, 480));
        assert!(svg.contains("width=\"800\""));
        assert!(svg.contains('…'));
        for one in [items(&[("只有一个", 0.0)]), items(&[("只有一个", -1.0)]), items(&[("小数", 0.4)])] {
            assert_well_formed(&hbar("一项", &one, false, (800, 480)));
            assert_well_formed(&columns("一项", &one, "", (800, 480)));
        }
    }

    #[test]
    fn columns_by_month() {
        let months: Vec<(String, f64)> =
            (1..=12).map(|m| (format!("2026-{m:02}"), if m == 6 { 12345.0 } else { f64::from(m * 100) })).collect();
        let svg = columns("月度活动数", &months, "活动数（场）", (1200, 600));
        assert_well_formed(&svg);
        assert!(svg.contains("viewBox=\"0 0 1200 600\""));
        assert!(svg.contains("<title>月度活动数</title>"));
        for text in ["2026-01", "活动数（场）", "15,000", "10,000", "5,000", "12,345"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert_eq!(svg.matches("fill=\"#D7301F\"").count(), 12);
        assert!(font_sizes(&svg).iter().all(|s| *s >= 16.0));
    }

    #[test]
    fn axis_steps_are_nice() {
        let ticks = |max: f64, integers: bool| Axis::new(max, integers).ticks().collect::<Vec<f64>>();
        assert_eq!(ticks(12345.0, true), vec![0.0, 5000.0, 10000.0, 15000.0]);
        assert_eq!(ticks(100.0, true), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(3.0, true), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(ticks(0.0, true), vec![0.0, 1.0]);
        assert_eq!(Axis::new(0.9, false).top(), 1.0);
        assert!(Axis::new(f64::MAX, false).intervals <= 10);
        assert!(Axis::new(5e-324, false).intervals <= 10);
    }
}
