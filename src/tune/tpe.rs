//! TPE: the Tree-structured Parzen Estimator (Bergstra et al. 2011), as
//! Optuna's default `TPESampler` (independent per parameter).

use super::space::{Domain, Param, SearchSpace};
use super::strategy::{stream, Strategy, TrialPlan, WaveContext};
use super::trial::TrialStatus;
use super::values::Value;
use crate::error::Result;
use neurite_rand::rand::Rng;
use neurite_rand::Generator;
use std::collections::BTreeMap;

/// Bayesian search with the Tree-structured Parzen Estimator: after
/// `startup_trials` random ones, the finished trials are split into the
/// best `gamma` fraction ("good", at most 25 as Optuna's default) and the
/// rest; each parameter gets a Parzen density for each group (Gaussian
/// kernels on its linear or log axis, with a wide prior; counts plus one
/// for a choice), `candidates` values are drawn from the good density and
/// the one maximising good/rest is tried. Pruned trials count as "rest",
/// failed ones are ignored.
///
/// ```
/// use neurite::tune::{Objective, Param, Search, SearchSpace, Tpe};
/// let space = SearchSpace::new().add(Param::float("x", -2.0, 2.0))?;
/// let results = Search::new(space, Objective::min("loss")).strategy(Tpe::new(20).startup_trials(5)).verbose(0)
///     .run(|t| Ok([("loss".to_string(), (t.params().get_float("x")? - 1.0).powi(2))].into_iter().collect()))?;
/// assert_eq!(results.trials().len(), 20);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Tpe {
    max_trials: usize,
    startup_trials: usize,
    candidates: usize,
    gamma: f64,
}

impl Tpe {
    /// `max_trials` trials; Optuna's defaults: 10 random start-up trials,
    /// 24 candidates, gamma 0.1.
    pub fn new(max_trials: usize) -> Self {
        Tpe {
            max_trials,
            startup_trials: 10,
            candidates: 24,
            gamma: 0.1,
        }
    }

    /// Random trials before the model is used (at least 1).
    pub fn startup_trials(mut self, n: usize) -> Self {
        self.startup_trials = n.max(1);
        self
    }

    /// Values drawn from the good density per parameter (at least 1).
    pub fn candidates(mut self, n: usize) -> Self {
        self.candidates = n.max(1);
        self
    }

    /// The fraction of finished trials counted as good (clamped to (0, 1]).
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.gamma = if gamma.is_finite() {
            gamma.clamp(1e-6, 1.0)
        } else {
            0.1
        };
        self
    }

    /// One configuration from finished trials' values and losses (lower is
    /// better; `f64::INFINITY` for a pruned trial): random while fewer than
    /// `startup_trials` have a finite loss, TPE after.
    ///
    /// ```
    /// use neurite::tune::{Generator, Param, SearchSpace, Tpe, Value};
    /// let space = SearchSpace::new().add(Param::float("lr", 1e-4, 1e-1).log())?;
    /// let history: Vec<_> = (1..=12)
    ///     .map(|i| ([("lr".to_string(), Value::Float(1e-4 * 1.7f64.powi(i)))].into_iter().collect(), i as f64))
    ///     .collect();
    /// let v = Tpe::new(20).suggest(&space, &history, &mut Generator::seed_from_u64(0));
    /// assert!(space.params()[0].contains(&v["lr"]));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn suggest(
        &self,
        space: &SearchSpace,
        history: &[(BTreeMap<String, Value>, f64)],
        rng: &mut Generator,
    ) -> BTreeMap<String, Value> {
        let mut finite: Vec<&(BTreeMap<String, Value>, f64)> =
            history.iter().filter(|(_, l)| l.is_finite()).collect();
        if finite.len() < self.startup_trials {
            return space.sample(rng);
        }
        // Stable sort: ties keep trial order, so the split is deterministic.
        finite.sort_by(|a, b| a.1.total_cmp(&b.1));
        let n_good = ((self.gamma * finite.len() as f64).ceil() as usize).clamp(1, 25);
        let good: Vec<&BTreeMap<String, Value>> = finite[..n_good].iter().map(|(p, _)| p).collect();
        let rest: Vec<&BTreeMap<String, Value>> = finite[n_good..]
            .iter()
            .map(|(p, _)| p)
            .chain(history.iter().filter(|(_, l)| !l.is_finite()).map(|(p, _)| p))
            .collect();
        space
            .params()
            .iter()
            .map(|p| {
                let at = |set: &[&BTreeMap<String, Value>]| -> Vec<f64> {
                    set.iter()
                        .filter_map(|v| v.get(p.name()).and_then(|v| p.to_internal(v)))
                        .collect()
                };
                let value = match p.domain() {
                    Domain::Choice(values) => {
                        self.suggest_choice(values.len(), &at(&good), &at(&rest), rng, p)
                    }
                    _ => self.suggest_numeric(p, &at(&good), &at(&rest), rng),
                };
                (p.name().to_string(), value)
            })
            .collect()
    }

    fn suggest_choice(&self, n: usize, good: &[f64], rest: &[f64], rng: &mut Generator, p: &Param) -> Value {
        let probs = |xs: &[f64]| -> Vec<f64> {
            let mut w = vec![1.0; n];
            for &x in xs {
                w[x as usize] += 1.0;
            }
            let total: f64 = w.iter().sum();
            w.into_iter().map(|v| v / total).collect()
        };
        let (l, g) = (probs(good), probs(rest));
        let mut best = (f64::NEG_INFINITY, 0usize);
        for _ in 0..self.candidates {
            let mut u = rng.random::<f64>();
            let mut k = n - 1;
            for (i, &pi) in l.iter().enumerate() {
                if u < pi {
                    k = i;
                    break;
                }
                u -= pi;
            }
            let score = l[k].ln() - g[k].ln();
            if score > best.0 {
                best = (score, k);
            }
        }
        p.value_at_internal(best.1 as f64)
    }

    fn suggest_numeric(&self, p: &Param, good: &[f64], rest: &[f64], rng: &mut Generator) -> Value {
        let (lo, hi) = p.internal_bounds();
        if hi - lo <= 0.0 {
            return p.value_at_internal(lo);
        }
        let l = Parzen::new(good, lo, hi);
        let g = Parzen::new(rest, lo, hi);
        let mut best = (f64::NEG_INFINITY, lo);
        for _ in 0..self.candidates {
            let x = l.sample(rng);
            let score = l.log_pdf(x) - g.log_pdf(x);
            if score > best.0 {
                best = (score, x);
            }
        }
        p.value_at_internal(best.1)
    }
}

/// A mixture of Gaussians truncated to `[lo, hi]`: one per observation plus
/// a prior centred on the range with its width as spread, equal weights;
/// each observation's spread is the larger gap to its neighbours (sorted,
/// prior included), clipped to `[(hi-lo)/min(100, n+1), hi-lo]`.
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Parzen {
    fn new(points: &[f64], lo: f64, hi: f64) -> Self {
        let width = hi - lo;
        // (centre, is the prior), sorted by centre.
        let mut centres: Vec<(f64, bool)> = points.iter().map(|x| (x.clamp(lo, hi), false)).collect();
        centres.push(((lo + hi) / 2.0, true));
        centres.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = centres.len();
        let min_sigma = width / (100f64.min(n as f64 + 1.0));
        let sigmas = (0..n)
            .map(|i| {
                if centres[i].1 {
                    return width;
                }
                let mu = centres[i].0;
                let left = if i > 0 { mu - centres[i - 1].0 } else { mu - lo };
                let right = if i + 1 < n { centres[i + 1].0 - mu } else { hi - mu };
                left.max(right).clamp(min_sigma, width)
            })
            .collect();
        Parzen {
            mus: centres.into_iter().map(|c| c.0).collect(),
            sigmas,
            lo,
            hi,
        }
    }

    fn sample(&self, rng: &mut Generator) -> f64 {
        let k = ((rng.random::<f64>() * self.mus.len() as f64) as usize).min(self.mus.len() - 1);
        let (mu, sigma) = (self.mus[k], self.sigmas[k]);
        for _ in 0..100 {
            let x = mu + sigma * standard_normal(rng);
            if (self.lo..=self.hi).contains(&x) {
                return x;
            }
        }
        mu.clamp(self.lo, self.hi)
    }

    fn log_pdf(&self, x: f64) -> f64 {
        let n = self.mus.len() as f64;
        let total: f64 = self
            .mus
            .iter()
            .zip(&self.sigmas)
            .map(|(&mu, &s)| {
                let mass = normal_cdf((self.hi - mu) / s) - normal_cdf((self.lo - mu) / s);
                let z = (x - mu) / s;
                (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt() * mass.max(1e-12))
            })
            .sum();
        (total / n).max(1e-300).ln()
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut Generator) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The standard normal CDF through erf (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    0.5 * (1.0 + if x >= 0.0 { erf } else { -erf })
}

impl Strategy for Tpe {
    fn name(&self) -> String {
        "tpe".into()
    }

    fn next_wave(&self, ctx: &WaveContext<'_>) -> Result<Vec<TrialPlan>> {
        let start = ctx.done.len();
        let end = self.max_trials.min(start + ctx.max_trials);
        let history: Vec<(BTreeMap<String, Value>, f64)> = ctx
            .done
            .iter()
            .filter_map(|t| match (t.status, t.objective) {
                (TrialStatus::Complete, Some(v)) if v.is_finite() => {
                    Some((t.params.clone(), ctx.objective.as_loss(v)))
                }
                (TrialStatus::Pruned, _) => Some((t.params.clone(), f64::INFINITY)),
                _ => None,
            })
            .collect();
        Ok((start..end)
            .map(|i| {
                let mut rng = Generator::for_purpose(ctx.seed, &[stream::TPE, i as u64]);
                TrialPlan::new(self.suggest(ctx.space, &history, &mut rng))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::normal_cdf;

    #[test]
    fn normal_cdf_matches_known_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.96, 0.024_997_895),
            (3.0, 0.998_650_102),
        ] {
            assert!((normal_cdf(z) - p).abs() < 2e-7, "{z}: {}", normal_cdf(z));
        }
    }
}
