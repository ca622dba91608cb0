//! Region outlines as SVG path data: an equirectangular projection fitted to the view (longitudes scaled by the
//! cosine of the middle latitude), relative path commands at 0.1 px, and a cache so that each view's geometry is
//! projected once per process.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use ::geo::{Coord, LineString, MultiPolygon, Rect};

use crate::domain::region::Adcode;
use crate::geo::shapes::Shapes;

/// Width of the map's SVG coordinate space.
pub const WIDTH: f64 = 1000.0;

/// Margin around the drawn regions, in SVG units.
const PAD: f64 = 12.0;

/// A fitted projection from lon/lat to SVG coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    west: f64,
    north: f64,
    scale: f64,
    kx: f64,
    /// The height of the SVG coordinate space.
    pub height: f64,
}

impl Projection {
    /// Fits `bbox` into [`WIDTH`] (the height follows the shape).
    pub fn fit(bbox: Rect<f64>) -> Projection {
        let mid = (bbox.min().y + bbox.max().y) / 2.0;
        let kx = mid.to_radians().cos().max(0.1);
        let w = ((bbox.max().x - bbox.min().x) * kx).max(1e-6);
        let h = (bbox.max().y - bbox.min().y).max(1e-6);
        let scale = (WIDTH - 2.0 * PAD) / w;
        let height = (h * scale + 2.0 * PAD).clamp(200.0, 2.0 * WIDTH);
        let scale = scale.min((height - 2.0 * PAD) / h);
        Projection { west: bbox.min().x, north: bbox.max().y, scale, kx, height }
    }

    /// The SVG point of a lon/lat.
    pub fn point(&self, c: Coord<f64>) -> (f64, f64) {
        (PAD + (c.x - self.west) * self.kx * self.scale, PAD + (self.north - c.y) * self.scale)
    }
}

/// Path data of a multipolygon: each ring `M x y l dx dy … z`, coordinates in tenths of a unit.
pub fn path_data(mp: &MultiPolygon<f64>, p: &Projection) -> String {
    let mut d = String::new();
    for poly in mp {
        ring(&mut d, poly.exterior(), p);
        for hole in poly.interiors() {
            ring(&mut d, hole, p);
        }
    }
    d
}

fn ring(d: &mut String, ls: &LineString<f64>, p: &Projection) {
    let tenth = |v: f64| (v * 10.0).round() as i64;
    let mut prev: Option<(i64, i64)> = None;
    for c in ls.coords() {
        let (x, y) = p.point(*c);
        let (x, y) = (tenth(x), tenth(y));
        match prev {
            None => {
                let _ = write!(d, "M{} {}", Tenths(x), Tenths(y));
                d.push('l');
            }
            Some((px, py)) if (px, py) == (x, y) => continue,
            Some((px, py)) => {
                let (dx, dy) = (x - px, y - py);
                if !d.ends_with('l') && dx >= 0 {
                    d.push(' ');
                }
                let _ = write!(d, "{}", Tenths(dx));
                if dy >= 0 {
                    d.push(' ');
                }
                let _ = write!(d, "{}", Tenths(dy));
            }
        }
        prev = Some((x, y));
    }
    if prev.is_some() {
        d.push('z');
    }
}

/// A value in tenths printed as a decimal with at most one fractional digit.
struct Tenths(i64);

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        if a.is_multiple_of(10) { write!(f, "{sign}{}", a / 10) } else { write!(f, "{sign}{}.{}", a / 10, a % 10) }
    }
}

/// The projected outlines of one view.
#[derive(Debug)]
pub struct ViewGeometry {
    /// The projection (for venue dots).
    pub projection: Projection,
    /// Path data by region, in the order asked for.
    pub paths: Vec<(Adcode, String)>,
    /// Label anchor (SVG point inside the region) by region.
    pub anchors: HashMap<Adcode, (f64, f64)>,
}

/// The projected outlines of `units`, fitted to their joint bounding box; cached per list of units.
pub fn view_geometry(shapes: &Shapes, units: &[Adcode]) -> Arc<ViewGeometry> {
    static CACHE: OnceLock<Mutex<HashMap<Vec<Adcode>, Arc<ViewGeometry>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(hit) = cache.lock().ok().and_then(|c| c.get(units).cloned()) {
        return hit;
    }
    let geometry = Arc::new(project(shapes, units));
    if let Ok(mut c) = cache.lock() {
        // Views are bounded by the regions of one province (≤ a few hundred); no eviction needed.
        c.insert(units.to_vec(), geometry.clone());
    }
    geometry
}

fn project(shapes: &Shapes, units: &[Adcode]) -> ViewGeometry {
    let boxes: Vec<Rect<f64>> = units.iter().filter_map(|u| shapes.get(*u)).map(|s| s.bbox).collect();
    let bbox = boxes.iter().skip(1).fold(boxes.first().copied(), |acc, b| {
        acc.map(|a| {
            Rect::new(
                Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
    });
    let bbox = bbox.unwrap_or_else(|| Rect::new(Coord { x: 118.0, y: 27.0 }, Coord { x: 123.0, y: 31.2 }));
    let projection = Projection::fit(bbox);
    let mut paths = Vec::with_capacity(units.len());
    let mut anchors = HashMap::new();
    for u in units {
        let Some(shape) = shapes.get(*u) else { continue };
        paths.push((*u, path_data(&shape.geometry, &projection)));
        if let Some(pt) = ::geo::InteriorPoint::interior_point(&shape.geometry) {
            anchors.insert(*u, projection.point(pt.0));
        }
    }
    ViewGeometry { projection, paths, anchors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::geo::polygon;

    #[test]
    fn paths_are_relative_closed_and_skip_repeated_points() {
        let mp = MultiPolygon(vec![
            polygon![(x: 120.0, y: 30.0), (x: 121.0, y: 30.0), (x: 121.0, y: 30.0), (x: 121.0, y: 31.0), (x: 120.0, y: 30.0)],
        ]);
        let p = Projection::fit(Rect::new(Coord { x: 120.0, y: 30.0 }, Coord { x: 121.0, y: 31.0 }));
        let d = path_data(&mp, &p);
        assert!(d.starts_with('M') && d.ends_with('z'), "{d}");
        assert_eq!(d.matches('M').count(), 1);
        // three distinct moves after the start: right, up, back
        let (x0, y0) = p.point(Coord { x: 120.0, y: 30.0 });
        assert!(d.starts_with(&format!(
            "M{} {}",
            Tenths((x0 * 10.0).round() as i64),
            Tenths((y0 * 10.0).round() as i64)
        )));
        assert!(p.point(Coord { x: 121.0, y: 31.0 }).1 < y0, "north is up");
    }

    #[test]
    fn tenths_print_compactly() {
        assert_eq!(Tenths(0).to_string(), "0");
        assert_eq!(Tenths(15).to_string(), "1.5");
        assert_eq!(Tenths(-15).to_string(), "-1.5");
        assert_eq!(Tenths(-3).to_string(), "-0.3");
        assert_eq!(Tenths(120).to_string(), "12");
    }

    #[test]
    fn the_cache_returns_the_same_geometry() {
        let shapes = Shapes::builtin();
        let cities: Vec<Adcode> = shapes.cities().map(|s| s.adcode).collect();
        let a = view_geometry(shapes, &cities);
        let b = view_geometry(shapes, &cities);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.paths.len(), 11);
        assert!(a.paths.iter().all(|(_, d)| d.len() > 100));
        for (x, y) in a.anchors.values() {
            assert!((0.0..=WIDTH).contains(x) && (0.0..=a.projection.height).contains(y));
        }
    }
}
