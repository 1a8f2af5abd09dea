//! Plainly written reference implementations, straight from the textbook
//! definitions, with no sharing of code with the crate.

/// Fraction of equal positions.
pub fn accuracy(t: &[usize], p: &[usize]) -> f64 {
    let hits = (0..t.len()).filter(|&i| t[i] == p[i]).count();
    hits as f64 / t.len() as f64
}

/// Counts `(tp, fp, fn)` of class `c` by scanning the samples.
pub fn counts(t: &[usize], p: &[usize], c: usize) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for i in 0..t.len() {
        match (t[i] == c, p[i] == c) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fn_ += 1.0,
            (false, false) => {}
        }
    }
    (tp, fp, fn_)
}

fn div0(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Per-class (precision, recall, f-beta) with zero division giving 0;
/// F-beta from precision and recall when both are defined, 0 when tp = 0.
pub fn prf(t: &[usize], p: &[usize], k: usize, beta: f64) -> Vec<(f64, f64, f64)> {
    (0..k)
        .map(|c| {
            let (tp, fp, fn_) = counts(t, p, c);
            let prec = div0(tp, tp + fp);
            let rec = div0(tp, tp + fn_);
            let b2 = beta * beta;
            let f = if tp == 0.0 {
                0.0
            } else {
                (1.0 + b2) * prec * rec / (b2 * prec + rec)
            };
            (prec, rec, f)
        })
        .collect()
}

/// Support of each class.
pub fn support(t: &[usize], k: usize) -> Vec<f64> {
    (0..k)
        .map(|c| t.iter().filter(|&&x| x == c).count() as f64)
        .collect()
}

/// Matthews correlation as the Pearson correlation of the one-hot
/// indicator matrices of truth and prediction (Gorodkin's R_K); 0 when a
/// variance is zero.
pub fn mcc(t: &[usize], p: &[usize], k: usize) -> f64 {
    let n = t.len() as f64;
    let ind = |v: &[usize], i: usize, c: usize| if v[i] == c { 1.0 } else { 0.0 };
    let mean = |v: &[usize], c: usize| v.iter().filter(|&&x| x == c).count() as f64 / n;
    let cov = |a: &[usize], b: &[usize]| {
        let mut s = 0.0;
        for c in 0..k {
            let (ma, mb) = (mean(a, c), mean(b, c));
            for i in 0..t.len() {
                s += (ind(a, i, c) - ma) * (ind(b, i, c) - mb);
            }
        }
        s
    };
    let (xy, xx, yy) = (cov(t, p), cov(t, t), cov(p, p));
    if xx == 0.0 || yy == 0.0 {
        0.0
    } else {
        xy / (xx * yy).sqrt()
    }
}

/// Cohen's kappa `(p_o - p_e) / (1 - p_e)`, 0 when `p_e = 1`.
pub fn kappa(t: &[usize], p: &[usize], k: usize) -> f64 {
    let n = t.len() as f64;
    let po = accuracy(t, p);
    let pe: f64 = (0..k)
        .map(|c| {
            let a = t.iter().filter(|&&x| x == c).count() as f64 / n;
            let b = p.iter().filter(|&&x| x == c).count() as f64 / n;
            a * b
        })
        .sum();
    if pe == 1.0 {
        0.0
    } else {
        (po - pe) / (1.0 - pe)
    }
}

/// Weighted kappa with weights `w(i, j)`: `1 - Σ w O / Σ w E` on
/// probabilities, summing over samples and pairs of samples directly.
pub fn weighted_kappa(t: &[usize], p: &[usize], w: impl Fn(usize, usize) -> f64) -> f64 {
    let n = t.len() as f64;
    let observed: f64 = (0..t.len()).map(|i| w(t[i], p[i])).sum::<f64>() / n;
    let mut expected = 0.0;
    for &a in t {
        for &b in p {
            expected += w(a, b);
        }
    }
    expected /= n * n;
    if expected == 0.0 {
        0.0
    } else {
        1.0 - observed / expected
    }
}

/// Top-k hit: the true score is at least the k-th largest score.
pub fn top_k(t: &[usize], scores: &ndarray::Array2<f32>, k: usize) -> f64 {
    let mut hits = 0;
    for (i, &label) in t.iter().enumerate() {
        let mut row: Vec<f32> = scores.row(i).to_vec();
        row.sort_by(|a, b| b.partial_cmp(a).unwrap());
        let kth = row[(k - 1).min(row.len() - 1)];
        if scores[[i, label]] >= kth {
            hits += 1;
        }
    }
    hits as f64 / t.len() as f64
}

/// Mean of `-ln(clip(p_true))`.
pub fn log_loss(t: &[usize], probs: &ndarray::Array2<f32>) -> f64 {
    let eps = 1e-15;
    let total: f64 = t
        .iter()
        .enumerate()
        .map(|(i, &l)| -(probs[[i, l]] as f64).clamp(eps, 1.0 - eps).ln())
        .sum();
    total / t.len() as f64
}

/// ROC AUC as the Mann-Whitney statistic: the probability that a random
/// positive scores above a random negative, ties counting half.
pub fn auc(t: &[usize], s: &[f32]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for i in 0..t.len() {
        for j in 0..t.len() {
            if t[i] == 1 && t[j] == 0 {
                pairs += 1.0;
                if s[i] > s[j] {
                    wins += 1.0;
                } else if s[i] == s[j] {
                    wins += 0.5;
                }
            }
        }
    }
    wins / pairs
}

/// Average precision as the mean, over positive samples, of the precision
/// among samples scoring at least as high as that positive.
pub fn average_precision(t: &[usize], s: &[f32]) -> f64 {
    let positives: Vec<usize> = (0..t.len()).filter(|&i| t[i] == 1).collect();
    let mut total = 0.0;
    for &i in &positives {
        let above: Vec<usize> = (0..t.len()).filter(|&j| s[j] >= s[i]).collect();
        let pos_above = above.iter().filter(|&&j| t[j] == 1).count();
        total += pos_above as f64 / above.len() as f64;
    }
    total / positives.len() as f64
}

/// Two-pass R² of one output (1 / 0 convention for constant targets).
pub fn r2(t: &[f64], p: &[f64]) -> f64 {
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    let ss_tot: f64 = t.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = t.iter().zip(p).map(|(y, q)| (y - q).powi(2)).sum();
    if ss_tot == 0.0 {
        if ss_res == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - ss_res / ss_tot
    }
}
