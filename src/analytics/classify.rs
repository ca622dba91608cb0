//! Choropleth classification: the class breaks of a region map (分位数, 等间距, 自然断点).
//!
//! Only finite values above zero are classified. Zero and missing values are separate legend entries that the map
//! draws differently (a very light fill and a hatched grey), so they never shift the breaks. Breaks are class upper
//! bounds: ascending, distinct, at most `k` of them and the last one the largest value; class `i` holds the values in
//! `(breaks[i - 1], breaks[i]]` (class 0 everything up to `breaks[0]`).

/// The fewest classes a map gets.
pub const MIN_CLASSES: usize = 1;
/// The most classes a map gets (the ColorBrewer sequential schemes stop at nine).
pub const MAX_CLASSES: usize = 9;

/// How the positive values are divided into classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Equal counts: the upper bounds are the `i/k` quantiles of the values.
    Quantile,
    /// Equal widths: the range from the smallest to the largest value split evenly.
    EqualInterval,
    /// Jenks natural breaks, computed exactly (ckmeans): the least within-class sum of squared deviations.
    NaturalBreaks,
}

impl Method {
    /// Every method, in the order of the method selector.
    pub const ALL: [Method; 3] = [Method::Quantile, Method::EqualInterval, Method::NaturalBreaks];

    /// The stable code used in URLs and settings.
    pub fn code(self) -> &'static str {
        match self {
            Method::Quantile => "quantile",
            Method::EqualInterval => "equal",
            Method::NaturalBreaks => "jenks",
        }
    }

    /// The Chinese name shown in the method selector.
    pub fn label(self) -> &'static str {
        match self {
            Method::Quantile => "分位数",
            Method::EqualInterval => "等间距",
            Method::NaturalBreaks => "自然断点",
        }
    }

    /// The method with this [`code`](Method::code) (surrounding white space ignored).
    pub fn parse(code: &str) -> Option<Method> {
        let code = code.trim();
        Method::ALL.into_iter().find(|m| m.code() == code)
    }
}

/// The class upper bounds of the positive values of `values` in (at most) `k` classes.
///
/// `k` is clamped to [`MIN_CLASSES`]`..=`[`MAX_CLASSES`] and to the number of distinct positive values. Zero,
/// negative, infinite and NaN values are ignored; without any positive value the result is empty. The bounds are
/// ascending and distinct (a quantile bound repeated by many equal values is kept once, so fewer than `k` classes may
/// come back) and the last one is the largest value.
pub fn breaks(values: &[f64], k: usize, method: Method) -> Vec<f64> {
    let sorted = positives(values);
    let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else {
        return Vec::new();
    };
    let points = distinct_with_counts(&sorted);
    let k = k.clamp(MIN_CLASSES, MAX_CLASSES).min(points.len());
    let mut bounds = match method {
        Method::Quantile => quantile(&sorted, k),
        Method::EqualInterval => equal_interval(min, max, k),
        Method::NaturalBreaks => ckmeans(&points, k),
    };
    // The last bound is exactly the largest value whatever rounding did to the computed ones.
    bounds.retain(|b| b.is_finite() && *b < max);
    bounds.push(max);
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
}

/// The class of `value`: the index of the first upper bound not below it.
///
/// `None` for zero, negative and NaN values (they are drawn as separate classes) and when there are no breaks. A value
/// above the last bound (possible only with breaks computed from other data) falls into the last class.
pub fn class_of(value: f64, breaks: &[f64]) -> Option<usize> {
    if value.is_nan() || value <= 0.0 {
        return None;
    }
    breaks.iter().position(|b| value <= *b).or_else(|| breaks.len().checked_sub(1))
}

/// One legend entry: the values from `lower` to `upper` and how many regions have them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassRange {
    /// The smallest value in the class (an empty class starts at the previous class's upper bound).
    pub lower: f64,
    /// The class upper bound.
    pub upper: f64,
    /// How many of the finite positive values fall into the class.
    pub count: usize,
}

/// The legend entries of `breaks` for `values`: one per break, in order.
///
/// Class 0 starts at the smallest positive value; every other class at its own smallest value, or at the previous
/// upper bound when it is empty. Only finite positive values are counted, so the counts add up to their number.
pub fn ranges(values: &[f64], breaks: &[f64]) -> Vec<ClassRange> {
    let sorted = positives(values);
    let mut out: Vec<ClassRange> = breaks.iter().map(|&upper| ClassRange { lower: upper, upper, count: 0 }).collect();
    // Ascending order: the first value a class receives is its smallest.
    for &value in &sorted {
        if let Some(range) = class_of(value, breaks).and_then(|i| out.get_mut(i)) {
            if range.count == 0 {
                range.lower = value;
            }
            range.count += 1;
        }
    }
    let min_positive = sorted.first().copied();
    let mut previous_upper: Option<f64> = None;
    for range in &mut out {
        if range.count == 0 {
            range.lower = match (previous_upper, min_positive) {
                (Some(upper), _) => upper,
                (None, Some(min)) => min.min(range.upper),
                (None, None) => range.upper,
            };
        }
        previous_upper = Some(range.upper);
    }
    out
}

/// The finite values above zero, ascending.
fn positives(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
    out.sort_by(f64::total_cmp);
    out
}

/// The distinct values of an ascending slice with how often each occurs.
fn distinct_with_counts(sorted: &[f64]) -> Vec<(f64, usize)> {
    sorted.chunk_by(|a, b| a == b).filter_map(|run| run.first().map(|&value| (value, run.len()))).collect()
}

/// Nearest-rank quantiles: the bound of class `i` (1-based) is the value at rank `ceil(i * n / k)`.
fn quantile(sorted: &[f64], k: usize) -> Vec<f64> {
    let n = sorted.len();
    if k == 0 {
        return Vec::new();
    }
    (1..=k).filter_map(|i| (i * n).div_ceil(k).checked_sub(1).and_then(|rank| sorted.get(rank)).copied()).collect()
}

/// `k` classes of equal width between `min` and `max` (one class when they are equal).
fn equal_interval(min: f64, max: f64, k: usize) -> Vec<f64> {
    if k <= 1 || min >= max {
        return vec![max];
    }
    let width = max - min;
    let k_f = count_f64(k);
    let mut out: Vec<f64> = (1..k).map(|i| min + width * count_f64(i) / k_f).collect();
    out.push(max);
    out
}

/// Exact optimal 1-D k-means (Wang & Song 2011, "Ckmeans.1d.dp") over distinct values weighted by their counts:
/// the `k` contiguous classes with the least total within-class sum of squared deviations. Returns the classes'
/// largest values. O(k·n²) for n distinct values, which is nothing for a province's ~100 regions.
fn ckmeans(points: &[(f64, usize)], k: usize) -> Vec<f64> {
    let n = points.len();
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    // rows[c][i] = (least cost of points[..=i] in c + 1 classes, first index of the last of those classes).
    let mut first = Moments::default();
    let first_row: Vec<(f64, usize)> = points
        .iter()
        .map(|&(x, count)| {
            first.add(x, count);
            (first.ssq, 0)
        })
        .collect();
    let mut rows: Vec<Vec<(f64, usize)>> = Vec::with_capacity(k);
    rows.push(first_row);
    for c in 1..k {
        let Some(prev) = rows.last() else { break };
        let row: Vec<(f64, usize)> = (0..n).map(|i| best_last_class(points, prev, c, i)).collect();
        rows.push(row);
    }
    // Walk back from the last point: each row names where its last class starts.
    let mut uppers = Vec::with_capacity(k);
    let mut end = n - 1;
    for row in rows.iter().skip(1).rev() {
        if let Some(&(x, _)) = points.get(end) {
            uppers.push(x);
        }
        let start = row.get(end).map_or(0, |cell| cell.1);
        end = start.saturating_sub(1);
    }
    if let Some(&(x, _)) = points.get(end) {
        uppers.push(x);
    }
    uppers.reverse();
    uppers
}

/// The best split of `points[..=i]` into `c + 1` classes given the best splits into `c` classes (`prev`): tries every
/// start `j` of the last class, accumulating the last class's moments from `i` downwards.
fn best_last_class(points: &[(f64, usize)], prev: &[(f64, usize)], c: usize, i: usize) -> (f64, usize) {
    let mut best = (f64::INFINITY, i);
    if i < c {
        // Fewer points than classes: impossible, never chosen by the caller's backtracking.
        return best;
    }
    let mut last = Moments::default();
    for j in (c..=i).rev() {
        let Some(&(x, count)) = points.get(j) else { break };
        last.add(x, count);
        let before = j.checked_sub(1).and_then(|p| prev.get(p)).map_or(f64::INFINITY, |cell| cell.0);
        let cost = before + last.ssq;
        if cost < best.0 {
            best = (cost, j);
        }
    }
    best
}

/// Running weighted mean and sum of squared deviations (West's weighted form of Welford's update; no cancellation).
#[derive(Debug, Default, Clone, Copy)]
struct Moments {
    weight: f64,
    mean: f64,
    ssq: f64,
}

impl Moments {
    /// Adds `count` copies of `x`.
    fn add(&mut self, x: f64, count: usize) {
        let w = count_f64(count);
        let total = self.weight + w;
        if total <= 0.0 {
            return;
        }
        let delta = x - self.mean;
        self.mean += delta * w / total;
        self.ssq += delta * delta * self.weight * w / total;
        self.weight = total;
    }
}

/// A count as a float (counts here are far below 2³², beyond which the value saturates).
fn count_f64(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_codes_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.code()), Some(m));
            assert!(!m.label().is_empty());
        }
        assert_eq!(Method::parse(" jenks "), Some(Method::NaturalBreaks));
        assert_eq!(Method::parse("equal"), Some(Method::EqualInterval));
        assert_eq!(Method::parse("自然断点"), None);
        assert_eq!(Method::parse(""), None);
    }

    #[test]
    fn natural_breaks_known_example() {
        let values = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 30.0, 31.0];
        assert_eq!(breaks(&values, 3, Method::NaturalBreaks), vec![3.0, 12.0, 31.0]);
        assert_eq!(breaks(&values, 2, Method::NaturalBreaks), vec![12.0, 31.0]);
        assert_eq!(breaks(&values, 1, Method::NaturalBreaks), vec![31.0]);
        // Order of the input does not matter; zeros and no-data stay out.
        let shuffled = [31.0, 0.0, 10.0, 1.0, f64::NAN, 12.0, 3.0, 30.0, 2.0, 11.0, -4.0];
        assert_eq!(breaks(&shuffled, 3, Method::NaturalBreaks), vec![3.0, 12.0, 31.0]);
        let repeated = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 9.0, 9.0, 9.0];
        assert_eq!(breaks(&repeated, 3, Method::NaturalBreaks), vec![1.0, 5.0, 9.0]);
        // The weight of repeated values pulls the split: 1 ×5 and 4 stay apart from 10.
        let weighted = [1.0, 1.0, 1.0, 1.0, 1.0, 4.0, 10.0];
        assert_eq!(breaks(&weighted, 2, Method::NaturalBreaks), vec![4.0, 10.0]);
    }

    #[test]
    fn quantile_hand_computed() {
        let values: Vec<f64> = (1..=10).map(f64::from).chain([0.0, f64::NAN, -3.0]).collect();
        // n = 10: ranks ceil(10/4)=3, ceil(20/4)=5, ceil(30/4)=8, 10.
        assert_eq!(breaks(&values, 4, Method::Quantile), vec![3.0, 5.0, 8.0, 10.0]);
        assert_eq!(breaks(&values, 2, Method::Quantile), vec![5.0, 10.0]);
        // ranks 4, 7, 10.
        assert_eq!(breaks(&values, 3, Method::Quantile), vec![4.0, 7.0, 10.0]);
        // Many equal values collapse bounds: ranks 4 and 7 are both 1.
        let skewed = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0];
        assert_eq!(breaks(&skewed, 3, Method::Quantile), vec![1.0, 3.0]);
    }

    #[test]
    fn equal_interval_hand_computed() {
        let values = [1.0, 4.0, 7.0, 10.0, 0.0, -3.0, 2.5];
        assert_eq!(breaks(&values, 3, Method::EqualInterval), vec![4.0, 7.0, 10.0]);
        assert_eq!(breaks(&[2.0, 4.0, 10.0, 12.0], 2, Method::EqualInterval), vec![7.0, 12.0]);
        // Two distinct values: at most two classes.
        assert_eq!(breaks(&[2.0, 10.0, 10.0], 5, Method::EqualInterval), vec![6.0, 10.0]);
        assert_eq!(
            breaks(&[100.0, 200.0, 300.0, 400.0, 500.0], 4, Method::EqualInterval),
            vec![200.0, 300.0, 400.0, 500.0]
        );
    }

    #[test]
    fn degenerate_inputs() {
        for m in Method::ALL {
            assert!(breaks(&[], 5, m).is_empty(), "{m:?}");
            assert!(breaks(&[0.0, 0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY], 5, m).is_empty(), "{m:?}");
            assert_eq!(breaks(&[5.0, 5.0, 5.0, 0.0], 5, m), vec![5.0], "{m:?}");
            assert_eq!(breaks(&[7.0], 9, m), vec![7.0], "{m:?}");
            // k = 0 means one class; k above nine is nine.
            assert_eq!(breaks(&[1.0, 2.0, 3.0], 0, m), vec![3.0], "{m:?}");
            let many: Vec<f64> = (1..=50).map(f64::from).collect();
            let b = breaks(&many, 20, m);
            assert_eq!(b.len(), MAX_CLASSES, "{m:?}");
            assert_eq!(b.last(), Some(&50.0), "{m:?}");
        }
    }

    #[test]
    fn class_of_and_ranges() {
        let b = [3.0, 12.0, 31.0];
        assert_eq!(class_of(1.0, &b), Some(0));
        assert_eq!(class_of(3.0, &b), Some(0));
        assert_eq!(class_of(3.5, &b), Some(1));
        assert_eq!(class_of(31.0, &b), Some(2));
        assert_eq!(class_of(99.0, &b), Some(2));
        assert_eq!(class_of(0.0, &b), None);
        assert_eq!(class_of(-2.0, &b), None);
        assert_eq!(class_of(f64::NAN, &b), None);
        assert_eq!(class_of(1.0, &[]), None);

        let values = [1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 30.0, 31.0, 0.0, f64::NAN];
        let r = ranges(&values, &b);
        assert_eq!(
            r,
            vec![
                ClassRange { lower: 1.0, upper: 3.0, count: 3 },
                ClassRange { lower: 10.0, upper: 12.0, count: 3 },
                ClassRange { lower: 30.0, upper: 31.0, count: 2 },
            ]
        );
        // An empty middle class starts at the previous upper bound.
        let r = ranges(&[1.0, 31.0], &b);
        assert_eq!(r[1], ClassRange { lower: 3.0, upper: 12.0, count: 0 });
        assert_eq!(r[0].lower, 1.0);
        assert!(ranges(&values, &[]).is_empty());
    }

    /// The within-class sum of squared deviations of a classification.
    fn cost(values: &[f64], b: &[f64]) -> f64 {
        let mut classes: Vec<Vec<f64>> = vec![Vec::new(); b.len()];
        for &v in values {
            if let Some(i) = class_of(v, b) {
                classes[i].push(v);
            }
        }
        classes.iter().map(|c| ssq(c)).sum()
    }

    fn ssq(values: &[f64]) -> f64 {
        if values.is_empty() {
            return 0.0;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        values.iter().map(|v| (v - mean) * (v - mean)).sum()
    }

    /// The least cost of splitting ascending `values` into `k` contiguous classes of distinct values, by brute force.
    fn brute_force(groups: &[Vec<f64>], k: usize) -> f64 {
        if k == 1 {
            return ssq(&groups.concat());
        }
        (1..=groups.len() - (k - 1))
            .map(|s| ssq(&groups[..s].concat()) + brute_force(&groups[s..], k - 1))
            .fold(f64::INFINITY, f64::min)
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;
        use super::{brute_force, cost};

        fn value() -> impl Strategy<Value = f64> {
            prop_oneof![
                1 => Just(0.0),
                1 => Just(f64::NAN),
                1 => -100.0f64..0.0,
                6 => 0.001f64..1.0e6,
                2 => (1u32..20).prop_map(f64::from),
            ]
        }

        proptest! {
            #[test]
            fn every_positive_value_gets_a_monotone_class(
                values in prop::collection::vec(value(), 0..80),
                k in 0usize..12,
                m in 0usize..3,
            ) {
                let method = Method::ALL[m];
                let b = breaks(&values, k, method);
                let mut pos: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
                pos.sort_by(f64::total_cmp);
                if pos.is_empty() {
                    prop_assert!(b.is_empty());
                    return Ok(());
                }
                prop_assert!(!b.is_empty());
                prop_assert!(b.len() <= k.clamp(MIN_CLASSES, MAX_CLASSES));
                prop_assert!(b.windows(2).all(|w| w[0] < w[1]), "not ascending: {:?}", b);
                prop_assert_eq!(b.last().copied(), pos.last().copied());
                let mut previous = 0;
                for &v in &pos {
                    let class = class_of(v, &b);
                    prop_assert!(class.is_some());
                    let i = class.unwrap_or_default();
                    prop_assert!(v <= b[i]);
                    prop_assert!(i == 0 || v > b[i - 1]);
                    prop_assert!(i >= previous, "classes not monotone");
                    previous = i;
                }
                for &v in values.iter().filter(|v| v.is_nan() || **v <= 0.0) {
                    prop_assert_eq!(class_of(v, &b), None);
                }
                let r = ranges(&values, &b);
                prop_assert_eq!(r.len(), b.len());
                prop_assert_eq!(r.iter().map(|c| c.count).sum::<usize>(), pos.len());
                prop_assert!(r.iter().all(|c| c.lower <= c.upper));
            }

            #[test]
            fn natural_breaks_are_optimal(
                ints in prop::collection::vec(1u32..40, 1..10),
                k in 1usize..5,
            ) {
                let values: Vec<f64> = ints.iter().copied().map(f64::from).collect();
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let groups: Vec<Vec<f64>> = sorted.chunk_by(|a, b| a == b).map(<[f64]>::to_vec).collect();
                let k = k.min(groups.len());
                let b = breaks(&values, k, Method::NaturalBreaks);
                prop_assert_eq!(b.len(), k);
                let best = brute_force(&groups, k);
                let ours = cost(&values, &b);
                prop_assert!((ours - best).abs() <= 1e-6 * (1.0 + best), "ours {} best {} {:?}", ours, best, b);
            }
        }
    }
}
