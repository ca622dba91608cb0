//! Topology-preserving simplification of one layer of rings.
//!
//! Every ring is cut into arcs at its junctions; an arc shared by two rings is stored once, simplified once
//! (Douglas–Peucker, end points fixed) and put back into both rings, so neighbours keep exactly the same border.
//! A vertex is inside an arc when every ring through it passes through it once and along the same two edges;
//! otherwise (three or more rings, the start or end of a shared run, a ring touching itself or another ring) it is
//! a junction and is never removed.
//!
//! Two repairs run until nothing changes: an arc of a ring that would fall below 4 positions, or an arc with a
//! segment that crosses or overlaps another segment of the layer (the source has none), is simplified again at half
//! its tolerance — at most [`MAX_HALVINGS`] times, then it is kept unsimplified.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use ::geo::{Coord, LineString, MultiPolygon, Polygon};

use super::crossing::crossing_arcs;

/// How often an arc's tolerance is halved before the arc is kept as it was.
pub const MAX_HALVINGS: u32 = 10;

/// What [`simplify_rings`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Rings in the layer.
    pub rings: usize,
    /// Distinct arcs.
    pub arcs: usize,
    /// Arcs used by more than one ring (or twice by one ring).
    pub shared_arcs: usize,
    /// Distinct junction points.
    pub junctions: usize,
    /// Rings that fell below 4 positions at some tolerance.
    pub refined_rings: usize,
    /// Arcs simplified at a smaller tolerance than asked for.
    pub refined_arcs: usize,
    /// Arcs kept unsimplified after [`MAX_HALVINGS`] halvings.
    pub unsimplified_arcs: usize,
    /// Rounds in which crossing or overlapping segments were found.
    pub crossing_rounds: usize,
}

/// A point's identity for hashing: the bits of its coordinates (after `-0.0` became `0.0`).
type Key = (u64, u64);

fn key(c: Coord<f64>) -> Key {
    (c.x.to_bits(), c.y.to_bits())
}

fn edge_key(p: Coord<f64>, q: Coord<f64>) -> (Key, Key) {
    let (a, b) = (key(p), key(q));
    if a <= b { (a, b) } else { (b, a) }
}

/// Orders points by x, then y.
fn cmp_pt(a: &Coord<f64>, b: &Coord<f64>) -> Ordering {
    a.x.total_cmp(&b.x).then_with(|| a.y.total_cmp(&b.y))
}

fn cmp_seq(a: &[Coord<f64>], b: &[Coord<f64>]) -> Ordering {
    for (p, q) in a.iter().zip(b) {
        let o = cmp_pt(p, q);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// A closed ring as an open one: no consecutive duplicates, no closing position, `-0.0` as `0.0`.
fn open_ring(closed: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(closed.len());
    for c in closed {
        let c = Coord { x: c.x + 0.0, y: c.y + 0.0 };
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// Squared distance from `p` to the segment `ab`.
fn seg_dist2(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let dx = b.x - a.x;
    let dy = b.y - a.y;
    let len2 = dx * dx + dy * dy;
    let (ex, ey) = if len2 == 0.0 {
        (p.x - a.x, p.y - a.y)
    } else {
        let t = ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2;
        if t <= 0.0 {
            (p.x - a.x, p.y - a.y)
        } else if t >= 1.0 {
            (p.x - b.x, p.y - b.y)
        } else {
            (p.x - (a.x + t * dx), p.y - (a.y + t * dy))
        }
    };
    ex * ex + ey * ey
}

/// Douglas–Peucker with distances to segments, keeping the first and last point. `tolerance` is in coordinate units.
pub fn douglas_peucker(points: &[Coord<f64>], tolerance: f64) -> Vec<Coord<f64>> {
    let n = points.len();
    if n <= 2 {
        return points.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    let tol2 = tolerance * tolerance;
    let mut stack = vec![(0usize, n - 1)];
    while let Some((a, b)) = stack.pop() {
        if b < a + 2 {
            continue;
        }
        let (pa, pb) = (points[a], points[b]);
        let mut max_d = -1.0;
        let mut idx = a;
        for (i, p) in points.iter().enumerate().take(b).skip(a + 1) {
            let d = seg_dist2(*p, pa, pb);
            if d > max_d {
                max_d = d;
                idx = i;
            }
        }
        if max_d > tol2 {
            keep[idx] = true;
            stack.push((a, idx));
            stack.push((idx, b));
        }
    }
    points.iter().zip(&keep).filter(|(_, k)| **k).map(|(p, _)| *p).collect()
}

/// Concatenates a ring's arcs (each in the ring's direction) into a closed ring.
fn rebuild(refs: &[(usize, bool)], current: &[Vec<Coord<f64>>]) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::new();
    for &(a, reversed) in refs {
        let Some(points) = current.get(a) else { continue };
        let skip = usize::from(!out.is_empty());
        if reversed {
            out.extend(points.iter().rev().skip(skip).copied());
        } else {
            out.extend(points.iter().skip(skip).copied());
        }
    }
    out
}

/// The pieces of one open ring between consecutive junctions (each piece includes both junctions); a ring without
/// junctions is one closed piece starting at its smallest point.
fn pieces(ring: &[Coord<f64>], junctions: &HashSet<Key>) -> Vec<Vec<Coord<f64>>> {
    let js: Vec<usize> =
        ring.iter().enumerate().filter(|(_, p)| junctions.contains(&key(**p))).map(|(i, _)| i).collect();
    if js.is_empty() {
        let Some((m, first)) = ring.iter().enumerate().min_by(|(_, a), (_, b)| cmp_pt(a, b)) else {
            return Vec::new();
        };
        let mut seq = ring[m..].to_vec();
        seq.extend_from_slice(&ring[..m]);
        seq.push(*first);
        return vec![seq];
    }
    let mut out = Vec::with_capacity(js.len());
    for (k, &ja) in js.iter().enumerate() {
        let jb = js[(k + 1) % js.len()];
        if jb > ja {
            out.push(ring[ja..=jb].to_vec());
        } else {
            let mut seq = ring[ja..].to_vec();
            seq.extend_from_slice(&ring[..=jb]);
            out.push(seq);
        }
    }
    out
}

/// The marked arcs that may still be simplified at a smaller tolerance.
fn refinable(marks: &[bool], level: &[u32]) -> Vec<usize> {
    marks.iter().zip(level).enumerate().filter(|(_, (m, l))| **m && **l <= MAX_HALVINGS).map(|(a, _)| a).collect()
}

/// Simplifies closed rings (first == last) together, so that shared borders stay identical. Returns closed rings in
/// the same order.
pub fn simplify_rings(rings: &[Vec<Coord<f64>>], tolerance: f64) -> (Vec<Vec<Coord<f64>>>, LayerStats) {
    let open: Vec<Vec<Coord<f64>>> = rings.iter().map(|r| open_ring(r.as_slice())).collect();

    // Which rings use each point (one entry per occurrence) and each undirected edge (each ring once, ascending).
    let mut occurrences: HashMap<Key, Vec<usize>> = HashMap::new();
    let mut edges: HashMap<(Key, Key), Vec<usize>> = HashMap::new();
    for (r, ring) in open.iter().enumerate() {
        for (i, p) in ring.iter().enumerate() {
            occurrences.entry(key(*p)).or_default().push(r);
            let q = ring[(i + 1) % ring.len()];
            let users = edges.entry(edge_key(*p, q)).or_default();
            if users.last() != Some(&r) {
                users.push(r);
            }
        }
    }
    let mut junctions: HashSet<Key> = HashSet::new();
    for ring in &open {
        let n = ring.len();
        for (i, p) in ring.iter().enumerate() {
            let k = key(*p);
            let occ = occurrences.get(&k).map(Vec::as_slice).unwrap_or_default();
            let mut users = occ.to_vec();
            users.dedup();
            if occ.len() != users.len() || users.len() >= 3 {
                junctions.insert(k);
                continue;
            }
            let prev = ring[(i + n - 1) % n];
            let next = ring[(i + 1) % n];
            if edges.get(&edge_key(prev, *p)) != Some(&users) || edges.get(&edge_key(*p, next)) != Some(&users) {
                junctions.insert(k);
            }
        }
    }

    // Arcs in canonical direction (the lexicographically smaller of the two), each stored once.
    let mut arcs: Vec<Vec<Coord<f64>>> = Vec::new();
    let mut arc_ids: HashMap<Vec<Key>, usize> = HashMap::new();
    let mut ring_arcs: Vec<Vec<(usize, bool)>> = Vec::with_capacity(open.len());
    for ring in &open {
        let mut refs = Vec::new();
        for seq in pieces(ring, &junctions) {
            let rev: Vec<Coord<f64>> = seq.iter().rev().copied().collect();
            let reversed = cmp_seq(&rev, &seq) == Ordering::Less;
            let canon = if reversed { rev } else { seq };
            let id = match arc_ids.entry(canon.iter().map(|c| key(*c)).collect()) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(e) => {
                    arcs.push(canon);
                    *e.insert(arcs.len() - 1)
                }
            };
            refs.push((id, reversed));
        }
        ring_arcs.push(refs);
    }

    let simplify = |a: usize, level: u32| -> Vec<Coord<f64>> {
        let arc = &arcs[a];
        if level > MAX_HALVINGS { arc.clone() } else { douglas_peucker(arc, tolerance * 0.5f64.powi(level as i32)) }
    };
    let mut level = vec![0u32; arcs.len()];
    let mut current: Vec<Vec<Coord<f64>>> = (0..arcs.len()).map(|a| simplify(a, 0)).collect();
    let mut refined_ring = vec![false; open.len()];
    let mut crossing_rounds = 0;
    let result = loop {
        let result: Vec<Vec<Coord<f64>>> = ring_arcs.iter().map(|refs| rebuild(refs, &current)).collect();
        let mut collapsed = vec![false; arcs.len()];
        for (r, ring) in result.iter().enumerate() {
            if ring.len() < 4 {
                refined_ring[r] = true;
                for &(a, _) in &ring_arcs[r] {
                    collapsed[a] = true;
                }
            }
        }
        let mut todo = refinable(&collapsed, &level);
        if todo.is_empty() {
            todo = refinable(&crossing_arcs(&current), &level);
            if !todo.is_empty() {
                crossing_rounds += 1;
            }
        }
        if todo.is_empty() {
            break result;
        }
        for a in todo {
            level[a] += 1;
            current[a] = simplify(a, level[a]);
        }
    };

    let mut uses = vec![0usize; arcs.len()];
    for &(a, _) in ring_arcs.iter().flatten() {
        uses[a] += 1;
    }
    let stats = LayerStats {
        rings: rings.len(),
        arcs: arcs.len(),
        shared_arcs: uses.iter().filter(|u| **u >= 2).count(),
        junctions: junctions.len(),
        refined_rings: refined_ring.iter().filter(|r| **r).count(),
        refined_arcs: level.iter().filter(|l| **l > 0).count(),
        unsimplified_arcs: level.iter().filter(|l| **l > MAX_HALVINGS).count(),
        crossing_rounds,
    };
    (result, stats)
}

/// Simplifies a layer of regions consistently: the rings of all regions (exterior first, then holes, polygon by
/// polygon) go through [`simplify_rings`] together.
pub fn simplify_layer(layer: &[MultiPolygon<f64>], tolerance: f64) -> (Vec<MultiPolygon<f64>>, LayerStats) {
    let mut rings: Vec<Vec<Coord<f64>>> = Vec::new();
    for polygon in layer.iter().flat_map(|mp| mp.iter()) {
        rings.push(polygon.exterior().0.clone());
        rings.extend(polygon.interiors().iter().map(|r| r.0.clone()));
    }
    let (simplified, stats) = simplify_rings(&rings, tolerance);
    let mut simplified = simplified.into_iter();
    let out: Vec<MultiPolygon<f64>> = layer
        .iter()
        .map(|mp| {
            MultiPolygon::new(
                mp.iter()
                    .map(|polygon| {
                        let exterior = LineString::new(simplified.next().unwrap_or_default());
                        let interiors = (0..polygon.interiors().len())
                            .map(|_| LineString::new(simplified.next().unwrap_or_default()))
                            .collect();
                        Polygon::new(exterior, interiors)
                    })
                    .collect(),
            )
        })
        .collect();
    (out, stats)
}
