//! Choosing the next token of a generated sequence from a model's output: greedy,
//! temperature and top-k sampling.

use crate::error::{Error, Result};
use rand::Rng;

/// How [`Sampling::sample`] picks an index from a probability (or logit) vector, as the
/// Keras and PyTorch text-generation recipes do.
///
/// * `Greedy`: the most probable index (the first on ties).
/// * `Temperature(t)`: an index drawn with probabilities proportional to `p^(1/t)`, i.e.
///   `softmax(log(p) / t)` (Keras' character-LSTM recipe); `t < 1` sharpens, `t > 1` flattens.
/// * `TopK { k, temperature }`: only the `k` most probable indices (the lower index on ties),
///   reweighted by `temperature`, then drawn.
///
/// ```
/// use neurite::sampling::Sampling;
/// use neurite::prelude::rng_from_seed;
/// let probs = [0.1, 0.6, 0.3];
/// let mut rng = rng_from_seed(0);
/// assert_eq!(Sampling::Greedy.sample(&probs, &mut rng)?, 1);
/// let i = Sampling::TopK { k: 2, temperature: 1.0 }.sample(&probs, &mut rng)?;
/// assert!(i == 1 || i == 2); // never the least probable
/// assert!(Sampling::Temperature(0.0).sample(&probs, &mut rng).is_err());
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// The argmax.
    Greedy,
    /// Draw from `p^(1/t)`, renormalized; `t > 0`.
    Temperature(f32),
    /// Draw from the `k` most probable, reweighted by `temperature`.
    TopK {
        /// How many indices stay candidates (at least 1).
        k: usize,
        /// The temperature applied to the candidates (`> 0`; 1 keeps their probabilities).
        temperature: f32,
    },
}

fn bad(message: String) -> Error {
    Error::Input(format!("sampling: {message}"))
}

impl Sampling {
    fn check(&self, len: usize) -> Result<()> {
        let temperature = match *self {
            Sampling::Greedy => return Ok(()),
            Sampling::Temperature(t) => t,
            Sampling::TopK { k, temperature } => {
                if k == 0 {
                    return Err(bad(format!(
                        "top-k needs k >= 1, found 0 (over {len} candidates)"
                    )));
                }
                temperature
            }
        };
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(bad(format!(
                "the temperature must be a finite number > 0, found {temperature}"
            )));
        }
        Ok(())
    }

    /// An index drawn from `probabilities` (a model's softmax output for one step; they are
    /// renormalized, so any non-negative weights with a positive sum work). Errors on an empty
    /// vector, a negative or non-finite entry, an all-zero vector, or a bad setting.
    ///
    /// ```
    /// use neurite::sampling::Sampling;
    /// let mut rng = neurite::prelude::rng_from_seed(1);
    /// assert_eq!(Sampling::Temperature(0.5).sample(&[0.0, 1.0], &mut rng)?, 1);
    /// assert!(Sampling::Greedy.sample(&[0.2, f32::NAN], &mut rng).is_err());
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn sample(&self, probabilities: &[f32], rng: &mut impl Rng) -> Result<usize> {
        self.check(probabilities.len())?;
        if probabilities.is_empty() {
            return Err(bad("no probabilities to sample from".into()));
        }
        if let Some((i, p)) = probabilities
            .iter()
            .enumerate()
            .find(|(_, p)| !(p.is_finite() && **p >= 0.0))
        {
            return Err(bad(format!(
                "probability {i} is {p}; probabilities must be finite and >= 0 (use sample_logits for logits)"
            )));
        }
        if probabilities.iter().all(|&p| p == 0.0) {
            return Err(bad(format!("all {} probabilities are 0", probabilities.len())));
        }
        // log(p) / t, with log(0) = -inf: zero-probability indices are never drawn.
        let scores: Vec<f64> = probabilities.iter().map(|&p| (p as f64).ln()).collect();
        self.draw(&scores, rng)
    }

    /// An index drawn from `softmax(logits)` (a model's output before its softmax), with the
    /// same rules as [`Sampling::sample`]. Errors on an empty vector or a non-finite logit.
    ///
    /// ```
    /// use neurite::sampling::Sampling;
    /// let mut rng = neurite::prelude::rng_from_seed(2);
    /// assert_eq!(Sampling::Greedy.sample_logits(&[2.0, -1.0, 5.0], &mut rng)?, 2);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn sample_logits(&self, logits: &[f32], rng: &mut impl Rng) -> Result<usize> {
        self.check(logits.len())?;
        if logits.is_empty() {
            return Err(bad("no logits to sample from".into()));
        }
        if let Some((i, l)) = logits.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            return Err(bad(format!("logit {i} is {l}; logits must be finite")));
        }
        let scores: Vec<f64> = logits.iter().map(|&l| l as f64).collect();
        self.draw(&scores, rng)
    }

    /// Draws from `softmax(scores / t)` restricted as the mode says; `scores` are log-weights
    /// (`-inf` allowed, not all).
    fn draw(&self, scores: &[f64], rng: &mut impl Rng) -> Result<usize> {
        let argmax = || {
            scores
                .iter()
                .enumerate()
                .fold(0, |best, (i, &s)| if s > scores[best] { i } else { best })
        };
        let (candidates, temperature): (Vec<usize>, f64) = match *self {
            Sampling::Greedy => return Ok(argmax()),
            Sampling::Temperature(t) => ((0..scores.len()).collect(), t as f64),
            Sampling::TopK { k, temperature } => {
                let mut order: Vec<usize> = (0..scores.len()).collect();
                // Stable: equal scores keep index order, so the lower index wins a tie.
                order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
                order.truncate(k);
                (order, temperature as f64)
            }
        };
        let top = candidates
            .iter()
            .map(|&i| scores[i])
            .fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = candidates
            .iter()
            .map(|&i| ((scores[i] - top) / temperature).exp())
            .collect();
        Ok(candidates[pick(&weights, rng.random::<f64>())])
    }
}

/// The index whose cumulative weight first exceeds `u * total` (`u` in `[0, 1)`); indices of
/// weight 0 are never picked.
pub(crate) fn pick(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let target = u * total;
    let mut cumulative = 0.0;
    let mut last_positive = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cumulative += w;
            last_positive = i;
            if target < cumulative {
                return i;
            }
        }
    }
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::rng_from_seed;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pick_inverts_the_cumulative_weights(weights in proptest::collection::vec(0.0f64..5.0, 1..12), u in 0.0f64..1.0) {
            prop_assume!(weights.iter().any(|&w| w > 0.0));
            let i = pick(&weights, u);
            let total: f64 = weights.iter().sum();
            let below: f64 = weights[..i].iter().sum();
            prop_assert!(weights[i] > 0.0);
            prop_assert!(below <= u * total + 1e-9 && u * total < below + weights[i] + 1e-9);
        }

        #[test]
        fn greedy_is_the_first_argmax(p in proptest::collection::vec(0.0f32..1.0, 1..20)) {
            prop_assume!(p.iter().any(|&x| x > 0.0));
            let expected = p.iter().enumerate().fold(0, |b, (i, &x)| if x > p[b] { i } else { b });
            prop_assert_eq!(Sampling::Greedy.sample(&p, &mut rng_from_seed(0)).unwrap(), expected);
        }

        #[test]
        fn top_k_draws_only_among_the_k_largest(p in proptest::collection::vec(0.01f32..1.0, 1..20), k in 1usize..6, seed in any::<u64>()) {
            let i = Sampling::TopK { k, temperature: 1.0 }.sample(&p, &mut rng_from_seed(seed)).unwrap();
            let larger = p.iter().enumerate().filter(|&(j, &x)| x > p[i] || (x == p[i] && j < i)).count();
            prop_assert!(larger < k, "index {i} has {larger} entries ranked above it, k = {k}");
        }

        #[test]
        fn zero_probabilities_are_never_drawn(p in proptest::collection::vec(prop_oneof![Just(0.0f32), 0.01f32..1.0], 1..12), t in 0.1f32..3.0, seed in any::<u64>()) {
            prop_assume!(p.iter().any(|&x| x > 0.0));
            let i = Sampling::Temperature(t).sample(&p, &mut rng_from_seed(seed)).unwrap();
            prop_assert!(p[i] > 0.0);
        }
    }

    /// Frequencies over many seeded draws follow `p^(1/t)` renormalized.
    #[test]
    fn temperature_frequencies_follow_the_reweighted_distribution() {
        let p = [0.5f32, 0.3, 0.2];
        let mut rng = rng_from_seed(7);
        for t in [0.5f32, 1.0, 2.0] {
            let w: Vec<f64> = p.iter().map(|&x| (x as f64).powf(1.0 / t as f64)).collect();
            let total: f64 = w.iter().sum();
            let mut counts = [0usize; 3];
            let draws = 40_000;
            for _ in 0..draws {
                counts[Sampling::Temperature(t).sample(&p, &mut rng).unwrap()] += 1;
            }
            for i in 0..3 {
                let freq = counts[i] as f64 / draws as f64;
                // 40,000 draws: the standard error is below 0.0025; 0.015 is six of them.
                assert!(
                    (freq - w[i] / total).abs() < 0.015,
                    "t={t} index {i}: {freq} vs {}",
                    w[i] / total
                );
            }
        }
    }

    #[test]
    fn logits_and_probabilities_agree() {
        let logits = [1.0f32, 2.0, 0.5];
        let m = logits.iter().cloned().fold(f32::MIN, f32::max);
        let e: Vec<f32> = logits.iter().map(|l| (l - m).exp()).collect();
        let s: f32 = e.iter().sum();
        let probs: Vec<f32> = e.iter().map(|x| x / s).collect();
        for seed in 0..200 {
            let mode = Sampling::Temperature(0.7);
            let a = mode.sample(&probs, &mut rng_from_seed(seed)).unwrap();
            let b = mode.sample_logits(&logits, &mut rng_from_seed(seed)).unwrap();
            assert_eq!(a, b, "seed {seed}");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = rng_from_seed(0);
        for (mode, p) in [
            (Sampling::Greedy, vec![]),
            (Sampling::Greedy, vec![0.0, 0.0]),
            (Sampling::Greedy, vec![-0.1, 1.0]),
            (Sampling::Greedy, vec![f32::INFINITY]),
            (Sampling::Temperature(-1.0), vec![1.0]),
            (Sampling::Temperature(f32::NAN), vec![1.0]),
            (
                Sampling::TopK {
                    k: 0,
                    temperature: 1.0,
                },
                vec![1.0],
            ),
        ] {
            let err = mode.sample(&p, &mut rng).unwrap_err().to_string();
            assert!(err.contains("sampling"), "{mode:?} {p:?}: {err}");
        }
        assert!(Sampling::Greedy.sample_logits(&[f32::NAN], &mut rng).is_err());
    }
}
