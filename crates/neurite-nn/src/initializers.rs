//! Weight initializers with Keras' names, defaults and formulas.
//!
//! Fans are computed as Keras' `compute_fans`: a dense kernel `(in, out)` has
//! `fan_in = in`, `fan_out = out`; a convolution kernel `(kh, kw, in, out)`
//! has `fan_in = kh * kw * in` and `fan_out = kh * kw * out`.
//!
//! The variance-scaling family (Glorot, He, LeCun) follows Keras'
//! `VarianceScaling`: uniform variants draw from `[-limit, limit)` with
//! `limit = sqrt(3 * scale / n)`; normal variants draw from a normal
//! truncated at two standard deviations whose standard deviation is
//! `sqrt(scale / n) / 0.87962566103423978` (the correction that makes the
//! *truncated* distribution have variance `scale / n`).
//!
//! ```
//! use neurite_nn::initializers::Initializer;
//! use neurite_tensor::random::rng_from_seed;
//! let w = Initializer::GlorotUniform.initialize(&[100, 50], &mut rng_from_seed(0))?;
//! let limit = (6.0f32 / 150.0).sqrt();
//! assert!(w.iter().all(|v| v.abs() <= limit));
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

use crate::error::{NnError, Result};
use neurite_tensor::random::{normal, truncated_normal, uniform};
use neurite_tensor::Tensor;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `1 / stddev` of a standard normal truncated to `[-2, 2]` (Keras' constant).
const TRUNCATION_CORRECTION: f64 = 0.879_625_661_034_239_8;

/// How a weight tensor gets its initial values.
///
/// Serialized (serde) with Keras' snake-case names: unit variants as plain
/// strings (`"glorot_uniform"`), parameterized ones as a one-key object
/// (`{"constant": {"value": 0.5}}`).
///
/// ```
/// use neurite_nn::initializers::Initializer;
/// let json = serde_json::to_value(Initializer::HeNormal).unwrap();
/// assert_eq!(json, serde_json::json!("he_normal"));
/// let back: Initializer = serde_json::from_value(serde_json::json!({"constant": {"value": 0.5}})).unwrap();
/// assert_eq!(back, Initializer::Constant { value: 0.5 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Initializer {
    /// Uniform in `[-sqrt(6 / (fan_in + fan_out)), +...]` (Keras' default for kernels).
    #[default]
    GlorotUniform,
    /// Truncated normal, `stddev = sqrt(2 / (fan_in + fan_out))` before truncation correction.
    GlorotNormal,
    /// Uniform in `[-sqrt(6 / fan_in), +...]`.
    HeUniform,
    /// Truncated normal, `stddev = sqrt(2 / fan_in)` before truncation correction.
    HeNormal,
    /// Uniform in `[-sqrt(3 / fan_in), +...]`.
    LecunUniform,
    /// Truncated normal, `stddev = sqrt(1 / fan_in)` before truncation correction.
    LecunNormal,
    /// A (semi-)orthogonal matrix times `gain` (Keras' default for recurrent kernels):
    /// the Q factor of the QR decomposition of a standard normal matrix,
    /// with signs fixed so that `R` has a positive diagonal.
    Orthogonal {
        /// Multiplicative factor (Keras default 1.0).
        gain: f32,
    },
    /// All zeros (Keras' default for biases).
    Zeros,
    /// All ones.
    Ones,
    /// Every element equal to `value`.
    Constant {
        /// The value.
        value: f32,
    },
    /// Uniform in `[minval, maxval)` (Keras defaults -0.05, 0.05).
    RandomUniform {
        /// Lower bound.
        minval: f32,
        /// Upper bound.
        maxval: f32,
    },
    /// Normal with `mean` and `stddev` (Keras defaults 0.0, 0.05).
    RandomNormal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        stddev: f32,
    },
    /// Normal with `mean` and `stddev`, re-drawn beyond two standard deviations (Keras defaults 0.0, 0.05).
    TruncatedNormal {
        /// Mean.
        mean: f32,
        /// Standard deviation before truncation.
        stddev: f32,
    },
}

/// `(fan_in, fan_out)` of a weight shape, as Keras' `compute_fans`.
///
/// ```
/// use neurite_nn::initializers::compute_fans;
/// assert_eq!(compute_fans(&[100, 64]), (100.0, 64.0));
/// assert_eq!(compute_fans(&[3, 3, 1, 32]), (9.0, 288.0));
/// assert_eq!(compute_fans(&[7]), (7.0, 7.0));
/// ```
pub fn compute_fans(shape: &[usize]) -> (f64, f64) {
    match shape.len() {
        0 => (1.0, 1.0),
        1 => (shape[0] as f64, shape[0] as f64),
        2 => (shape[0] as f64, shape[1] as f64),
        n => {
            let receptive: usize = shape[..n - 2].iter().product();
            (
                (shape[n - 2] * receptive) as f64,
                (shape[n - 1] * receptive) as f64,
            )
        }
    }
}

#[derive(Clone, Copy)]
enum Fan {
    In,
    Avg,
}

impl Initializer {
    /// Keras' `Orthogonal()` (gain 1.0).
    ///
    /// ```
    /// assert_eq!(neurite_nn::initializers::Initializer::orthogonal(),
    ///            neurite_nn::initializers::Initializer::Orthogonal { gain: 1.0 });
    /// ```
    pub fn orthogonal() -> Self {
        Initializer::Orthogonal { gain: 1.0 }
    }

    /// Keras' `RandomUniform()` (-0.05, 0.05).
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// assert_eq!(Initializer::random_uniform(), Initializer::RandomUniform { minval: -0.05, maxval: 0.05 });
    /// ```
    pub fn random_uniform() -> Self {
        Initializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05,
        }
    }

    /// Keras' `RandomNormal()` (mean 0, stddev 0.05).
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// assert_eq!(Initializer::random_normal(), Initializer::RandomNormal { mean: 0.0, stddev: 0.05 });
    /// ```
    pub fn random_normal() -> Self {
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05,
        }
    }

    /// The initializer Keras names `name` (`"glorot_uniform"`, `"he_normal"`,
    /// `"orthogonal"`, `"zeros"`, ...), with Keras' default arguments.
    /// Also accepts Keras' class names (`"GlorotUniform"`).
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// assert_eq!(Initializer::from_name("he_uniform")?, Initializer::HeUniform);
    /// assert_eq!(Initializer::from_name("Zeros")?, Initializer::Zeros);
    /// assert!(Initializer::from_name("nope").is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self> {
        let key: String = name
            .chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .to_lowercase();
        Ok(match key.as_str() {
            "glorotuniform" => Initializer::GlorotUniform,
            "glorotnormal" => Initializer::GlorotNormal,
            "heuniform" => Initializer::HeUniform,
            "henormal" => Initializer::HeNormal,
            "lecununiform" => Initializer::LecunUniform,
            "lecunnormal" => Initializer::LecunNormal,
            "orthogonal" => Initializer::orthogonal(),
            "zeros" | "zero" => Initializer::Zeros,
            "ones" | "one" => Initializer::Ones,
            "constant" => Initializer::Constant { value: 0.0 },
            "randomuniform" | "uniform" => Initializer::random_uniform(),
            "randomnormal" | "normal" => Initializer::random_normal(),
            "truncatednormal" => Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 0.05,
            },
            _ => {
                return Err(NnError::Config {
                    layer: "initializer".into(),
                    message: format!(
                        "unknown initializer {name:?}; known: glorot_uniform, glorot_normal, he_uniform, \
                         he_normal, lecun_uniform, lecun_normal, orthogonal, zeros, ones, constant, \
                         random_uniform, random_normal, truncated_normal"
                    ),
                })
            }
        })
    }

    /// A tensor of `shape` with initial values drawn from `rng`.
    ///
    /// Errors for `Orthogonal` on a shape of rank below 2, and for
    /// non-finite or inverted parameters.
    ///
    /// ```
    /// use neurite_nn::initializers::Initializer;
    /// use neurite_tensor::random::rng_from_seed;
    /// let b = Initializer::Zeros.initialize(&[4], &mut rng_from_seed(1))?;
    /// assert!(b.iter().all(|&v| v == 0.0));
    /// let k = Initializer::HeNormal.initialize(&[3, 3, 8, 16], &mut rng_from_seed(1))?;
    /// assert_eq!(k.shape(), &[3, 3, 8, 16]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn initialize(&self, shape: &[usize], rng: &mut ChaCha8Rng) -> Result<Tensor> {
        let bad = |message: String| NnError::Config {
            layer: "initializer".into(),
            message,
        };
        Ok(match *self {
            Initializer::GlorotUniform => scaled_uniform(shape, 1.0, Fan::Avg, rng),
            Initializer::GlorotNormal => scaled_normal(shape, 1.0, Fan::Avg, rng),
            Initializer::HeUniform => scaled_uniform(shape, 2.0, Fan::In, rng),
            Initializer::HeNormal => scaled_normal(shape, 2.0, Fan::In, rng),
            Initializer::LecunUniform => scaled_uniform(shape, 1.0, Fan::In, rng),
            Initializer::LecunNormal => scaled_normal(shape, 1.0, Fan::In, rng),
            Initializer::Orthogonal { gain } => {
                if !gain.is_finite() {
                    return Err(bad(format!("orthogonal gain must be finite, got {gain}")));
                }
                orthogonal(shape, gain, rng)?
            }
            Initializer::Zeros => Tensor::zeros(shape),
            Initializer::Ones => Tensor::ones(shape),
            Initializer::Constant { value } => Tensor::from_elem(shape, value),
            Initializer::RandomUniform { minval, maxval } => {
                if !(minval.is_finite() && maxval.is_finite() && minval <= maxval) {
                    return Err(bad(format!(
                        "random_uniform needs finite minval <= maxval, got minval {minval}, maxval {maxval}"
                    )));
                }
                uniform(shape, minval, maxval, rng)
            }
            Initializer::RandomNormal { mean, stddev } => {
                check_normal(mean, stddev).map_err(bad)?;
                normal(shape, mean, stddev, rng)
            }
            Initializer::TruncatedNormal { mean, stddev } => {
                check_normal(mean, stddev).map_err(bad)?;
                truncated_normal(shape, mean, stddev, rng)
            }
        })
    }
}

fn check_normal(mean: f32, stddev: f32) -> std::result::Result<(), String> {
    if mean.is_finite() && stddev.is_finite() && stddev >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "a normal initializer needs a finite mean and a finite stddev >= 0, got mean {mean}, stddev {stddev}"
        ))
    }
}

fn fan(shape: &[usize], mode: Fan) -> f64 {
    let (fan_in, fan_out) = compute_fans(shape);
    let n = match mode {
        Fan::In => fan_in,
        Fan::Avg => (fan_in + fan_out) / 2.0,
    };
    n.max(1.0)
}

fn scaled_uniform(shape: &[usize], scale: f64, mode: Fan, rng: &mut ChaCha8Rng) -> Tensor {
    let limit = (3.0 * scale / fan(shape, mode)).sqrt() as f32;
    uniform(shape, -limit, limit, rng)
}

fn scaled_normal(shape: &[usize], scale: f64, mode: Fan, rng: &mut ChaCha8Rng) -> Tensor {
    let stddev = ((scale / fan(shape, mode)).sqrt() / TRUNCATION_CORRECTION) as f32;
    truncated_normal(shape, 0.0, stddev, rng)
}

/// Keras' `Orthogonal`: rows = product of all axes but the last, cols = last
/// axis; QR of a `(max, min)` standard normal matrix (modified Gram-Schmidt
/// in f64, run twice for orthogonality to rounding error), whose Q has
/// orthonormal columns and equals the Householder Q with R's diagonal made
/// positive (Keras' sign correction); transposed when rows < cols.
fn orthogonal(shape: &[usize], gain: f32, rng: &mut ChaCha8Rng) -> Result<Tensor> {
    if shape.len() < 2 {
        return Err(NnError::Config {
            layer: "initializer".into(),
            message: format!("orthogonal needs a shape of rank at least 2, got {shape:?}"),
        });
    }
    let cols = shape[shape.len() - 1];
    let rows: usize = shape[..shape.len() - 1].iter().product();
    if rows == 0 || cols == 0 {
        return Ok(Tensor::zeros(shape));
    }
    let (m, n) = (rows.max(cols), rows.min(cols));
    // `a` holds the n columns of the (m, n) matrix, each contiguous.
    let draws = normal(&[m, n], 0.0, 1.0, rng);
    let mut q: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| draws[[i, j]] as f64).collect())
        .collect();
    for j in 0..n {
        for _pass in 0..2 {
            for k in 0..j {
                let (done, rest) = q.split_at_mut(j);
                let dot: f64 = done[k].iter().zip(rest[0].iter()).map(|(a, b)| a * b).sum();
                for (x, y) in rest[0].iter_mut().zip(done[k].iter()) {
                    *x -= dot * y;
                }
            }
        }
        let norm = q[j].iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm < 1e-12 {
            // Degenerate draw (probability zero): fall back to a unit vector
            // orthogonal to the previous columns.
            let mut e = vec![0.0; m];
            let pick = (0..m)
                .min_by(|&a, &b| {
                    let wa: f64 = q[..j].iter().map(|c| c[a] * c[a]).sum();
                    let wb: f64 = q[..j].iter().map(|c| c[b] * c[b]).sum();
                    wa.total_cmp(&wb)
                })
                .unwrap_or(0);
            e[pick] = 1.0;
            q[j] = e;
            for k in 0..j {
                let (done, rest) = q.split_at_mut(j);
                let dot: f64 = done[k].iter().zip(rest[0].iter()).map(|(a, b)| a * b).sum();
                for (x, y) in rest[0].iter_mut().zip(done[k].iter()) {
                    *x -= dot * y;
                }
            }
            let norm = q[j].iter().map(|x| x * x).sum::<f64>().sqrt();
            q[j].iter_mut().for_each(|x| *x /= norm);
        } else {
            q[j].iter_mut().for_each(|x| *x /= norm);
        }
    }
    // Q is (m, n) with columns q[j]; the result is Q (rows >= cols) or Q^T.
    let mut flat = Vec::with_capacity(rows * cols);
    if rows >= cols {
        for i in 0..rows {
            for column in q.iter() {
                flat.push((column[i] * gain as f64) as f32);
            }
        }
    } else {
        for column in q.iter() {
            for &v in column.iter() {
                flat.push((v * gain as f64) as f32);
            }
        }
    }
    Tensor::from_shape_vec(shape, flat).map_err(|e| NnError::Config {
        layer: "initializer".into(),
        message: format!("orthogonal: {e}"),
    })
}
