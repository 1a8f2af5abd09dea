//! What `SimpleRNN`, `LSTM` and `GRU` share: configuration, weight
//! creation (glorot-uniform kernel, orthogonal recurrent kernel), input
//! validation, the time-major layout of the fused kernels and their
//! element-wise activations.
//!
//! Every recurrent layer runs as **one graph node**: the input projection of
//! all timesteps is one GEMM `[T*B, F] x [F, G]`, each step adds one GEMM
//! `[B, U] x [U, G]` for the recurrence, and the hand-written backward
//! through time collects the per-step gate gradients `dZ` so that the weight
//! gradients are again two big GEMMs (`X^T dZ`, `H_prev^T dZ`) after the loop.
//! Inside the kernels everything is time-major (`row = t * batch + b`), so a
//! timestep is a contiguous `[B, G]` block.

use super::{default_true, regularize};
use crate::activation::Activation;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Parameter, ParameterShapes};
use crate::regularizers::Regularizer;
use ndarray::{s, Array2, Axis, Ix3};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

/// An element-wise activation usable inside the fused recurrent kernels
/// (its derivative is computed from its output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellActivation {
    Tanh,
    Sigmoid,
    Relu,
    Linear,
}

impl CellActivation {
    /// The kernel form of a configured activation; `layer` names the layer in the error.
    pub(crate) fn from_activation(layer: &str, key: &str, a: Activation) -> Result<Self> {
        match a {
            Activation::Tanh => Ok(CellActivation::Tanh),
            Activation::Sigmoid => Ok(CellActivation::Sigmoid),
            Activation::Relu => Ok(CellActivation::Relu),
            Activation::Linear => Ok(CellActivation::Linear),
            other => Err(NnError::Config {
                layer: layer.to_string(),
                message: format!(
                    "{key} {:?} is not supported in recurrent layers (use tanh, sigmoid, relu or linear)",
                    other.name()
                ),
            }),
        }
    }

    /// The activation of every value of `xs`, in place (the match is outside
    /// the loop, so the loop body is branch-free and vectorizes; always
    /// inlined, so that it is compiled for the target features of its caller).
    #[inline(always)]
    pub(crate) fn apply_slice(self, xs: &mut [f32]) {
        match self {
            CellActivation::Tanh => xs.iter_mut().for_each(|v| *v = fast_tanh(*v)),
            CellActivation::Sigmoid => xs.iter_mut().for_each(|v| *v = sigmoid(*v)),
            CellActivation::Relu => xs.iter_mut().for_each(|v| *v = v.max(0.0)),
            CellActivation::Linear => {}
        }
    }

    /// `out[j]` = the derivative at the point whose activation is `ys[j]`
    /// (match outside the loop, as [`CellActivation::apply_slice`]).
    #[inline(always)]
    pub(crate) fn derivative_slice(self, ys: &[f32], out: &mut [f32]) {
        let pairs = out.iter_mut().zip(ys);
        match self {
            CellActivation::Tanh => pairs.for_each(|(d, &y)| *d = 1.0 - y * y),
            CellActivation::Sigmoid => pairs.for_each(|(d, &y)| *d = y * (1.0 - y)),
            CellActivation::Relu => pairs.for_each(|(d, &y)| *d = if y > 0.0 { 1.0 } else { 0.0 }),
            CellActivation::Linear => out.fill(1.0),
        }
    }

    /// The derivative at the point whose activation is `y`.
    #[inline]
    pub(crate) fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            CellActivation::Tanh => 1.0 - y * y,
            CellActivation::Sigmoid => y * (1.0 - y),
            CellActivation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            CellActivation::Linear => 1.0,
        }
    }
}

/// `tanh` as a rational function (the minimax approximation Eigen uses for
/// `float`): inputs clamped to `±7.9053` where it reaches ±1, then
/// `x P(x²) / Q(x²)` with P of degree 6 and Q of degree 3. Maximum absolute
/// error 3.5e-7 against `f64` tanh (checked in the tests); unlike libm's
/// `tanhf` it is branch-free and auto-vectorizes, which made the LSTM
/// forward pass several times faster. NaN stays NaN.
#[inline(always)]
pub(crate) fn fast_tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let p = ((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2 + A1) * x;
    let q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0;
    p / q
}

/// `1 / (1 + e^-x) = (1 + tanh(x / 2)) / 2`, through [`fast_tanh`].
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    0.5 * fast_tanh(0.5 * x) + 0.5
}

#[cfg(test)]
mod tests {
    use super::{fast_tanh, sigmoid};

    #[test]
    fn fast_tanh_and_sigmoid_are_accurate() {
        let mut worst = (0.0f64, 0.0f64);
        for i in -1_200_000..=1_200_000 {
            let x = i as f32 * 1e-5;
            let e = (fast_tanh(x) as f64 - (x as f64).tanh()).abs();
            let es = (sigmoid(x) as f64 - 1.0 / (1.0 + (-(x as f64)).exp())).abs();
            worst = (worst.0.max(e), worst.1.max(es));
        }
        assert!(worst.0 < 5e-7 && worst.1 < 5e-7, "max errors {worst:?}");
        assert_eq!(fast_tanh(100.0), 1.0);
        assert_eq!(fast_tanh(-100.0), -1.0);
        assert!(fast_tanh(f32::NAN).is_nan());
        assert!(fast_tanh(1e-30) > 0.0);
    }
}

/// Which recurrence a layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RnnKind {
    Simple,
    Lstm,
    Gru,
}

impl RnnKind {
    /// Number of gate blocks of `units` columns in the kernels.
    pub(crate) fn gates(self) -> usize {
        match self {
            RnnKind::Simple => 1,
            RnnKind::Lstm => 4,
            RnnKind::Gru => 3,
        }
    }

    pub(crate) fn class_name(self) -> &'static str {
        match self {
            RnnKind::Simple => "SimpleRNN",
            RnnKind::Lstm => "LSTM",
            RnnKind::Gru => "GRU",
        }
    }

    fn default_name(self) -> &'static str {
        match self {
            RnnKind::Simple => "simple_rnn",
            RnnKind::Lstm => "lstm",
            RnnKind::Gru => "gru",
        }
    }
}

fn tanh() -> Activation {
    Activation::Tanh
}

fn sigmoid_activation() -> Activation {
    Activation::Sigmoid
}

fn zeros() -> Initializer {
    Initializer::Zeros
}

/// Configuration of a `SimpleRNN`, `LSTM` or `GRU` layer (Keras'
/// `get_config()` keys; `unit_forget_bias` only for LSTM, `reset_after`
/// only for GRU).
///
/// ```
/// use neurite_nn::layers::RecurrentConfig;
/// let c: RecurrentConfig = serde_json::from_value(serde_json::json!({"name": "lstm", "units": 8})).unwrap();
/// assert_eq!(c.activation, neurite_nn::Activation::Tanh);
/// assert_eq!(c.recurrent_activation, neurite_nn::Activation::Sigmoid);
/// assert!(!c.return_sequences);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecurrentConfig {
    /// Layer name (parameter prefix).
    pub name: String,
    /// Number of hidden units.
    pub units: usize,
    /// Activation of the candidate/output (default tanh). Tanh, sigmoid, relu or linear.
    #[serde(default = "tanh")]
    pub activation: Activation,
    /// Activation of the gates (default sigmoid; unused by SimpleRNN). Tanh, sigmoid, relu or linear.
    #[serde(default = "sigmoid_activation")]
    pub recurrent_activation: Activation,
    /// Whether the layer has a bias.
    #[serde(default = "default_true")]
    pub use_bias: bool,
    /// Return the hidden state of every timestep instead of the last one.
    #[serde(default)]
    pub return_sequences: bool,
    /// Process the sequence backwards (outputs in processing order).
    #[serde(default)]
    pub go_backwards: bool,
    /// Initializer of the `(features, gates*units)` kernel (default glorot_uniform).
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Initializer of the `(units, gates*units)` recurrent kernel (default orthogonal).
    #[serde(default = "Initializer::orthogonal")]
    pub recurrent_initializer: Initializer,
    /// Initializer of the bias (default zeros).
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// LSTM only: start the forget-gate bias at 1 (Keras default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_forget_bias: Option<bool>,
    /// GRU only: apply the reset gate after the recurrent matmul (Keras 3 default true; only true is supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_after: Option<bool>,
    /// Penalty on the kernel.
    #[serde(default)]
    pub kernel_regularizer: Option<Regularizer>,
    /// Penalty on the recurrent kernel.
    #[serde(default)]
    pub recurrent_regularizer: Option<Regularizer>,
    /// Penalty on the bias.
    #[serde(default)]
    pub bias_regularizer: Option<Regularizer>,
    /// Whether the weights are trained.
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `(timesteps, features)`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl RecurrentConfig {
    /// Checks every field for values that can never work (units 0, an
    /// activation or recurrent_activation other than tanh, sigmoid, relu or
    /// linear, reset_after=false, bad initializer/regularizer parameters, a
    /// declared input shape with a 0 dimension); errors name the layer and
    /// the field. Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::LSTM::new(8).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.units = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("lstm") && e.contains("units"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let n = &self.name;
        checks::positive(n, "units", self.units)?;
        for (field, a) in [
            ("activation", self.activation),
            ("recurrent_activation", self.recurrent_activation),
        ] {
            if CellActivation::from_activation(n, field, a).is_err() {
                return Err(checks::field_error(
                    n,
                    field,
                    "tanh, sigmoid, relu or linear (the activations recurrent layers support)",
                    format!("{:?}", a.name()),
                ));
            }
        }
        if self.reset_after == Some(false) {
            return Err(checks::field_error(
                n,
                "reset_after",
                "true (reset_after=false, the Keras 2 GRU variant, is not supported)",
                false,
            ));
        }
        checks::initializer(n, "kernel_initializer", &self.kernel_initializer)?;
        checks::initializer(n, "recurrent_initializer", &self.recurrent_initializer)?;
        checks::initializer(n, "bias_initializer", &self.bias_initializer)?;
        checks::regularizer(n, "kernel_regularizer", &self.kernel_regularizer)?;
        checks::regularizer(n, "recurrent_regularizer", &self.recurrent_regularizer)?;
        checks::regularizer(n, "bias_regularizer", &self.bias_regularizer)?;
        checks::input_shape(n, &self.input_shape)
    }

    pub(crate) fn new(kind: RnnKind, units: usize) -> Self {
        RecurrentConfig {
            name: kind.default_name().to_string(),
            units,
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            use_bias: true,
            return_sequences: false,
            go_backwards: false,
            kernel_initializer: Initializer::GlorotUniform,
            recurrent_initializer: Initializer::orthogonal(),
            bias_initializer: Initializer::Zeros,
            unit_forget_bias: (kind == RnnKind::Lstm).then_some(true),
            reset_after: (kind == RnnKind::Gru).then_some(true),
            kernel_regularizer: None,
            recurrent_regularizer: None,
            bias_regularizer: None,
            trainable: true,
            input_shape: None,
        }
    }
}

/// Options of the fused recurrent ops ([`crate::layers::fused_lstm`],
/// [`crate::layers::fused_gru`], [`crate::layers::fused_simple_rnn`]); the
/// defaults are Keras' (tanh, sigmoid, last output only, forwards).
///
/// ```
/// let o = neurite_nn::layers::RecurrentOptions::default();
/// assert_eq!(o.activation, neurite_nn::Activation::Tanh);
/// assert!(!o.return_sequences && !o.go_backwards);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrentOptions {
    /// Activation of the candidate/output (tanh, sigmoid, relu or linear).
    pub activation: Activation,
    /// Activation of the gates (tanh, sigmoid, relu or linear).
    pub recurrent_activation: Activation,
    /// Return every timestep's hidden state `(batch, timesteps, units)` instead of the last `(batch, units)`.
    pub return_sequences: bool,
    /// Process the sequence from the last timestep to the first.
    pub go_backwards: bool,
}

impl Default for RecurrentOptions {
    fn default() -> Self {
        RecurrentOptions {
            activation: Activation::Tanh,
            recurrent_activation: Activation::Sigmoid,
            return_sequences: false,
            go_backwards: false,
        }
    }
}

/// Options of one fused recurrent pass, in kernel form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqOptions {
    pub activation: CellActivation,
    pub recurrent_activation: CellActivation,
    pub return_sequences: bool,
    pub go_backwards: bool,
}

impl SeqOptions {
    pub(crate) fn from_options(op: &str, o: &RecurrentOptions) -> Result<Self> {
        Ok(SeqOptions {
            activation: CellActivation::from_activation(op, "activation", o.activation)?,
            recurrent_activation: CellActivation::from_activation(
                op,
                "recurrent_activation",
                o.recurrent_activation,
            )?,
            return_sequences: o.return_sequences,
            go_backwards: o.go_backwards,
        })
    }
}

/// Checks the shapes of a fused op's operands: `x (B, T, F)`, `kernel (F, G)`,
/// `recurrent_kernel (U, G)` with `G = gates * U`, and `bias` `(G)` (or
/// `(2, G)` for GRU). Errors are [`NnError::Shape`] naming `op`.
pub(crate) fn check_operands(
    op: &str,
    kind: RnnKind,
    x: &Var,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
) -> Result<()> {
    let features = check_weights(op, kind, kernel, recurrent, bias)?;
    let xs = x.shape();
    if xs.len() != 3 || xs[2] != features || xs[1] == 0 {
        return Err(NnError::Shape {
            layer: op.to_string(),
            expected: format!("(batch, timesteps, {features}) with timesteps >= 1"),
            found: xs,
        });
    }
    Ok(())
}

/// Checks the weight shapes (see [`check_operands`]); returns the number of input features.
pub(crate) fn check_weights(
    op: &str,
    kind: RnnKind,
    kernel: &Var,
    recurrent: &Var,
    bias: Option<&Var>,
) -> Result<usize> {
    let err = |expected: String, found: Vec<usize>| NnError::Shape {
        layer: op.to_string(),
        expected,
        found,
    };
    let rs = recurrent.shape();
    let gates = kind.gates();
    if rs.len() != 2 || rs[0] == 0 || Some(rs[1]) != gates.checked_mul(rs[0]) {
        return Err(err(format!("recurrent_kernel (units, {gates} * units)"), rs));
    }
    let (u, g) = (rs[0], rs[1]);
    let ks = kernel.shape();
    if ks.len() != 2 || ks[1] != g || ks[0] == 0 {
        return Err(err(format!("kernel (features, {g})"), ks));
    }
    if let Some(bias) = bias {
        let bs = bias.shape();
        let want = if kind == RnnKind::Gru { vec![2, g] } else { vec![g] };
        if bs != want {
            return Err(err(format!("bias {want:?} for {u} units"), bs));
        }
    }
    Ok(ks[0])
}

/// Configuration and weights shared by the three recurrent layers.
#[derive(Debug, Clone)]
pub(crate) struct RnnBase {
    pub kind: RnnKind,
    pub cfg: RecurrentConfig,
    pub kernel: Option<Var>,
    pub recurrent_kernel: Option<Var>,
    pub bias: Option<Var>,
    pub input_features: usize,
}

impl RnnBase {
    pub(crate) fn new(kind: RnnKind, units: usize) -> Self {
        Self::from_config(kind, RecurrentConfig::new(kind, units))
    }

    pub(crate) fn from_config(kind: RnnKind, mut cfg: RecurrentConfig) -> Self {
        match kind {
            RnnKind::Lstm => {
                cfg.unit_forget_bias.get_or_insert(true);
                cfg.reset_after = None;
            }
            RnnKind::Gru => {
                cfg.reset_after.get_or_insert(true);
                cfg.unit_forget_bias = None;
            }
            RnnKind::Simple => {
                cfg.unit_forget_bias = None;
                cfg.reset_after = None;
            }
        }
        RnnBase {
            kind,
            cfg,
            kernel: None,
            recurrent_kernel: None,
            bias: None,
            input_features: 0,
        }
    }

    fn config_error(&self, message: impl Into<String>) -> NnError {
        NnError::Config {
            layer: self.cfg.name.clone(),
            message: message.into(),
        }
    }

    /// The options of the fused op.
    pub(crate) fn options(&self) -> RecurrentOptions {
        RecurrentOptions {
            activation: self.cfg.activation,
            recurrent_activation: self.cfg.recurrent_activation,
            return_sequences: self.cfg.return_sequences,
            go_backwards: self.cfg.go_backwards,
        }
    }

    fn shape_error(&self, found: &[usize], with_batch: bool) -> NnError {
        let features = if self.is_built() {
            self.input_features.to_string()
        } else {
            "features".to_string()
        };
        NnError::Shape {
            layer: self.cfg.name.clone(),
            expected: if with_batch {
                format!("(batch, timesteps, {features})")
            } else {
                format!("(timesteps, {features})")
            },
            found: found.to_vec(),
        }
    }

    /// The shape error for an input with 0 timesteps or 0 features.
    fn degenerate_shape_error(&self, found: &[usize], with_batch: bool) -> NnError {
        match self.shape_error(found, with_batch) {
            NnError::Shape {
                layer,
                expected,
                found,
            } => NnError::Shape {
                layer,
                expected: format!("{expected} with timesteps >= 1 and features >= 1"),
                found,
            },
            other => other,
        }
    }

    pub(crate) fn is_built(&self) -> bool {
        self.kernel.is_some()
    }

    /// The variables `build(input_shape)` creates (see
    /// [`crate::Layer::parameter_shapes`]): errors for a bad configuration,
    /// an input that is not `(timesteps >= 1, features >= 1)`, or sizes that overflow.
    pub(crate) fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
        self.cfg.validate()?;
        if input_shape.len() != 2 || input_shape[0] == 0 || input_shape[1] == 0 {
            return Err(self.degenerate_shape_error(input_shape, false));
        }
        let name = &self.cfg.name;
        let f = input_shape[1];
        let u = self.cfg.units;
        let g = checks::mul(name, "the gates (gates x units)", self.kind.gates(), u)?;
        let mut vars = vec![("kernel", vec![f, g]), ("recurrent_kernel", vec![u, g])];
        if self.cfg.use_bias {
            vars.push((
                "bias",
                if self.kind == RnnKind::Gru {
                    vec![2, g]
                } else {
                    vec![g]
                },
            ));
        }
        checks::variables(name, vars)
    }

    pub(crate) fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        self.param_specs(input_shape)?;
        let name = self.cfg.name.as_str();
        let f = input_shape[1];
        let u = self.cfg.units;
        let g = self.kind.gates() * u;
        let kernel = self
            .cfg
            .kernel_initializer
            .initialize_variable(&[f, g], rng, name, "kernel")?;
        let recurrent =
            self.cfg
                .recurrent_initializer
                .initialize_variable(&[u, g], rng, name, "recurrent_kernel")?;
        let bias = if self.cfg.use_bias {
            let init = self.cfg.bias_initializer;
            Some(match self.kind {
                RnnKind::Gru => init.initialize_variable(&[2, g], rng, name, "bias")?,
                RnnKind::Lstm if self.cfg.unit_forget_bias != Some(false) => {
                    // Keras: concat(init((units,)), ones((units,)), init((2 units,))).
                    let mut b = Initializer::Zeros.initialize_variable(&[g], rng, name, "bias")?;
                    b.slice_mut(s![..u])
                        .assign(&init.initialize_variable(&[u], rng, name, "bias")?);
                    b.slice_mut(s![u..2 * u]).fill(1.0);
                    b.slice_mut(s![2 * u..]).assign(&init.initialize_variable(
                        &[2 * u],
                        rng,
                        name,
                        "bias",
                    )?);
                    b
                }
                _ => init.initialize_variable(&[g], rng, name, "bias")?,
            })
        } else {
            None
        };
        self.kernel = Some(Var::parameter(kernel));
        self.recurrent_kernel = Some(Var::parameter(recurrent));
        self.bias = bias.map(Var::parameter);
        self.input_features = f;
        Ok(())
    }

    pub(crate) fn set_weights(&mut self, kernel: Var, recurrent: Var, bias: Option<Var>) -> Result<()> {
        let name = self.cfg.name.clone();
        if bias.is_some() != self.cfg.use_bias {
            return Err(self.config_error(format!(
                "use_bias is {} but {} bias was given",
                self.cfg.use_bias,
                if bias.is_some() { "a" } else { "no" }
            )));
        }
        if recurrent.shape() != [self.cfg.units, self.kind.gates() * self.cfg.units] {
            return Err(NnError::Shape {
                layer: name,
                expected: format!(
                    "recurrent_kernel ({}, {})",
                    self.cfg.units,
                    self.kind.gates() * self.cfg.units
                ),
                found: recurrent.shape(),
            });
        }
        self.input_features = check_weights(&name, self.kind, &kernel, &recurrent, bias.as_ref())?;
        self.kernel = Some(kernel);
        self.recurrent_kernel = Some(recurrent);
        self.bias = bias;
        Ok(())
    }

    pub(crate) fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.cfg.validate()?;
        if input_shape.len() != 2 || (self.is_built() && input_shape[1] != self.input_features) {
            return Err(self.shape_error(input_shape, false));
        }
        if input_shape[0] == 0 || input_shape[1] == 0 {
            return Err(self.degenerate_shape_error(input_shape, false));
        }
        Ok(if self.cfg.return_sequences {
            vec![input_shape[0], self.cfg.units]
        } else {
            vec![self.cfg.units]
        })
    }

    pub(crate) fn parameters(&self) -> Vec<Parameter> {
        let mut out = Vec::new();
        for (suffix, var) in [
            ("kernel", &self.kernel),
            ("recurrent_kernel", &self.recurrent_kernel),
            ("bias", &self.bias),
        ] {
            if let Some(var) = var {
                out.push(Parameter {
                    name: format!("{}.{suffix}", self.cfg.name),
                    var: var.clone(),
                    trainable: self.cfg.trainable,
                });
            }
        }
        out
    }

    /// Runs the layer on `x` with the fused kernel of its kind.
    pub(crate) fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let (Some(kernel), Some(recurrent)) = (&self.kernel, &self.recurrent_kernel) else {
            return Err(NnError::NotBuilt(self.cfg.name.clone()));
        };
        let shape = x.shape();
        if shape.len() != 3 || shape[2] != self.input_features {
            return Err(self.shape_error(&shape, true));
        }
        if shape[1] == 0 {
            return Err(self.degenerate_shape_error(&shape, true));
        }
        let opts = self.options();
        regularize(ctx, self.cfg.kernel_regularizer, kernel)?;
        regularize(ctx, self.cfg.recurrent_regularizer, recurrent)?;
        if let Some(bias) = &self.bias {
            regularize(ctx, self.cfg.bias_regularizer, bias)?;
        }
        let bias = self.bias.as_ref();
        match self.kind {
            RnnKind::Simple => super::simple_rnn::fused_simple_rnn(x, kernel, recurrent, bias, &opts),
            RnnKind::Lstm => super::lstm::fused_lstm(x, kernel, recurrent, bias, &opts),
            RnnKind::Gru => super::gru::fused_gru(x, kernel, recurrent, bias, &opts),
        }
    }
}

/// Inverse of the time-major layout ([`super::seq_chunks::chunk_time_major`]): `[T*B, F]` back to `(B, T, F)`.
pub(crate) fn from_time_major(m: &Array2<f32>, b: usize, t: usize, go_backwards: bool) -> Tensor {
    let f = m.ncols();
    let mut out = ndarray::Array3::<f32>::zeros((b, t, f));
    for step in 0..t {
        let dst = if go_backwards { t - 1 - step } else { step };
        out.index_axis_mut(Axis(1), dst)
            .assign(&m.slice(s![step * b..(step + 1) * b, ..]));
    }
    out.into_dyn()
}

/// The layer's output from the time-major hidden states `hs` (`[(T+1)*B, U]`,
/// block 0 the zero initial state): all steps `(B, T, U)` or the last `(B, U)`.
pub(crate) fn output_from_states(hs: &Array2<f32>, b: usize, t: usize, return_sequences: bool) -> Tensor {
    if return_sequences {
        let u = hs.ncols();
        let mut out = ndarray::Array3::<f32>::zeros((b, t, u));
        for step in 0..t {
            out.index_axis_mut(Axis(1), step)
                .assign(&hs.slice(s![(step + 1) * b..(step + 2) * b, ..]));
        }
        out.into_dyn()
    } else {
        hs.slice(s![t * b..(t + 1) * b, ..]).to_owned().into_dyn()
    }
}

/// Adds the output gradient of step `step` (if the output has one there) to `dh` (`[B, U]`).
pub(crate) fn add_output_grad(
    dh: &mut Array2<f32>,
    grad: &Tensor,
    step: usize,
    t: usize,
    return_sequences: bool,
) {
    if return_sequences {
        let g3 = grad
            .view()
            .into_dimensionality::<Ix3>()
            .expect("gradient has the output's shape");
        *dh += &g3.index_axis(Axis(1), step);
    } else if step + 1 == t {
        let g2 = grad
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .expect("gradient has the output's shape");
        *dh += &g2;
    }
}

/// Column sums of a matrix (the bias gradient from `dZ`).
pub(crate) fn column_sums(m: &Array2<f32>) -> ndarray::Array1<f32> {
    m.sum_axis(Axis(0))
}

/// Builder methods and the [`crate::Layer`] implementation shared by
/// `SimpleRNN`, `LSTM` and `GRU` (each a struct with one field `base: RnnBase`).
macro_rules! recurrent_layer_common {
    ($ty:ident, $kind:expr) => {
        impl $ty {
            #[doc = concat!(
                "A `", stringify!($ty), "` layer with `units` hidden units and Keras' defaults ",
                "(tanh activation, sigmoid recurrent activation, glorot_uniform kernel, orthogonal ",
                "recurrent kernel, zero bias, last output only).\n\n",
                "```\nlet layer = neurite_nn::layers::", stringify!($ty), "::new(16);\n",
                "assert_eq!(layer.units(), 16);\n```"
            )]
            pub fn new(units: usize) -> Self {
                $ty {
                    base: $crate::layers::recurrent::RnnBase::new($kind, units),
                }
            }

            #[doc = concat!(
                "The layer from its configuration (unbuilt; checked when built).\n\n",
                "```\nuse neurite_nn::Layer;\nuse neurite_nn::layers::", stringify!($ty), ";\n",
                "let a = ", stringify!($ty), "::new(4).return_sequences(true);\n",
                "let b = ", stringify!($ty), "::from_config(a.config_struct().clone());\n",
                "assert_eq!(a.config(), b.config());\n```"
            )]
            pub fn from_config(cfg: $crate::layers::recurrent::RecurrentConfig) -> Self {
                $ty {
                    base: $crate::layers::recurrent::RnnBase::from_config($kind, cfg),
                }
            }

            #[doc = concat!(
                "The typed configuration.\n\n```\nassert_eq!(neurite_nn::layers::", stringify!($ty),
                "::new(3).config_struct().units, 3);\n```"
            )]
            pub fn config_struct(&self) -> &$crate::layers::recurrent::RecurrentConfig {
                &self.base.cfg
            }

            #[doc = concat!(
                "Number of hidden units.\n\n```\nassert_eq!(neurite_nn::layers::", stringify!($ty),
                "::new(3).units(), 3);\n```"
            )]
            pub fn units(&self) -> usize {
                self.base.cfg.units
            }

            #[doc = concat!(
                "Whether to return the hidden state of every timestep `(batch, timesteps, units)` ",
                "instead of the last one `(batch, units)` (Keras' `return_sequences`, default false).\n\n",
                "```\nuse neurite_nn::Layer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).return_sequences(true);\nassert_eq!(l.output_shape(&[5, 2]).unwrap(), vec![5, 3]);\n```"
            )]
            pub fn return_sequences(mut self, yes: bool) -> Self {
                self.base.cfg.return_sequences = yes;
                self
            }

            #[doc = concat!(
                "Processes the sequence from the last timestep to the first; with `return_sequences` ",
                "the outputs are in processing order, i.e. reversed (Keras' `go_backwards`).\n\n",
                "```\nlet l = neurite_nn::layers::", stringify!($ty), "::new(3).go_backwards(true);\n",
                "assert!(l.config_struct().go_backwards);\n```"
            )]
            pub fn go_backwards(mut self, yes: bool) -> Self {
                self.base.cfg.go_backwards = yes;
                self
            }

            #[doc = concat!(
                "The output activation (Keras' `activation`, default tanh; tanh, sigmoid, relu or linear).\n\n",
                "```\nuse neurite_nn::Activation;\nlet l = neurite_nn::layers::",
                stringify!($ty), "::new(3).activation(Activation::Relu);\n",
                "assert_eq!(l.config_struct().activation, Activation::Relu);\n```"
            )]
            pub fn activation(mut self, activation: $crate::activation::Activation) -> Self {
                self.base.cfg.activation = activation;
                self
            }

            #[doc = concat!(
                "The gate activation (Keras' `recurrent_activation`, default sigmoid; unused by SimpleRNN).\n\n",
                "```\nuse neurite_nn::Activation;\nlet l = neurite_nn::layers::",
                stringify!($ty), "::new(3).recurrent_activation(Activation::Tanh);\n",
                "assert_eq!(l.config_struct().recurrent_activation, Activation::Tanh);\n```"
            )]
            pub fn recurrent_activation(mut self, activation: $crate::activation::Activation) -> Self {
                self.base.cfg.recurrent_activation = activation;
                self
            }

            #[doc = concat!(
                "Whether the layer has a bias (default true).\n\n```\nuse neurite_nn::Layer;\n",
                "let mut l = neurite_nn::layers::", stringify!($ty), "::new(3).use_bias(false);\n",
                "l.build(&[5, 2], &mut neurite_tensor::random::rng_from_seed(0)).unwrap();\n",
                "assert_eq!(l.parameters().len(), 2);\n```"
            )]
            pub fn use_bias(mut self, yes: bool) -> Self {
                self.base.cfg.use_bias = yes;
                self
            }

            #[doc = concat!(
                "Sets the kernel initializer (default glorot_uniform).\n\n```\n",
                "use neurite_nn::initializers::Initializer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).kernel_initializer(Initializer::HeNormal);\n",
                "assert_eq!(l.config_struct().kernel_initializer, Initializer::HeNormal);\n```"
            )]
            pub fn kernel_initializer(mut self, init: $crate::initializers::Initializer) -> Self {
                self.base.cfg.kernel_initializer = init;
                self
            }

            #[doc = concat!(
                "Sets the recurrent kernel initializer (default orthogonal).\n\n```\n",
                "use neurite_nn::initializers::Initializer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).recurrent_initializer(Initializer::GlorotUniform);\n",
                "assert_eq!(l.config_struct().recurrent_initializer, Initializer::GlorotUniform);\n```"
            )]
            pub fn recurrent_initializer(mut self, init: $crate::initializers::Initializer) -> Self {
                self.base.cfg.recurrent_initializer = init;
                self
            }

            #[doc = concat!(
                "Sets the bias initializer (default zeros).\n\n```\n",
                "use neurite_nn::initializers::Initializer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).bias_initializer(Initializer::Ones);\n",
                "assert_eq!(l.config_struct().bias_initializer, Initializer::Ones);\n```"
            )]
            pub fn bias_initializer(mut self, init: $crate::initializers::Initializer) -> Self {
                self.base.cfg.bias_initializer = init;
                self
            }

            #[doc = concat!(
                "Sets the kernel regularizer (its penalty is added in training passes).\n\n```\n",
                "use neurite_nn::regularizers::Regularizer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).kernel_regularizer(Regularizer::l2(0.01));\n",
                "assert_eq!(l.config_struct().kernel_regularizer, Some(Regularizer::l2(0.01)));\n```"
            )]
            pub fn kernel_regularizer(mut self, reg: $crate::regularizers::Regularizer) -> Self {
                self.base.cfg.kernel_regularizer = Some(reg);
                self
            }

            #[doc = concat!(
                "Sets the recurrent kernel regularizer.\n\n```\n",
                "use neurite_nn::regularizers::Regularizer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).recurrent_regularizer(Regularizer::l1(0.01));\n",
                "assert_eq!(l.config_struct().recurrent_regularizer, Some(Regularizer::l1(0.01)));\n```"
            )]
            pub fn recurrent_regularizer(mut self, reg: $crate::regularizers::Regularizer) -> Self {
                self.base.cfg.recurrent_regularizer = Some(reg);
                self
            }

            #[doc = concat!(
                "Sets the bias regularizer.\n\n```\n",
                "use neurite_nn::regularizers::Regularizer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).bias_regularizer(Regularizer::l2(0.1));\n",
                "assert_eq!(l.config_struct().bias_regularizer, Some(Regularizer::l2(0.1)));\n```"
            )]
            pub fn bias_regularizer(mut self, reg: $crate::regularizers::Regularizer) -> Self {
                self.base.cfg.bias_regularizer = Some(reg);
                self
            }

            #[doc = concat!(
                "Declares the input shape `(timesteps, features)` (Keras' `input_shape=` on a model's first layer).\n\n",
                "```\nuse neurite_nn::Layer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).input_shape([10, 4]);\nassert_eq!(l.declared_input_shape(), Some(vec![10, 4]));\n```"
            )]
            pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
                self.base.cfg.input_shape = Some(shape.as_ref().to_vec());
                self
            }

            #[doc = concat!(
                "Installs `kernel`, `recurrent_kernel` and `bias` as the layer's variables (shared, ",
                "not copied: gradients flow into the given `Var`s), marking the layer built. Shapes as ",
                "built by `build`; `bias` must be given iff `use_bias`.\n\n",
                "```\nuse neurite_nn::Layer;\nlet mut l = neurite_nn::layers::", stringify!($ty), "::new(3);\n",
                "l.build(&[5, 2], &mut neurite_tensor::random::rng_from_seed(0)).unwrap();\n",
                "let p: Vec<_> = l.parameters().into_iter().map(|p| p.var).collect();\n",
                "let mut other = neurite_nn::layers::", stringify!($ty), "::new(3);\n",
                "other.set_weights(p[0].clone(), p[1].clone(), Some(p[2].clone())).unwrap();\n",
                "assert!(other.is_built());\n",
                "assert!(other.set_weights(p[1].clone(), p[1].clone(), None).is_err());\n```"
            )]
            pub fn set_weights(
                &mut self,
                kernel: neurite_autograd::Var,
                recurrent_kernel: neurite_autograd::Var,
                bias: Option<neurite_autograd::Var>,
            ) -> $crate::error::Result<()> {
                self.base.set_weights(kernel, recurrent_kernel, bias)
            }

            #[doc = concat!(
                "Sets the layer name (builder form of `Layer::set_name`).\n\n```\nuse neurite_nn::Layer;\n",
                "let l = neurite_nn::layers::", stringify!($ty), "::new(3).with_name(\"encoder\");\n",
                "assert_eq!(l.name(), \"encoder\");\n```"
            )]
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.base.cfg.name = name.into();
                self
            }
        }

        impl $crate::layer::Layer for $ty {
            fn class_name(&self) -> &'static str {
                self.base.kind.class_name()
            }

            fn name(&self) -> &str {
                &self.base.cfg.name
            }

            fn set_name(&mut self, name: String) {
                self.base.cfg.name = name;
            }

            fn build(&mut self, input_shape: &[usize], rng: &mut neurite_rand::Generator) -> $crate::error::Result<()> {
                self.base.build(input_shape, rng)
            }

            fn is_built(&self) -> bool {
                self.base.is_built()
            }

            fn output_shape(&self, input_shape: &[usize]) -> $crate::error::Result<Vec<usize>> {
                self.base.output_shape(input_shape)
            }

            fn forward(
                &self,
                x: &neurite_autograd::Var,
                ctx: &mut $crate::context::ForwardContext,
            ) -> $crate::error::Result<neurite_autograd::Var> {
                self.base.forward(x, ctx)
            }

            fn parameters(&self) -> Vec<$crate::layer::Parameter> {
                self.base.parameters()
            }

            fn parameter_shapes(
                &self,
                input_shape: &[usize],
            ) -> $crate::error::Result<Option<$crate::layer::ParameterShapes>> {
                self.base.param_specs(input_shape).map(Some)
            }

            fn trainable(&self) -> bool {
                self.base.cfg.trainable
            }

            fn set_trainable(&mut self, trainable: bool) {
                self.base.cfg.trainable = trainable;
            }

            fn config(&self) -> serde_json::Value {
                serde_json::to_value(&self.base.cfg).expect("layer configs serialize to JSON")
            }

            fn declared_input_shape(&self) -> Option<Vec<usize>> {
                self.base.cfg.input_shape.clone()
            }
        }
    };
}
pub(crate) use recurrent_layer_common;
