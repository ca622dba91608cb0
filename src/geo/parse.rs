//! Reading and checking one boundary file. Never panics: every access to the input goes through `get`/`as_*`.

use ::geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::Value;

use super::GeoError;

/// Bounds on what a boundary file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Most positions (closing positions included) in the whole geometry.
    pub max_vertices: usize,
    /// Also require lon 70..140 and lat 0..60 (China and its seas).
    pub china: bool,
}

impl Default for Limits {
    /// 20 MiB, 2 000 000 positions, China.
    fn default() -> Self {
        Self { max_bytes: 20 * 1024 * 1024, max_vertices: 2_000_000, china: true }
    }
}

/// Room for what a boundary holds besides its positions (rings, polygons, foreign members such as `properties`).
const VALUES_SLACK: usize = 100_000;

/// Cost of an object member in [`Limits::max_values`]: its value, its name and its map entry.
const MEMBER_COST: usize = 4;

impl Limits {
    /// Most JSON values a file may hold, counted before parsing (an object member counts as 4): a position
    /// `[lon, lat, alt]` is 4 values, plus 100 000 for everything else. Parsing builds a `serde_json::Value` of 32
    /// bytes per value, so this bounds the parser's memory by what an acceptable boundary needs, however the file
    /// is made: at the defaults at most about 430 MB (2 000 000 positions), where a 20 MiB file of `[1,1],` needed
    /// 670 MB without this bound.
    pub fn max_values(&self) -> usize {
        self.max_vertices.saturating_mul(4).saturating_add(VALUES_SLACK)
    }

    /// Longest JSON array a file may hold: a ring with every position, plus 100 000. Bounds the largest
    /// single allocation of the parser (about 130 MB at the defaults).
    pub fn max_array_len(&self) -> usize {
        self.max_vertices.saturating_add(VALUES_SLACK)
    }
}

/// What parsing a JSON text into a `serde_json::Value` can cost, counted on the bytes (see [`json_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JsonSize {
    /// Upper bound of the number of values; an object member counts as [`MEMBER_COST`].
    values: usize,
    /// Upper bound of the length of the longest array.
    longest_array: usize,
}

/// Upper bounds of the values and array lengths of a JSON text, without parsing it: every value but the root follows
/// a `[`, `,` or `:` outside strings. Linear time, memory bounded by the nesting depth it tracks.
fn json_size(bytes: &[u8]) -> JsonSize {
    // serde_json refuses nesting deeper than 128; deeper arrays are counted as values only.
    const TRACKED_DEPTH: usize = 256;
    let mut size = JsonSize { values: 1, longest_array: 0 };
    // Per open array or object within TRACKED_DEPTH: Some(elements so far) for an array, None for an object.
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                if b == b'[' {
                    size.values = size.values.saturating_add(1);
                    size.longest_array = size.longest_array.max(1);
                }
                if depth <= TRACKED_DEPTH {
                    open.push((b == b'[').then_some(1));
                }
            }
            b']' | b'}' => {
                if depth <= TRACKED_DEPTH {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
            }
            b',' => {
                size.values = size.values.saturating_add(1);
                if depth <= TRACKED_DEPTH
                    && let Some(Some(n)) = open.last_mut()
                {
                    *n = n.saturating_add(1);
                    size.longest_array = size.longest_array.max(*n);
                }
            }
            b':' => size.values = size.values.saturating_add(MEMBER_COST),
            _ => {}
        }
    }
    size
}

/// Polygons as read, before they become `geo` values: polygons → rings (exterior first) → positions.
pub type RawPolygons = Vec<Vec<Vec<Coord<f64>>>>;

/// Parses one boundary: a bare Polygon/MultiPolygon geometry (foreign members such as `properties` are ignored), a
/// Feature with such a geometry, or a FeatureCollection holding exactly one such Feature. The result is checked with
/// [`validate_polygons`]. Before parsing, the file's size and its JSON values and array lengths are checked against
/// `limits` (see [`Limits::max_values`]), so its memory use stays bounded.
pub fn parse_boundary(bytes: &[u8], limits: &Limits) -> Result<MultiPolygon<f64>, GeoError> {
    if bytes.len() > limits.max_bytes {
        return Err(GeoError::TooLarge { bytes: bytes.len() as u64, max: limits.max_bytes });
    }
    let size = json_size(bytes);
    if size.values > limits.max_values() {
        return Err(GeoError::TooManyValues { count: size.values, max: limits.max_values() });
    }
    if size.longest_array > limits.max_array_len() {
        return Err(GeoError::ArrayTooLong { count: size.longest_array, max: limits.max_array_len() });
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| GeoError::Json(e.to_string()))?;
    let raw = read_polygons(polygonal(&value)?, limits)?;
    validate_polygons(&raw, limits)?;
    Ok(into_multipolygon(raw))
}

/// The coordinates member of a polygonal geometry.
enum Coordinates<'a> {
    Polygon(&'a Value),
    MultiPolygon(&'a Value),
}

fn type_of(value: &Value) -> Result<&str, GeoError> {
    let object = value.as_object().ok_or_else(|| GeoError::Malformed("expected a JSON object".into()))?;
    object.get("type").and_then(Value::as_str).ok_or_else(|| GeoError::Malformed("missing \"type\" member".into()))
}

fn polygonal(value: &Value) -> Result<Coordinates<'_>, GeoError> {
    match type_of(value)? {
        "FeatureCollection" => {
            let features = value
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| GeoError::Malformed("a FeatureCollection needs a \"features\" array".into()))?;
            match features.as_slice() {
                [only] => feature(only),
                _ => Err(GeoError::FeatureCount(features.len())),
            }
        }
        "Feature" => feature(value),
        _ => geometry(value),
    }
}

fn feature(value: &Value) -> Result<Coordinates<'_>, GeoError> {
    match type_of(value)? {
        "Feature" => match value.get("geometry") {
            None | Some(Value::Null) => Err(GeoError::NotPolygonal("a feature without geometry".into())),
            Some(g) => geometry(g),
        },
        other => Err(GeoError::Malformed(format!("expected a Feature, found {other:?}"))),
    }
}

fn geometry(value: &Value) -> Result<Coordinates<'_>, GeoError> {
    let kind = type_of(value)?;
    let coordinates =
        || value.get("coordinates").ok_or_else(|| GeoError::Malformed(format!("{kind} without \"coordinates\"")));
    match kind {
        "Polygon" => Ok(Coordinates::Polygon(coordinates()?)),
        "MultiPolygon" => Ok(Coordinates::MultiPolygon(coordinates()?)),
        other => Err(GeoError::NotPolygonal(other.chars().take(40).collect())),
    }
}

fn array<'a>(value: &'a Value, what: &str) -> Result<&'a [Value], GeoError> {
    value.as_array().map(Vec::as_slice).ok_or_else(|| GeoError::Malformed(format!("{what} is not an array")))
}

fn read_polygons(coordinates: Coordinates<'_>, limits: &Limits) -> Result<RawPolygons, GeoError> {
    let polygons: Vec<&Value> = match coordinates {
        Coordinates::Polygon(v) => vec![v],
        Coordinates::MultiPolygon(v) => array(v, "MultiPolygon coordinates")?.iter().collect(),
    };
    let mut vertices = 0usize;
    let mut out = Vec::with_capacity(polygons.len());
    for (p, polygon) in polygons.into_iter().enumerate() {
        let rings = array(polygon, "a polygon")?;
        let mut raw_rings = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            let positions = array(ring, "a ring")?;
            vertices = vertices.saturating_add(positions.len());
            if vertices > limits.max_vertices {
                return Err(GeoError::TooManyVertices { count: vertices, max: limits.max_vertices });
            }
            let mut coords = Vec::with_capacity(positions.len());
            for (i, position) in positions.iter().enumerate() {
                let c = read_position(position).ok_or(GeoError::BadPosition { polygon: p, ring: r, position: i })?;
                coords.push(c);
            }
            raw_rings.push(coords);
        }
        out.push(raw_rings);
    }
    Ok(out)
}

/// `[lon, lat, ...]`; a third (altitude) number is allowed and ignored.
fn read_position(value: &Value) -> Option<Coord<f64>> {
    let a = value.as_array()?;
    Some(Coord { x: a.first()?.as_f64()?, y: a.get(1)?.as_f64()? })
}

/// Checks polygons: at least one polygon, no polygon without rings, at most `max_vertices` positions, every ring
/// closed with at least 4 positions (3 distinct), every coordinate finite and in range.
pub fn validate_polygons(polygons: &[Vec<Vec<Coord<f64>>>], limits: &Limits) -> Result<(), GeoError> {
    if polygons.is_empty() {
        return Err(GeoError::Empty);
    }
    let count: usize = polygons.iter().flatten().map(Vec::len).fold(0, usize::saturating_add);
    if count > limits.max_vertices {
        return Err(GeoError::TooManyVertices { count, max: limits.max_vertices });
    }
    for (p, rings) in polygons.iter().enumerate() {
        if rings.is_empty() {
            return Err(GeoError::EmptyPolygon { polygon: p });
        }
        for (r, ring) in rings.iter().enumerate() {
            for (i, c) in ring.iter().enumerate() {
                let at = Place { polygon: p, ring: r, position: i };
                if !c.x.is_finite() || !c.y.is_finite() {
                    return Err(GeoError::NonFinite { polygon: at.polygon, ring: at.ring, position: at.position });
                }
                if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
                    return Err(at.error(c, false));
                }
                if limits.china && (!(70.0..=140.0).contains(&c.x) || !(0.0..=60.0).contains(&c.y)) {
                    return Err(at.error(c, true));
                }
            }
            if ring.len() < 4 {
                return Err(GeoError::RingTooShort { polygon: p, ring: r, positions: ring.len() });
            }
            if ring.first() != ring.last() {
                return Err(GeoError::RingNotClosed { polygon: p, ring: r });
            }
            let distinct = 1 + ring.windows(2).filter(|w| w.first() != w.get(1)).count();
            if distinct < 4 {
                return Err(GeoError::DegenerateRing { polygon: p, ring: r });
            }
        }
    }
    Ok(())
}

struct Place {
    polygon: usize,
    ring: usize,
    position: usize,
}

impl Place {
    fn error(&self, c: &Coord<f64>, china: bool) -> GeoError {
        let (polygon, ring, position, lon, lat) = (self.polygon, self.ring, self.position, c.x, c.y);
        if china {
            GeoError::OutsideChina { polygon, ring, position, lon, lat }
        } else {
            GeoError::OutOfRange { polygon, ring, position, lon, lat }
        }
    }
}

/// Validated rings into a `MultiPolygon` (rings are closed already, so `Polygon::new` changes nothing); `-0.0`
/// becomes `0.0`.
fn into_multipolygon(raw: RawPolygons) -> MultiPolygon<f64> {
    let ring =
        |r: Vec<Coord<f64>>| LineString::new(r.into_iter().map(|c| Coord { x: c.x + 0.0, y: c.y + 0.0 }).collect());
    MultiPolygon::new(
        raw.into_iter()
            .map(|rings| {
                let mut rings = rings.into_iter();
                let exterior = rings.next().map(ring).unwrap_or_else(|| LineString::new(Vec::new()));
                Polygon::new(exterior, rings.map(ring).collect())
            })
            .collect(),
    )
}

/// The rings of a `MultiPolygon` as [`RawPolygons`], e.g. to validate a value built in code.
pub fn raw_polygons(mp: &MultiPolygon<f64>) -> RawPolygons {
    mp.iter()
        .map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(|r| r.0.clone()).collect::<Vec<_>>())
        .collect()
}
