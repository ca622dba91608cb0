//! Tests of the shared-border simplification and of the layer output.

use std::collections::{BTreeSet, HashMap};

use ::geo::{Coord, LineString, MultiPolygon, Polygon};

use super::{Limits, build_layer, douglas_peucker, parse_boundary, simplify_rings};
use crate::domain::region::{Adcode, Region, RegionLevel};

/// A closed ring from its corners.
fn ring(points: &[(f64, f64)]) -> Vec<Coord<f64>> {
    let mut r: Vec<Coord<f64>> = points.iter().map(|&(x, y)| Coord { x, y }).collect();
    if let Some(&first) = r.first() {
        r.push(first);
    }
    r
}

fn c(x: f64, y: f64) -> Coord<f64> {
    Coord { x, y }
}

/// The points of `ring` that are in `among`, as comparable bit pairs.
fn points_in(ring: &[Coord<f64>], among: &[Coord<f64>]) -> BTreeSet<(u64, u64)> {
    ring.iter().filter(|p| among.contains(p)).map(|p| (p.x.to_bits(), p.y.to_bits())).collect()
}

#[test]
fn neighbours_keep_the_same_simplified_border() {
    // A wiggly shared border (wiggles of 0.001, tolerance 0.01) with one real bump at (2.5, 3).
    let border = [(2.0, 0.0), (2.001, 0.5), (1.999, 1.0), (2.001, 1.5), (2.0, 2.0), (2.5, 3.0), (2.0, 4.0)];
    let mut left = vec![(0.0, 0.0)];
    left.extend(border);
    left.push((0.0, 4.0));
    let mut right: Vec<(f64, f64)> = border.iter().rev().copied().collect();
    right.extend([(4.0, 0.0), (4.0, 4.0)]);
    let rings = [ring(&left), ring(&right)];
    let (out, stats) = simplify_rings(&rings, 0.01);
    let border: Vec<Coord<f64>> = border.iter().map(|&(x, y)| c(x, y)).collect();
    let in_left = points_in(&out[0], &border);
    let in_right = points_in(&out[1], &border);
    assert_eq!(in_left, in_right, "no gap: both sides keep the same border vertices");
    let expected = points_in(&[c(2.0, 0.0), c(2.0, 2.0), c(2.5, 3.0), c(2.0, 4.0)], &border);
    assert_eq!(in_left, expected, "wiggles removed, the bump and the ends kept");
    assert_eq!((stats.arcs, stats.shared_arcs, stats.junctions), (3, 1, 2));
    for r in &out {
        assert_eq!(r.first(), r.last(), "rings stay closed");
    }
}

#[test]
fn a_small_spike_is_removed() {
    let square = ring(&[(0.0, 0.0), (5.0, 0.0), (5.0, 0.004), (5.01, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
    let (out, _) = simplify_rings(&[square], 0.01);
    assert_eq!(out[0], ring(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]));
    let line = [c(0.0, 0.0), c(1.0, 0.5), c(2.0, 0.0)];
    assert_eq!(douglas_peucker(&line, 0.6), vec![c(0.0, 0.0), c(2.0, 0.0)]);
    assert_eq!(douglas_peucker(&line, 0.4), line.to_vec());
}

#[test]
fn junctions_are_kept() {
    // A on the left; B (top) and C (bottom) on the right meet A at (2, 1), which lies on a straight line.
    let a = ring(&[(0.0, 0.0), (2.0, 0.0), (2.0, 0.5), (2.0, 1.0), (2.0, 2.0), (0.0, 2.0)]);
    let b = ring(&[(2.0, 1.0), (4.0, 1.0), (4.0, 2.0), (2.0, 2.0)]);
    let cc = ring(&[(2.0, 0.0), (4.0, 0.0), (4.0, 1.0), (2.0, 1.0), (2.0, 0.5)]);
    let (out, stats) = simplify_rings(&[a, b, cc], 0.1);
    assert!(out[0].contains(&c(2.0, 1.0)), "the junction stays in A");
    assert!(!out[0].contains(&c(2.0, 0.5)), "a plain collinear vertex goes");
    assert!(!out[2].contains(&c(2.0, 0.5)), "… on both sides");
    assert_eq!(out[0], ring(&[(2.0, 0.0), (2.0, 1.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0)]));
    assert_eq!(stats.junctions, 4);
}

#[test]
fn a_collapsing_islet_keeps_its_shape() {
    let islet = ring(&[(120.0, 30.0), (120.001, 30.0), (120.001, 30.001), (120.0, 30.001)]);
    let (out, stats) = simplify_rings(std::slice::from_ref(&islet), 1.0);
    assert_eq!(out[0], islet);
    assert_eq!((stats.refined_rings, stats.unsimplified_arcs), (1, 1));
}

#[test]
fn simplification_does_not_cut_across_an_island() {
    // The notch at (5, 0.5) is within the tolerance, but dropping it would run the coast through the island.
    let mainland = ring(&[(0.0, 0.0), (5.0, 0.5), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
    let island = ring(&[(4.8, -0.1), (5.2, -0.1), (5.0, 0.3)]);
    let (out, stats) = simplify_rings(&[mainland.clone(), island.clone()], 0.6);
    assert_eq!(out, vec![mainland, island]);
    assert_eq!(stats.crossing_rounds, 1);
}

#[test]
fn an_enclave_shares_its_whole_outline() {
    let hole = ring(&[(3.0, 3.0), (3.0, 7.0), (5.0, 7.01), (7.0, 7.0), (7.0, 3.0)]);
    let enclave: Vec<Coord<f64>> = hole.iter().rev().copied().collect();
    let outer = ring(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
    let (out, stats) = simplify_rings(&[outer, hole, enclave], 0.1);
    assert_eq!(out[1], ring(&[(3.0, 3.0), (3.0, 7.0), (7.0, 7.0), (7.0, 3.0)]));
    assert_eq!(out[2], out[1].iter().rev().copied().collect::<Vec<_>>());
    assert_eq!((stats.arcs, stats.shared_arcs), (2, 1));
}

fn region(adcode: &str, name: &str) -> Region {
    Region {
        adcode: Adcode::parse(adcode).expect("adcode"),
        name: name.into(),
        level: RegionLevel::County,
        parent: Adcode::parse("330100"),
    }
}

/// An undirected edge between two positions written as JSON.
fn edge(a: &str, b: &str) -> (String, String) {
    if a <= b { (a.to_string(), b.to_string()) } else { (b.to_string(), a.to_string()) }
}

/// Undirected edges of all features of a FeatureCollection, with how many rings use each.
fn edge_uses(value: &serde_json::Value) -> HashMap<(String, String), usize> {
    let mut uses = HashMap::new();
    for feature in value["features"].as_array().expect("features") {
        for polygon in feature["geometry"]["coordinates"].as_array().expect("polygons") {
            for ring in polygon.as_array().expect("rings") {
                let points: Vec<String> = ring.as_array().expect("ring").iter().map(|p| p.to_string()).collect();
                for w in points.windows(2) {
                    *uses.entry(edge(&w[0], &w[1])).or_insert(0) += 1;
                }
            }
        }
    }
    uses
}

#[test]
fn a_layer_is_written_with_shared_edges_intact() {
    let west = MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![
            (120.0, 30.0),
            (120.1, 30.0),
            (120.1001, 30.05),
            (120.1, 30.1),
            (120.0, 30.1),
            (120.0, 30.0),
        ]),
        vec![],
    )]);
    let east = MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![
            (120.1, 30.0),
            (120.2, 30.0),
            (120.2, 30.1),
            (120.1, 30.1),
            (120.1001, 30.05),
            (120.1, 30.0),
        ]),
        vec![],
    )]);
    let (r1, r2) = (region("330106", "西湖区"), region("330105", "拱墅区"));
    let layer = build_layer(&[(&r1, west), (&r2, east)], 0.001).expect("layer");
    assert_eq!(layer.vertices_in, 12);
    assert_eq!(layer.vertices_out, 10, "the 10 m kink on the shared border goes on both sides");
    let value: serde_json::Value = serde_json::from_str(&layer.text).expect("JSON");
    assert_eq!(value["features"][1]["properties"]["name"], "拱墅区");
    let uses = edge_uses(&value);
    assert_eq!(uses.get(&edge("[120.1,30]", "[120.1,30.1]")), Some(&2), "{uses:?}");
    // Every feature on its own line parses as a boundary again.
    for line in layer.text.lines().filter(|l| l.starts_with("{\"type\":\"Feature\"")) {
        let feature = line.trim_end_matches(',');
        assert!(parse_boundary(feature.as_bytes(), &Limits::default()).is_ok(), "{feature}");
    }
}

/// The committed layers: right counts, every feature a valid boundary, no edge used by more than two rings.
#[test]
fn committed_layers_are_valid() {
    for (file, features) in [("zhejiang-cities.geojson", 11), ("zhejiang-counties.geojson", 90)] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.len() <= 400 * 1024, "{file} has {} bytes", text.len());
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let list = value["features"].as_array().expect("features");
        assert_eq!(list.len(), features, "{file}");
        for feature in list {
            let bytes = serde_json::to_vec(feature).expect("serialise");
            let adcode = &feature["properties"]["adcode"];
            assert!(parse_boundary(&bytes, &Limits::default()).is_ok(), "{file}: {adcode}");
        }
        assert!(edge_uses(&value).values().all(|n| *n <= 2), "{file}: an edge used by three rings");
    }
}
