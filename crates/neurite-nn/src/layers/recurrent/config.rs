//! What a recurrent layer is configured with: its kind, the Keras
//! configuration, the fused ops' options (public and in kernel form) and
//! the checks of a fused op's operands and of the layer's weights.

use super::activation::CellActivation;
use crate::activation::Activation;
use crate::checks;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layers::default_true;
use crate::regularizers::Regularizer;
use neurite_autograd::Var;
use serde::{Deserialize, Serialize};

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

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
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
    /// GRU only: apply the reset gate after the recurrent matmul (Keras 3 default true, the fused
    /// kernel; false, the Keras 2 variant with a `(3 units,)` bias, runs on autograd ops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_after: Option<bool>,
    /// Keras' input dropout rate in `[0, 1)`: in training, the input is
    /// multiplied by a mask drawn once per call and reused at every step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f32,
    /// Keras' recurrent-state dropout rate in `[0, 1)`: in training, each
    /// gate multiplies the previous state by its own mask, drawn once per
    /// call (Keras' `implementation=1` cells, run step by step on autograd ops).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recurrent_dropout: f32,
    /// Keras' `zero_output_for_mask`: with a mask and `return_sequences`,
    /// masked steps output zeros instead of the previous output (default
    /// false; `Bidirectional` sets it to `return_sequences`, as Keras).
    #[serde(default, skip_serializing_if = "is_false")]
    pub zero_output_for_mask: bool,
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
    /// linear, a dropout or recurrent_dropout outside `[0, 1)`,
    /// bad initializer/regularizer parameters, a
    /// declared input shape with a 0 dimension); errors name the layer and
    /// the field. Run by [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::LSTM::new(8).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.units = 0;
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("lstm") && e.contains("units"), "{e}");
    /// c.units = 8;
    /// c.recurrent_dropout = 0.2;
    /// assert!(c.validate().is_ok());
    /// c.recurrent_dropout = 1.0;
    /// assert!(c.validate().unwrap_err().to_string().contains("recurrent_dropout"));
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
        for (field, rate) in [
            ("dropout", self.dropout),
            ("recurrent_dropout", self.recurrent_dropout),
        ] {
            if !(0.0..1.0).contains(&rate) {
                return Err(checks::field_error(n, field, "a rate in [0, 1)", rate));
            }
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
            dropout: 0.0,
            recurrent_dropout: 0.0,
            zero_output_for_mask: false,
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
