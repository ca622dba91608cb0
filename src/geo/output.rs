//! Writing a layer as a GeoJSON FeatureCollection, one Feature per line, coordinates rounded to 5 decimals (~1 m).

use std::fmt::Write as _;

use ::geo::orient::{Direction, Orient};
use ::geo::{Coord, MultiPolygon};

use super::GeoError;

/// One region of a layer.
#[derive(Debug, Clone, Copy)]
pub struct Feature<'a> {
    /// Its adcode.
    pub adcode: u32,
    /// Its name, e.g. 西湖区.
    pub name: &'a str,
    /// `city` or `county`.
    pub level: &'a str,
    /// The parent's adcode.
    pub parent: Option<u32>,
    /// Its (simplified) boundary.
    pub geometry: &'a MultiPolygon<f64>,
}

/// `v` × 10⁵ rounded half away from zero.
fn q5(v: f64) -> i64 {
    (v * 100_000.0).round() as i64
}

/// A 5-decimal fixed-point number without trailing zeros: 120.15869, 30.2, 121.
fn push_fixed(out: &mut String, q: i64) {
    if q < 0 {
        out.push('-');
    }
    let a = q.unsigned_abs();
    let _ = write!(out, "{}", a / 100_000);
    let mut frac = a % 100_000;
    if frac != 0 {
        let mut digits: usize = 5;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
}

/// A closed ring rounded, without consecutive duplicates (it stays closed).
fn round_ring(ring: &[Coord<f64>]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ring.len());
    for c in ring {
        let p = (q5(c.x), q5(c.y));
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The layer as GeoJSON text and the number of positions written. A polygon whose exterior falls below 4 positions
/// after rounding (a sub-metre islet) is left out, and so is such a hole; a region left with no polygon is an error.
pub fn feature_collection(features: &[Feature<'_>]) -> Result<(String, usize), GeoError> {
    let mut lines = Vec::with_capacity(features.len());
    let mut vertices = 0;
    for f in features {
        let mut geometry = String::new();
        let mut polygons = 0;
        for polygon in f.geometry.iter() {
            // RFC 7946: exterior rings counter-clockwise, holes clockwise.
            let polygon = polygon.orient(Direction::Default);
            let exterior = round_ring(&polygon.exterior().0);
            if exterior.len() < 4 {
                continue;
            }
            let holes = polygon.interiors().iter().map(|r| round_ring(&r.0)).filter(|r| r.len() >= 4);
            geometry.push_str(if polygons == 0 { "[" } else { ",[" });
            polygons += 1;
            for (i, ring) in std::iter::once(exterior).chain(holes).enumerate() {
                vertices += ring.len();
                geometry.push_str(if i == 0 { "[" } else { ",[" });
                for (j, &(x, y)) in ring.iter().enumerate() {
                    geometry.push_str(if j == 0 { "[" } else { ",[" });
                    push_fixed(&mut geometry, x);
                    geometry.push(',');
                    push_fixed(&mut geometry, y);
                    geometry.push(']');
                }
                geometry.push(']');
            }
            geometry.push(']');
        }
        if polygons == 0 {
            return Err(GeoError::Collapsed { adcode: f.adcode });
        }
        let parent = f.parent.map_or_else(|| "null".to_string(), |p| p.to_string());
        lines.push(format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"adcode\":{},\"name\":{},\"level\":{},\"parent\":{}}},\
             \"geometry\":{{\"type\":\"MultiPolygon\",\"coordinates\":[{}]}}}}",
            f.adcode,
            json_string(f.name),
            json_string(f.level),
            parent,
            geometry
        ));
    }
    let text = format!("{{\"type\":\"FeatureCollection\",\"features\":[\n{}\n]}}\n", lines.join(",\n"));
    Ok((text, vertices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::geo::{LineString, Polygon};

    #[test]
    fn fixed_point_numbers() {
        let cases =
            [(12_015_869, "120.15869"), (3_020_000, "30.2"), (12_100_000, "121"), (-50_000, "-0.5"), (1, "0.00001")];
        for (q, text) in cases {
            let mut s = String::new();
            push_fixed(&mut s, q);
            assert_eq!(s, text);
        }
        assert_eq!(q5(120.158694), 12_015_869);
        assert_eq!(q5(30.258265), 3_025_827);
    }

    #[test]
    fn writes_one_feature_per_line() {
        let ring = LineString::from(vec![(120.0, 30.0), (120.1, 30.0), (120.1, 30.1), (120.0, 30.0)]);
        let islet = LineString::from(vec![(121.0, 30.0), (121.000001, 30.0), (121.0, 30.000001), (121.0, 30.0)]);
        let mp = MultiPolygon::new(vec![Polygon::new(ring, vec![]), Polygon::new(islet, vec![])]);
        let f = Feature { adcode: 330106, name: "西湖区", level: "county", parent: Some(330100), geometry: &mp };
        let (text, vertices) = feature_collection(&[f]).expect("written");
        assert_eq!(vertices, 4, "the sub-metre islet is left out");
        assert_eq!(
            text,
            "{\"type\":\"FeatureCollection\",\"features\":[\n{\"type\":\"Feature\",\"properties\":{\"adcode\":330106,\
             \"name\":\"西湖区\",\"level\":\"county\",\"parent\":330100},\"geometry\":{\"type\":\"MultiPolygon\",\
             \"coordinates\":[[[[120,30],[120.1,30],[120.1,30.1],[120,30]]]]}}\n]}\n"
        );
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["features"][0]["properties"]["parent"], 330100);

        let gone = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(121.0, 30.0), (121.000001, 30.0), (121.0, 30.000001), (121.0, 30.0)]),
            vec![],
        )]);
        let f = Feature { adcode: 330107, name: "x", level: "county", parent: None, geometry: &gone };
        assert_eq!(feature_collection(&[f]), Err(GeoError::Collapsed { adcode: 330107 }));
    }
}
