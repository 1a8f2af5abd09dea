//! Aggregation over runs and rounds, and the slowdown check.
//!
//! A row (one framework on one workload) is measured in `R` rounds, each one process
//! that runs a warm-up run and then `N` timed runs. Its summary is the median, min and
//! max over all `R x N` runs, the median of each round, and the **slowdown check**:
//! in each round, how much slower the end of a run is than its start.
//!
//! - When the process reports the seconds of consecutive chunks of each run
//!   (`chunk_secs`, e.g. 4 quarters), a run's ratio is its last chunk's seconds per
//!   batch over its first chunk's, and the round's ratio is the median over its runs.
//! - Otherwise the round's ratio is its last run's time over its first run's
//!   (`runs[0] / runs[N-1]` in samples/s), which needs at least 2 runs.
//!
//! A row is **flagged** when every round has a ratio and every one is above
//! [`SLOWDOWN_LIMIT`]: consistently slower at the end, not one noisy round.

/// A row is flagged when the end of its runs is more than 10% slower than the start in
/// every round.
pub const SLOWDOWN_LIMIT: f64 = 1.10;

/// Median of a slice (`None` when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// The number of batches in each of `chunks` consecutive chunks of a run of `steps`
/// batches, as the reference scripts cut it (chunk `k` ends after batch
/// `(k+1)*steps/chunks - 1`).
pub fn chunk_sizes(steps: usize, chunks: usize) -> Vec<usize> {
    let ends: Vec<usize> = (0..chunks).map(|k| (k + 1) * steps / chunks).collect();
    let mut prev = 0;
    ends.into_iter()
        .map(|e| {
            let size = e - prev;
            prev = e;
            size
        })
        .collect()
}

/// Last chunk's time per batch over the first's, for one run's chunk seconds. With
/// `steps` unknown the chunks are taken as equal. `None` for fewer than 2 chunks or a
/// non-positive time.
pub fn chunk_ratio(secs: &[f64], steps: Option<usize>) -> Option<f64> {
    let n = secs.len();
    if n < 2 {
        return None;
    }
    let (first, last) = (secs[0], secs[n - 1]);
    if first <= 0.0 || last <= 0.0 {
        return None;
    }
    let (b_first, b_last) = match steps {
        Some(s) if s >= n => {
            let sizes = chunk_sizes(s, n);
            (sizes[0] as f64, sizes[n - 1] as f64)
        }
        _ => (1.0, 1.0),
    };
    Some((last / b_last) / (first / b_first))
}

/// One round (process) of a row: its timed runs and, if reported, their chunk seconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Round {
    /// Samples per second of each timed run.
    pub runs: Vec<f64>,
    /// Seconds of each run's consecutive chunks (may be empty).
    pub chunk_secs: Vec<Vec<f64>>,
    /// Batches per run, if reported.
    pub steps: Option<usize>,
}

impl Round {
    /// This round's slowdown ratio (end over start; > 1 means slower at the end).
    pub fn slowdown(&self) -> Option<f64> {
        let per_run: Vec<f64> = self
            .chunk_secs
            .iter()
            .filter_map(|c| chunk_ratio(c, self.steps))
            .collect();
        if !per_run.is_empty() {
            return median(&per_run);
        }
        match self.runs.as_slice() {
            [first, .., last] if *first > 0.0 && *last > 0.0 => Some(first / last),
            _ => None,
        }
    }
}

/// The summary of a row over all its rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Median samples/s over all runs of all rounds.
    pub median: f64,
    /// Slowest run, samples/s.
    pub min: f64,
    /// Fastest run, samples/s.
    pub max: f64,
    /// Median of each round's runs.
    pub round_medians: Vec<f64>,
    /// Each round's slowdown ratio (`None` where it cannot be computed).
    pub slowdowns: Vec<Option<f64>>,
    /// Every round's ratio exists and exceeds [`SLOWDOWN_LIMIT`].
    pub flagged: bool,
}

impl Summary {
    /// Summarises the rounds of one row; `None` when no round has a run.
    pub fn of(rounds: &[Round]) -> Option<Summary> {
        let all: Vec<f64> = rounds.iter().flat_map(|r| r.runs.iter().copied()).collect();
        let median_all = median(&all)?;
        let slowdowns: Vec<Option<f64>> = rounds.iter().map(Round::slowdown).collect();
        let flagged =
            !slowdowns.is_empty() && slowdowns.iter().all(|s| s.is_some_and(|s| s > SLOWDOWN_LIMIT));
        Some(Summary {
            median: median_all,
            min: all.iter().copied().fold(f64::INFINITY, f64::min),
            max: all.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            round_medians: rounds.iter().filter_map(|r| median(&r.runs)).collect(),
            slowdowns,
            flagged,
        })
    }

    /// The median of the rounds' slowdown ratios, if any round has one.
    pub fn slowdown(&self) -> Option<f64> {
        let s: Vec<f64> = self.slowdowns.iter().flatten().copied().collect();
        median(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(runs: &[f64], chunks: &[&[f64]], steps: Option<usize>) -> Round {
        Round {
            runs: runs.to_vec(),
            chunk_secs: chunks.iter().map(|c| c.to_vec()).collect(),
            steps,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn chunk_sizes_match_the_scripts_boundaries() {
        // common.chunk_ends(10) == [1, 4, 6, 9]: chunks of 2, 3, 2, 3 batches.
        assert_eq!(chunk_sizes(10, 4), [2, 3, 2, 3]);
        assert_eq!(chunk_sizes(512, 4), [128; 4]);
        assert_eq!(chunk_sizes(10, 4).iter().sum::<usize>(), 10);
    }

    #[test]
    fn chunk_ratio_is_per_batch() {
        assert_eq!(chunk_ratio(&[1.0, 1.0, 1.0, 1.2], None), Some(1.2));
        // 2 batches in 1 s first, 3 batches in 1.5 s last: the same speed.
        assert_eq!(chunk_ratio(&[1.0, 1.0, 1.0, 1.5], Some(10)), Some(1.0));
        assert_eq!(chunk_ratio(&[1.0], Some(10)), None);
        assert_eq!(chunk_ratio(&[0.0, 1.0], None), None);
    }

    #[test]
    fn summary_over_rounds() {
        let s = Summary::of(&[
            round(&[100.0, 110.0, 90.0], &[], None),
            round(&[120.0, 80.0, 105.0], &[], None),
        ])
        .unwrap();
        assert_eq!(s.median, 102.5);
        assert_eq!((s.min, s.max), (80.0, 120.0));
        assert_eq!(s.round_medians, [100.0, 105.0]);
        // Runs only: first/last rate = last/first time.
        assert_eq!(s.slowdowns, [Some(100.0 / 90.0), Some(120.0 / 105.0)]);
        assert!(s.flagged, "both rounds end > 10% slower");
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[round(&[], &[], None)]).is_none());
    }

    #[test]
    fn flags_only_a_consistent_slowdown() {
        let slow: &[f64] = &[1.0, 1.1, 1.2, 1.3];
        let flat: &[f64] = &[1.0, 1.0, 1.01, 1.02];
        let both_slow = [
            round(&[10.0, 10.0], &[slow, slow], Some(8)),
            round(&[10.0, 10.0], &[slow, flat, slow], Some(8)),
        ];
        let s = Summary::of(&both_slow).unwrap();
        assert!(s.flagged);
        assert_eq!(s.slowdowns, [Some(1.3), Some(1.3)]);
        assert_eq!(s.slowdown(), Some(1.3));
        // One round slow, the other flat: not consistent.
        let mixed = [
            round(&[10.0, 10.0], &[slow, slow], Some(8)),
            round(&[10.0, 10.0], &[flat, flat], Some(8)),
        ];
        assert!(!Summary::of(&mixed).unwrap().flagged);
        // Chunk seconds take precedence over the runs (which here would say 2x slower).
        let chunks_flat = [round(&[20.0, 10.0], &[flat, flat], Some(8))];
        assert!(!Summary::of(&chunks_flat).unwrap().flagged);
        // A single run without chunks gives no ratio, so nothing to flag.
        let single = [round(&[10.0], &[], None)];
        let s = Summary::of(&single).unwrap();
        assert_eq!((s.slowdowns.as_slice(), s.flagged), (&[None][..], false));
        assert_eq!(s.slowdown(), None);
        // Exactly at the limit is not flagged.
        let at = Summary::of(&[round(&[11.0, 10.0], &[], None)]).unwrap();
        assert_eq!(at.slowdowns, [Some(1.1)]);
        assert!(!at.flagged);
    }
}
