//! The printed tables of `cargo xtask bench --e2e/--compare`.

use super::measured::Measured;
use super::stats::Summary;

/// f32 peak of the reference machine of issue 9 (2 cores of an AMD EPYC with AVX2 +
/// FMA), GFLOP/s: the `% peak` column.
pub const PEAK_GFLOPS: f64 = 200.0;

/// The issue's numbers to beat (median samples/s measured on the 2-core machine):
/// `(workload, batch, TensorFlow 2.21, PyTorch 2.15, JAX 0.10 with Keras 3)`.
pub const ISSUE_BEST: [(&str, usize, f64, f64, f64); 5] = [
    ("cnn-train", 32, 2003.0, 1654.0, 1589.0),
    ("cnn-train", 128, 1454.0, 1970.0, 933.0),
    ("cnn-predict", 256, 5481.0, 6826.0, 12893.0),
    ("mlp-train", 32, 19935.0, 33755.0, 60012.0),
    ("lstm-train", 32, 4624.0, 5508.0, 7182.0),
];

/// The best of the issue's three reference numbers for a workload, if it has one.
pub fn issue_best(workload: &str, batch: usize) -> Option<f64> {
    ISSUE_BEST
        .iter()
        .find(|r| r.0 == workload && r.1 == batch)
        .map(|r| r.2.max(r.3).max(r.4))
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_else(|| "-".into())
}

/// `min..max` of the runs.
fn spread(s: &Summary) -> String {
    format!("{:.0}..{:.0}", s.min, s.max)
}

/// The rounds' medians, `a / b / ...`.
fn rounds(s: &Summary) -> String {
    let r: Vec<String> = s.round_medians.iter().map(|m| format!("{m:.0}")).collect();
    r.join(" / ")
}

/// The slowdown column: the median of the rounds' ratios, `SLOW` when flagged.
fn slowdown(s: &Summary) -> String {
    match (s.slowdown(), s.flagged) {
        (Some(r), true) => format!("{r:.2} SLOW"),
        (Some(r), false) => format!("{r:.2}"),
        (None, _) => "-".into(),
    }
}

/// The table of neurite's rows (median samples/s over all runs and rounds, spread,
/// round medians, GFLOP/s, share of [`PEAK_GFLOPS`], peak MiB, ratio to
/// [`issue_best`], slowdown ratio).
pub fn neurite_table(measured: &[Measured]) -> String {
    let mut s = format!(
        "{:<16} {:<13} {:>10} {:>17} {:>17} {:>7} {:>6} {:>8} {:>8} {:>10}\n",
        "workload",
        "row",
        "samples/s",
        "runs min..max",
        "round medians",
        "GFLOP/s",
        "%peak",
        "peak MiB",
        "x best9",
        "slowdown"
    );
    s.push_str(&"-".repeat(121));
    s.push('\n');
    for m in measured {
        let Some(sum) = m.summary() else { continue };
        let g = m.gflops();
        s.push_str(&format!(
            "{:<16} {:<13} {:>10.1} {:>17} {:>17} {:>7} {:>6} {:>8} {:>8} {:>10}\n",
            m.key(),
            m.label,
            sum.median,
            spread(&sum),
            rounds(&sum),
            fmt_opt(g, 1),
            fmt_opt(g.map(|g| 100.0 * g / PEAK_GFLOPS), 1),
            fmt_opt(m.peak_rss_mb(), 1),
            fmt_opt(issue_best(&m.workload, m.batch).map(|b| sum.median / b), 2),
            slowdown(&sum),
        ));
    }
    s
}

/// The comparison table: per workload, every row in run order with its median, spread,
/// round medians, neurite's (f32 and bf16) ratio to it, its peak memory and slowdown.
pub fn compare_table(measured: &[Measured]) -> String {
    let mut s = format!(
        "{:<16} {:<31} {:>10} {:>17} {:>17} {:>8} {:>8} {:>8} {:>10}\n",
        "workload",
        "framework",
        "samples/s",
        "runs min..max",
        "round medians",
        "neurite",
        "n-bf16",
        "peak MiB",
        "slowdown"
    );
    s.push_str(&"-".repeat(133));
    s.push('\n');
    let median_of = |label: &str, key: &str| {
        measured
            .iter()
            .find(|m| m.label == label && m.key() == key)
            .and_then(Measured::summary)
            .map(|s| s.median)
    };
    let mut last_key = None;
    for m in measured {
        let Some(sum) = m.summary() else { continue };
        let key = m.key();
        if last_key.as_ref().is_some_and(|k| *k != key) {
            s.push('\n');
        }
        let ratio = |label: &str| fmt_opt(median_of(label, &key).map(|n| n / sum.median), 2);
        s.push_str(&format!(
            "{:<16} {:<31} {:>10.1} {:>17} {:>17} {:>7}x {:>7}x {:>8} {:>10}\n",
            key,
            m.label,
            sum.median,
            spread(&sum),
            rounds(&sum),
            ratio("neurite"),
            ratio("neurite-bf16"),
            fmt_opt(m.peak_rss_mb(), 1),
            slowdown(&sum),
        ));
        last_key = Some(key);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::result::E2eResult;
    use super::*;

    fn measured(label: &str, batch: usize, rounds: &[&[f64]]) -> Measured {
        Measured {
            label: label.into(),
            workload: "cnn-train".into(),
            batch,
            rounds: rounds
                .iter()
                .map(|runs| E2eResult {
                    framework: label.into(),
                    model: "cnn-train".into(),
                    batch,
                    samples_per_sec: runs[0],
                    runs: runs.to_vec(),
                    chunk_secs: Vec::new(),
                    steps: None,
                    peak_rss_mb: Some(27.5),
                    flops_per_sample: label.starts_with("neurite").then_some(16_765_440.0),
                    version: None,
                })
                .collect(),
        }
    }

    #[test]
    fn issue_numbers() {
        assert_eq!(issue_best("cnn-predict", 256), Some(12893.0));
        assert_eq!(issue_best("cnn-train", 128), Some(1970.0));
        assert_eq!(issue_best("cnn-train", 64), None);
    }

    #[test]
    fn neurite_table_has_spread_rounds_gflops_and_slowdown() {
        let n = measured(
            "neurite",
            32,
            &[&[1000.0, 990.0, 1010.0], &[1200.0, 1000.0, 900.0]],
        );
        let t = neurite_table(&[n]);
        // Median of all six runs, spread, round medians, 16.77 GFLOP/s at 1000/s, 8.4%.
        for want in [
            "1000.0",
            "900..1200",
            "1000 / 1000",
            "16.8",
            "8.4",
            "27.5",
            "0.50",
        ] {
            assert!(t.contains(want), "{want:?} missing in\n{t}");
        }
        // Round 2 ends 33% slower, round 1 does not: the median ratio, not flagged.
        assert!(!t.contains("SLOW"), "{t}");
    }

    #[test]
    fn compare_table_has_ratios_to_neurite_and_its_bf16_row() {
        let rows = [
            measured("neurite", 32, &[&[1000.0]]),
            measured("pytorch", 32, &[&[500.0, 450.0], &[500.0, 440.0]]),
            measured("neurite-bf16", 32, &[&[2000.0]]),
            measured("pytorch", 128, &[&[400.0]]),
        ];
        let t = compare_table(&rows);
        let line = |label: &str, key: &str| {
            t.lines()
                .find(|l| l.starts_with(key) && l.contains(label))
                .unwrap_or_else(|| panic!("{label} {key} missing in\n{t}"))
                .to_string()
        };
        let p = line("pytorch", "cnn-train/b32");
        // Median of 500, 450, 500, 440 is 475; neurite 1000/475, bf16 2000/475.
        assert!(
            p.contains("475.0") && p.contains("2.11x") && p.contains("4.21x"),
            "{p}"
        );
        assert!(p.contains("440..500") && p.contains("475 / 470"), "{p}");
        // Both rounds end > 10% slower: flagged.
        assert!(p.contains("SLOW"), "{p}");
        assert!(line("neurite", "cnn-train/b32").contains("1.00x"));
        // No neurite row for b128: ratios are "-".
        assert!(line("pytorch", "cnn-train/b128").contains("-x"), "{t}");
    }
}
