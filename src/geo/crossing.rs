//! Finding segments that cross or overlap, so that simplification can undo the shortcuts that caused them.

use std::collections::HashMap;

use ::geo::Coord;

/// The search grid has this many cells along the longer side of the bounding box of all segments.
const GRID_CELLS: f64 = 256.0;

/// The side of `ab` that `c` is on: 1 left, -1 right, 0 on the line.
fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> i8 {
    let v = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
    i8::from(v > 0.0) - i8::from(v < 0.0)
}

/// `c` lies in the bounding box of `ab`.
fn on_box(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> bool {
    (a.x.min(b.x)..=a.x.max(b.x)).contains(&c.x) && (a.y.min(b.y)..=a.y.max(b.y)).contains(&c.y)
}

/// Segments `ab` and `cd` meet anywhere except at one shared end point where they merely touch.
fn segments_conflict(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    if (a == c && b == d) || (a == d && b == c) {
        return true;
    }
    let (o1, o2, o3, o4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
    if a == c || a == d || b == c || b == d {
        // Only a collinear overlap beyond the shared end point conflicts.
        if o1 != 0 || o2 != 0 {
            return false;
        }
        let other_cd = if c == a || c == b { d } else { c };
        let other_ab = if a == c || a == d { b } else { a };
        return on_box(a, b, other_cd) || on_box(c, d, other_ab);
    }
    if o1 != o2 && o3 != o4 && o1 != 0 && o2 != 0 && o3 != 0 && o4 != 0 {
        return true;
    }
    (o1 == 0 && on_box(a, b, c))
        || (o2 == 0 && on_box(a, b, d))
        || (o3 == 0 && on_box(c, d, a))
        || (o4 == 0 && on_box(c, d, b))
}

/// Marks the arcs with a segment that crosses or overlaps another segment (of any arc, itself included), or that
/// folded onto a single point.
pub(super) fn crossing_arcs(arcs: &[Vec<Coord<f64>>]) -> Vec<bool> {
    let mut bad = vec![false; arcs.len()];
    let mut segs: Vec<(usize, Coord<f64>, Coord<f64>)> = Vec::new();
    for (a, points) in arcs.iter().enumerate() {
        for w in points.windows(2) {
            if let [p, q] = w {
                segs.push((a, *p, *q));
            }
        }
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) =
        (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &(a, p, q) in &segs {
        if p == q {
            bad[a] = true;
        }
        min_x = min_x.min(p.x).min(q.x);
        min_y = min_y.min(p.y).min(q.y);
        max_x = max_x.max(p.x).max(q.x);
        max_y = max_y.max(p.y).max(q.y);
    }
    let mut cell = (max_x - min_x).max(max_y - min_y) / GRID_CELLS;
    if !cell.is_finite() || cell <= 0.0 {
        cell = 1.0;
    }
    let index = |v: f64, min: f64| ((v - min) / cell).floor() as i64;
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (k, &(_, p, q)) in segs.iter().enumerate() {
        for gx in index(p.x.min(q.x), min_x)..=index(p.x.max(q.x), min_x) {
            for gy in index(p.y.min(q.y), min_y)..=index(p.y.max(q.y), min_y) {
                grid.entry((gx, gy)).or_default().push(k);
            }
        }
    }
    for ks in grid.values() {
        for (i, &k1) in ks.iter().enumerate() {
            let Some(&(a1, p1, q1)) = segs.get(k1) else { continue };
            for &k2 in ks.iter().skip(i + 1) {
                let Some(&(a2, p2, q2)) = segs.get(k2) else { continue };
                if !(bad[a1] && bad[a2]) && segments_conflict(p1, q1, p2, q2) {
                    bad[a1] = true;
                    bad[a2] = true;
                }
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(x: f64, y: f64) -> Coord<f64> {
        Coord { x, y }
    }

    #[test]
    fn conflicts_between_segments() {
        assert!(segments_conflict(c(0.0, 0.0), c(2.0, 2.0), c(0.0, 2.0), c(2.0, 0.0)), "crossing");
        assert!(!segments_conflict(c(0.0, 0.0), c(1.0, 0.0), c(1.0, 0.0), c(2.0, 1.0)), "touching at an end");
        assert!(!segments_conflict(c(0.0, 0.0), c(1.0, 0.0), c(1.0, 0.0), c(2.0, 0.0)), "going straight on");
        assert!(segments_conflict(c(0.0, 0.0), c(2.0, 0.0), c(2.0, 0.0), c(1.0, 0.0)), "folding back");
        assert!(segments_conflict(c(0.0, 0.0), c(1.0, 0.0), c(1.0, 0.0), c(0.0, 0.0)), "the same segment");
        assert!(segments_conflict(c(0.0, 0.0), c(2.0, 0.0), c(1.0, 0.0), c(1.0, 1.0)), "an end on the other");
        assert!(!segments_conflict(c(0.0, 0.0), c(1.0, 0.0), c(0.0, 1.0), c(1.0, 1.0)), "apart");
        let arcs = vec![vec![c(0.0, 0.0), c(2.0, 2.0)], vec![c(0.0, 2.0), c(2.0, 0.0)], vec![c(5.0, 5.0), c(6.0, 5.0)]];
        assert_eq!(crossing_arcs(&arcs), vec![true, true, false]);
        assert_eq!(crossing_arcs(&[vec![c(1.0, 1.0), c(1.0, 1.0)]]), vec![true], "folded onto one point");
        assert!(crossing_arcs(&[]).is_empty());
    }
}
