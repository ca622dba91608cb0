//! The import decision for one channel, as a pure function of what was applied before.
//!
//! Each channel is its own chain: bundle `n` names the hash of bundle `n - 1`. The importer
//! keeps, per channel, the last applied sequence number and the hash of every applied bundle;
//! it applies a bundle and records its hash in one transaction, so importing is atomic, and
//! [`classify`] makes it idempotent. Bundles that arrive early are held and retried with
//! [`next_ready`] after each apply.

use super::format::Manifest;

/// What to do with a verified incoming bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The next bundle, chained to the last applied one: apply it and record its hash.
    Apply,
    /// This very bundle was applied already: change nothing.
    Duplicate,
    /// A bundle from further ahead: keep it until the bundles from `missing_from` have arrived.
    Hold {
        /// The first sequence number not yet received.
        missing_from: u64,
    },
    /// Contradicts the applied chain (same sequence number with other content, or not chained
    /// to the last applied bundle): refuse it and report.
    Fork {
        /// The incoming bundle's sequence number.
        sequence: u64,
    },
}

/// Decides what to do with `incoming`, whose [`super::bundle_hash`] is `incoming_hash`.
///
/// `last_applied` is the last applied sequence number of the channel (0 before the first);
/// `known_hash(n)` is the hash of the applied bundle `n`.
pub fn classify(
    last_applied: u64,
    known_hash: &dyn Fn(u64) -> Option<String>,
    incoming: &Manifest,
    incoming_hash: &str,
) -> Disposition {
    let sequence = incoming.sequence;
    if sequence <= last_applied {
        return if known_hash(sequence).as_deref() == Some(incoming_hash) {
            Disposition::Duplicate
        } else {
            Disposition::Fork { sequence }
        };
    }
    let next = last_applied.saturating_add(1);
    if sequence > next {
        return Disposition::Hold { missing_from: next };
    }
    let chained = if last_applied == 0 {
        incoming.prev_hash.is_none()
    } else {
        // Without the hash of the last applied bundle the chain cannot be confirmed.
        known_hash(last_applied).is_some_and(|h| incoming.prev_hash.as_deref() == Some(h.as_str()))
    };
    if chained { Disposition::Apply } else { Disposition::Fork { sequence } }
}

/// Among held `(sequence, bundle)` pairs, the index of one that need not wait any longer:
/// numbered `last_applied + 1` or less.
///
/// Take it out and [`classify`] it again: the successor may apply or be a fork; one at or below
/// `last_applied` is a duplicate (drop it) or a fork.
pub fn next_ready<T>(last_applied: u64, held: &[(u64, T)]) -> Option<usize> {
    let limit = last_applied.saturating_add(1);
    held.iter().position(|(sequence, _)| *sequence <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::format::Channel;

    fn manifest(sequence: u64, prev_hash: Option<&str>) -> Manifest {
        Manifest {
            format: 1,
            channel: Channel::Results,
            sequence,
            prev_hash: prev_hash.map(str::to_owned),
            created_at: chrono::Utc::now(),
            key_id: "k".into(),
            files: Vec::new(),
        }
    }

    /// Applied so far: bundle 1 with hash `h1`, bundle 2 with hash `h2`.
    fn known(n: u64) -> Option<String> {
        (1..=2).contains(&n).then(|| format!("h{n}"))
    }

    #[test]
    fn classify_table() {
        use Disposition::*;
        let cases = [
            ("first bundle", 0, 1, None, "h1", Apply),
            ("first bundle naming a predecessor", 0, 1, Some("h0"), "h1", Fork { sequence: 1 }),
            ("next in order", 2, 3, Some("h2"), "h3", Apply),
            ("replay", 2, 2, Some("h1"), "h2", Duplicate),
            ("replay of the first", 2, 1, None, "h1", Duplicate),
            ("same sequence, other content", 2, 2, Some("h1"), "hx", Fork { sequence: 2 }),
            ("gap", 2, 5, Some("h4"), "h5", Hold { missing_from: 3 }),
            ("gap before the first", 0, 2, Some("h1"), "h2", Hold { missing_from: 1 }),
            ("wrong prev_hash", 2, 3, Some("h1"), "h3", Fork { sequence: 3 }),
            ("no prev_hash", 2, 3, None, "h3", Fork { sequence: 3 }),
            ("last applied hash unknown", 3, 4, Some("h3"), "h4", Fork { sequence: 4 }),
        ];
        for (what, last, sequence, prev, hash, expected) in cases {
            let got = classify(last, &known, &manifest(sequence, prev), hash);
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn next_ready_picks_what_need_not_wait() {
        let held = [(7, 'a'), (5, 'b'), (6, 'c')];
        for (last, expected) in [(3, None), (4, Some(1)), (5, Some(1)), (6, Some(0))] {
            assert_eq!(next_ready(last, &held), expected, "after {last}");
        }
        assert_eq!(next_ready::<char>(0, &[]), None);
    }

    /// An importer in miniature: out of order, repeated and forged arrivals end in one chain.
    #[test]
    fn imports_converge() {
        let mut applied: Vec<String> = Vec::new();
        let mut held: Vec<(u64, (Manifest, String))> = Vec::new();
        let mut forks = Vec::new();
        let arrivals = [
            (3, Some("h2"), "h3"),
            (1, None, "h1"),
            (3, Some("h2"), "h3"),
            (2, Some("h1"), "h2"),
            (1, None, "h1"),
            (2, Some("h1"), "evil"),
            (4, Some("nope"), "h4"),
        ];
        for (sequence, prev, hash) in arrivals {
            let mut queue = vec![(manifest(sequence, prev), hash.to_owned())];
            while let Some((m, h)) = queue.pop() {
                let last = applied.len() as u64;
                let lookup = |n: u64| applied.get(usize::try_from(n).ok()?.checked_sub(1)?).cloned();
                match classify(last, &lookup, &m, &h) {
                    Disposition::Apply => applied.push(h),
                    Disposition::Duplicate => {}
                    Disposition::Hold { .. } => held.push((m.sequence, (m, h))),
                    Disposition::Fork { sequence } => forks.push(sequence),
                }
                if let Some(i) = next_ready(applied.len() as u64, &held) {
                    queue.push(held.remove(i).1);
                }
            }
        }
        assert_eq!(applied, ["h1", "h2", "h3"]);
        assert_eq!(forks, [2, 4]);
        assert_eq!(held.len(), 0);
    }
}
