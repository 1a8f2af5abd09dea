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
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
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
            // In f64: exact below 2^53, and never overflows on absurd shapes.
            let receptive: f64 = shape[..n - 2].iter().map(|&d| d as f64).product();
            (shape[n - 2] as f64 * receptive, shape[n - 1] as f64 * receptive)
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
    pub fn initialize(&self, shape: &[usize], rng: &mut Generator) -> Result<Tensor> {
        self.initialize_variable(shape, rng, PUBLIC_LAYER, "tensor")
    }

    /// What is wrong with the initializer's own parameters (non-finite or
    /// inverted bounds, negative standard deviation), in words; `None` when
    /// it can work.
    pub(crate) fn problem(&self) -> Option<String> {
        match *self {
            Initializer::Orthogonal { gain } if !gain.is_finite() => {
                Some(format!("orthogonal gain must be finite, got {gain}"))
            }
            Initializer::Constant { value } if !value.is_finite() => {
                Some(format!("constant value must be finite, got {value}"))
            }
            Initializer::RandomUniform { minval, maxval }
                if !(minval.is_finite() && maxval.is_finite() && minval <= maxval) =>
            {
                Some(format!(
                    "random_uniform needs finite minval <= maxval, got minval {minval}, maxval {maxval}"
                ))
            }
            Initializer::RandomNormal { mean, stddev } | Initializer::TruncatedNormal { mean, stddev } => {
                check_normal(mean, stddev).err()
            }
            _ => None,
        }
    }

    /// [`Initializer::initialize`] for the variable `variable` of layer
    /// `layer` (named in errors): refuses a shape whose byte size overflows
    /// or does not fit in `isize`, and allocates fallibly, so that an absurd
    /// size is an error ("cannot allocate N bytes for dense_1.kernel")
    /// rather than an abort. Values are those of [`neurite_tensor::random`].
    pub(crate) fn initialize_variable(
        &self,
        shape: &[usize],
        rng: &mut Generator,
        layer: &str,
        variable: &str,
    ) -> Result<Tensor> {
        if let Some(problem) = self.problem() {
            return Err(NnError::Config {
                layer: layer.into(),
                message: if layer == PUBLIC_LAYER {
                    problem
                } else {
                    format!("{layer}.{variable}: {problem}")
                },
            });
        }
        let target = Target {
            layer,
            variable,
            shape,
        };
        Ok(match *self {
            Initializer::GlorotUniform => scaled_uniform(&target, 1.0, Fan::Avg, rng)?,
            Initializer::GlorotNormal => scaled_normal(&target, 1.0, Fan::Avg, rng)?,
            Initializer::HeUniform => scaled_uniform(&target, 2.0, Fan::In, rng)?,
            Initializer::HeNormal => scaled_normal(&target, 2.0, Fan::In, rng)?,
            Initializer::LecunUniform => scaled_uniform(&target, 1.0, Fan::In, rng)?,
            Initializer::LecunNormal => scaled_normal(&target, 1.0, Fan::In, rng)?,
            Initializer::Orthogonal { gain } => orthogonal(&target, gain, rng)?,
            Initializer::Zeros => target.filled(|| 0.0)?,
            Initializer::Ones => target.filled(|| 1.0)?,
            Initializer::Constant { value } => target.filled(|| value)?,
            Initializer::RandomUniform { minval, maxval } => try_uniform(&target, minval, maxval, rng)?,
            Initializer::RandomNormal { mean, stddev } => target.filled(|| {
                let z: f32 = StandardNormal.sample(rng);
                mean + stddev * z
            })?,
            Initializer::TruncatedNormal { mean, stddev } => {
                try_truncated_normal(&target, mean, stddev, rng)?
            }
        })
    }
}

/// The element count of `shape` and its size in bytes for elements of
/// `elem_bytes` bytes, or `None` when either overflows or the byte size
/// does not fit in `isize` (the most any allocation can hold).
///
/// ```
/// use neurite_nn::initializers::byte_size;
/// assert_eq!(byte_size(&[3, 4], 4), Some((12, 48)));
/// assert_eq!(byte_size(&[usize::MAX, 2], 4), None);
/// assert_eq!(byte_size(&[1 << 62], 4), None); // 2^64 bytes do not fit in isize
/// ```
pub fn byte_size(shape: &[usize], elem_bytes: usize) -> Option<(usize, usize)> {
    let n = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    let bytes = n.checked_mul(elem_bytes)?;
    (bytes <= isize::MAX as usize).then_some((n, bytes))
}

/// The layer name in errors of [`Initializer::initialize`] (no layer).
const PUBLIC_LAYER: &str = "initializer";

/// The variable a tensor is made for, named in allocation errors.
struct Target<'a> {
    layer: &'a str,
    variable: &'a str,
    shape: &'a [usize],
}

impl Target<'_> {
    fn error(&self, message: String) -> NnError {
        NnError::Config {
            layer: self.layer.into(),
            message,
        }
    }

    /// A buffer for `count` elements of `T`, reserved fallibly.
    fn buffer<T>(&self, count: usize, what: &str) -> Result<Vec<T>> {
        let elem = std::mem::size_of::<T>();
        let Some((_, bytes)) = byte_size(&[count], elem) else {
            return Err(self.error(format!(
                "{} of shape {:?} ({count} elements of {elem} bytes{what}) is larger than any allocation can be",
                self.full_name(),
                self.shape
            )));
        };
        let mut v = Vec::new();
        v.try_reserve_exact(count).map_err(|_| {
            self.error(format!(
                "cannot allocate {bytes} bytes for {}{what} (shape {:?})",
                self.full_name(),
                self.shape
            ))
        })?;
        Ok(v)
    }

    fn full_name(&self) -> String {
        if self.layer == PUBLIC_LAYER {
            "the tensor".to_string()
        } else {
            format!("{}.{}", self.layer, self.variable)
        }
    }

    fn count(&self) -> Result<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| {
                self.error(format!(
                    "{} of shape {:?} has more elements than usize can count",
                    self.full_name(),
                    self.shape
                ))
            })
    }

    /// The tensor of the target's shape whose elements, in standard
    /// order, are successive values of `f` (as `ArrayD::from_shape_simple_fn`).
    fn filled(&self, f: impl FnMut() -> f32) -> Result<Tensor> {
        let n = self.count()?;
        let mut v = self.buffer::<f32>(n, "")?;
        v.extend(std::iter::repeat_with(f).take(n));
        Tensor::from_shape_vec(self.shape, v).map_err(|e| self.error(format!("{}: {e}", self.full_name())))
    }
}

/// `neurite_tensor::random::uniform`, allocated fallibly (same values).
fn try_uniform(target: &Target, low: f32, high: f32, rng: &mut Generator) -> Result<Tensor> {
    match Uniform::new(low, high) {
        Ok(dist) if low.is_finite() && high.is_finite() => target.filled(|| dist.sample(rng)),
        _ => target.filled(|| low + (high - low) * rng.random::<f32>()),
    }
}

/// `neurite_tensor::random::truncated_normal`, allocated fallibly (same values).
fn try_truncated_normal(target: &Target, mean: f32, std: f32, rng: &mut Generator) -> Result<Tensor> {
    target.filled(|| loop {
        let z: f32 = StandardNormal.sample(rng);
        if z.abs() <= 2.0 {
            return mean + std * z;
        }
    })
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

fn scaled_uniform(target: &Target, scale: f64, mode: Fan, rng: &mut Generator) -> Result<Tensor> {
    let limit = (3.0 * scale / fan(target.shape, mode)).sqrt() as f32;
    try_uniform(target, -limit, limit, rng)
}

fn scaled_normal(target: &Target, scale: f64, mode: Fan, rng: &mut Generator) -> Result<Tensor> {
    let stddev = ((scale / fan(target.shape, mode)).sqrt() / TRUNCATION_CORRECTION) as f32;
    try_truncated_normal(target, 0.0, stddev, rng)
}

/// Keras' `Orthogonal`: rows = product of all axes but the last, cols = last
/// axis; QR of a `(max, min)` standard normal matrix (modified Gram-Schmidt
/// in f64, run twice for orthogonality to rounding error), whose Q has
/// orthonormal columns and equals the Householder Q with R's diagonal made
/// positive (Keras' sign correction); transposed when rows < cols.
fn orthogonal(target: &Target, gain: f32, rng: &mut Generator) -> Result<Tensor> {
    let shape = target.shape;
    if shape.len() < 2 {
        return Err(target.error(format!(
            "{}: orthogonal needs a shape of rank at least 2, got {shape:?}",
            target.full_name()
        )));
    }
    let total = target.count()?;
    let cols = shape[shape.len() - 1];
    let rows = total.checked_div(cols).unwrap_or(0);
    if rows == 0 || cols == 0 {
        return target.filled(|| 0.0);
    }
    let (m, n) = (rows.max(cols), rows.min(cols));
    // `a` holds the n columns of the (m, n) matrix, each contiguous.
    // Fallible allocations: the draws (f32), the columns (f64) and the result.
    let draws = Target {
        shape: &[m, n],
        ..*target
    }
    .filled(|| {
        let z: f32 = StandardNormal.sample(rng);
        z
    })?;
    let mut q: Vec<Vec<f64>> = target.buffer(n, " (orthogonal workspace)")?;
    for j in 0..n {
        let mut column: Vec<f64> = target.buffer(m, " (orthogonal workspace)")?;
        column.extend((0..m).map(|i| draws[[i, j]] as f64));
        q.push(column);
    }
    drop(draws);
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
    let mut flat: Vec<f32> = target.buffer(total, "")?;
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
    Tensor::from_shape_vec(shape, flat)
        .map_err(|e| target.error(format!("{}: orthogonal: {e}", target.full_name())))
}
