//! The region outlines the situation map draws: the city and county layers of `geodata/`, embedded in the binary,
//! with each region's geodesic area (for densities) and bounding box. Coordinates are GCJ-02 (AMap), like venue
//! coordinates.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ::geo::orient::{Direction, Orient};
use ::geo::{BoundingRect, Coord, GeodesicArea, MultiPolygon, Rect};
use serde_json::Value;

use super::{GeoError, Limits, parse_boundary};
use crate::domain::region::{Adcode, RegionLevel, RegionTree};

/// One region's outline.
#[derive(Debug, Clone)]
pub struct RegionShape {
    /// Its code.
    pub adcode: Adcode,
    /// Its name as in the layer.
    pub name: String,
    /// The region it belongs to.
    pub parent: Option<Adcode>,
    /// City or county.
    pub level: RegionLevel,
    /// The simplified outline.
    pub geometry: MultiPolygon<f64>,
    /// Geodesic area in km².
    pub area_km2: f64,
    /// Bounding box (lon/lat).
    pub bbox: Rect<f64>,
}

/// The outlines of one province's cities and counties.
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    by_code: BTreeMap<Adcode, RegionShape>,
}

/// The embedded city layer.
const CITIES: &str = include_str!("../../geodata/zhejiang-cities.geojson");
/// The embedded county layer.
const COUNTIES: &str = include_str!("../../geodata/zhejiang-counties.geojson");

impl Shapes {
    /// The layers built into the binary. They are checked by the tests; should they ever fail to parse, the map
    /// shows every region as having no outline rather than stopping the server.
    pub fn builtin() -> &'static Shapes {
        static SHAPES: OnceLock<Shapes> = OnceLock::new();
        SHAPES.get_or_init(|| match Shapes::parse(&[CITIES, COUNTIES]) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("the embedded region outlines cannot be read: {e}");
                Shapes::default()
            }
        })
    }

    /// Reads layers (FeatureCollections whose features carry `adcode`, `name`, `level` and `parent` properties).
    pub fn parse(layers: &[&str]) -> Result<Shapes, GeoError> {
        let mut by_code = BTreeMap::new();
        let limits = Limits::default();
        for text in layers {
            if text.len() > limits.max_bytes {
                return Err(GeoError::TooLarge { bytes: text.len() as u64, max: limits.max_bytes });
            }
            let value: Value = serde_json::from_str(text).map_err(|e| GeoError::Json(e.to_string()))?;
            let features = value
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| GeoError::Malformed("a layer must be a FeatureCollection".into()))?;
            for (i, f) in features.iter().enumerate() {
                let shape = read_feature(f, &limits).map_err(|e| match e {
                    GeoError::Malformed(m) => GeoError::Malformed(format!("feature {i}: {m}")),
                    other => other,
                })?;
                by_code.insert(shape.adcode, shape);
            }
        }
        Ok(Shapes { by_code })
    }

    /// The outline of a region.
    pub fn get(&self, adcode: Adcode) -> Option<&RegionShape> {
        self.by_code.get(&adcode)
    }

    /// Every city outline, by code.
    pub fn cities(&self) -> impl Iterator<Item = &RegionShape> {
        self.by_code.values().filter(|s| s.level == RegionLevel::City)
    }

    /// Every county outline, by code.
    pub fn counties(&self) -> impl Iterator<Item = &RegionShape> {
        self.by_code.values().filter(|s| s.level == RegionLevel::County)
    }

    /// The number of outlines.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// True without outlines.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// Codes of the regions of `regions` at city or county level that have no outline here.
    pub fn missing(&self, regions: &RegionTree) -> Vec<Adcode> {
        regions
            .all()
            .filter(|r| r.level != RegionLevel::Province && !self.by_code.contains_key(&r.adcode))
            .map(|r| r.adcode)
            .collect()
    }
}

fn read_feature(f: &Value, limits: &Limits) -> Result<RegionShape, GeoError> {
    let props = f.get("properties").ok_or_else(|| GeoError::Malformed("missing properties".into()))?;
    let adcode = props
        .get("adcode")
        .and_then(Value::as_i64)
        .and_then(Adcode::from_stored)
        .ok_or_else(|| GeoError::Malformed("missing or invalid adcode".into()))?;
    let name = props.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let level = match props.get("level").and_then(Value::as_str) {
        Some("city") => RegionLevel::City,
        Some("county") => RegionLevel::County,
        other => return Err(GeoError::Malformed(format!("region {adcode}: level {other:?} is not city or county"))),
    };
    let parent = props.get("parent").and_then(Value::as_i64).and_then(Adcode::from_stored);
    let bytes = serde_json::to_vec(f).map_err(|e| GeoError::Json(e.to_string()))?;
    let geometry = parse_boundary(&bytes, limits).map_err(|e| GeoError::InRegion {
        adcode: adcode.get(),
        file: "layer".into(),
        error: Box::new(e),
    })?;
    let bbox =
        geometry.bounding_rect().unwrap_or_else(|| Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 }));
    // The layers' rings may run clockwise; the geodesic area of such a ring is the rest of the globe.
    let geometry = geometry.orient(Direction::Default);
    let area_km2 = geometry.geodesic_area_unsigned() / 1_000_000.0;
    Ok(RegionShape { adcode, name, parent, level, geometry, area_km2, bbox })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_layers_cover_every_city_and_county_with_plausible_areas() {
        let regions = crate::setup::load_regions(None).expect("regions");
        let shapes = Shapes::builtin();
        assert_eq!(shapes.cities().count(), 11);
        assert_eq!(shapes.counties().count(), 90);
        assert!(shapes.missing(&regions).is_empty(), "{:?}", shapes.missing(&regions));
        let total: f64 = shapes.cities().map(|s| s.area_km2).sum();
        // 浙江省 is about 105 500 km²; simplification moves borders by at most ~200 m.
        assert!((100_000.0..111_000.0).contains(&total), "{total}");
        let xihu = shapes.get(Adcode::parse("330106").expect("code")).expect("西湖区");
        assert_eq!(xihu.name, "西湖区");
        assert!((250.0..350.0).contains(&xihu.area_km2), "{}", xihu.area_km2);
        for county in shapes.counties() {
            let parent = county.parent.expect("a county has a city");
            assert_eq!(regions.get(county.adcode).and_then(|r| r.parent), Some(parent));
        }
    }

    #[test]
    fn malformed_layers_are_refused_with_a_reason() {
        for bad in [
            "",
            "[]",
            r#"{"type":"FeatureCollection"}"#,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":12},"geometry":null}]}"#,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":330106,"level":"town"},"geometry":null}]}"#,
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":330106,"level":"county"},"geometry":{"type":"Point","coordinates":[120,30]}}]}"#,
        ] {
            assert!(Shapes::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
