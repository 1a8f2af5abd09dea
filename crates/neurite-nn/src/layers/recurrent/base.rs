//! [`RnnBase`]: the configuration and weights shared by `SimpleRNN`, `LSTM`
//! and `GRU`, and the layer life cycle they share (build, shapes,
//! parameters, forward). The cell runs through the [`FusedOp`] its layer
//! hands to [`RnnBase::forward`], so this file never names a cell.

use super::config::{check_weights, RecurrentConfig, RecurrentOptions, RnnKind};
use super::step_loop::{draw_masks, DropoutMasks, LoopCell, StepLoop};
use super::step_mask::SeqMask;
use crate::checks;
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::initializers::Initializer;
use crate::layer::{Parameter, ParameterShapes};
use crate::layers::regularize;
use ndarray::s;
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
/// A fused recurrent op: `(x, kernel, recurrent_kernel, bias, options, mask)`
/// to the layer's output, e.g. `lstm_masked` (what [`super::fused_lstm`] runs).
pub(crate) type FusedOp =
    fn(&Var, &Var, &Var, Option<&Var>, &RecurrentOptions, Option<SeqMask>) -> Result<Var>;

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
            vars.push(("bias", if self.gru_bias_rows() { vec![2, g] } else { vec![g] }));
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
                RnnKind::Gru if self.gru_bias_rows() => {
                    init.initialize_variable(&[2, g], rng, name, "bias")?
                }
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

    pub(crate) fn set_weight_vars(&mut self, kernel: Var, recurrent: Var, bias: Option<Var>) -> Result<()> {
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
        self.input_features = if self.reset_before() {
            // (3 units,) bias: checked here, the fused kernel's (2, 3 units) check does not apply.
            let g = 3 * self.cfg.units;
            if let Some(b) = bias.as_ref().filter(|b| b.shape() != [g]) {
                return Err(NnError::Shape {
                    layer: name,
                    expected: format!("bias [{g}] (reset_after=false)"),
                    found: b.shape(),
                });
            }
            check_weights(&name, self.kind, &kernel, &recurrent, None)?
        } else {
            check_weights(&name, self.kind, &kernel, &recurrent, bias.as_ref())?
        };
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

    /// Runs the layer on `x` through `fused`, the fused op of its kind
    /// (passed in by the layer, so that this file does not import the cells).
    /// With a `mask` (`(batch, timesteps)`, checked here), masked steps keep
    /// the previous state ([`super::step_mask`]).
    pub(crate) fn forward(
        &self,
        x: &Var,
        ctx: &mut ForwardContext,
        fused: FusedOp,
        mask: Option<&neurite_tensor::Tensor>,
    ) -> Result<Var> {
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
        crate::mask::check_optional_mask(&self.cfg.name, &shape, mask)?;
        let mask = mask.map(|mask| SeqMask {
            mask,
            zero_output: self.cfg.zero_output_for_mask,
        });
        let opts = self.options();
        regularize(ctx, self.cfg.kernel_regularizer, kernel)?;
        regularize(ctx, self.cfg.recurrent_regularizer, recurrent)?;
        if let Some(bias) = &self.bias {
            regularize(ctx, self.cfg.bias_regularizer, bias)?;
        }
        let dropout = self.dropout_masks(&shape, ctx);
        if self.reset_before() || dropout.recurrent.is_some() {
            return StepLoop {
                op: &self.cfg.name,
                cell: LoopCell::of(self.kind, !self.reset_before()),
                x,
                kernel,
                recurrent,
                bias: self.bias.as_ref(),
                options: &opts,
                mask,
                dropout: &dropout,
            }
            .run();
        }
        match dropout.input.as_deref() {
            // One input mask shared by every gate and step (Keras' `implementation=2`).
            Some([m]) => {
                let m = Var::constant(
                    m.clone()
                        .into_shape_with_order(vec![shape[0], 1, shape[2]])
                        .expect("batch * features values"),
                );
                fused(
                    &ops::mul(x, &m)?,
                    kernel,
                    recurrent,
                    self.bias.as_ref(),
                    &opts,
                    mask,
                )
            }
            _ => fused(x, kernel, recurrent, self.bias.as_ref(), &opts, mask),
        }
    }

    /// This call's dropout masks, as Keras' cells draw them: none in
    /// inference; with `recurrent_dropout` one mask per gate for the state
    /// and (with `dropout`) one per gate for the input (`implementation=1`);
    /// with `dropout` alone one input mask for all gates.
    fn dropout_masks(&self, shape: &[usize], ctx: &mut ForwardContext) -> DropoutMasks {
        let (rate, recurrent_rate) = (self.cfg.dropout, self.cfg.recurrent_dropout);
        if !ctx.is_training() || (rate == 0.0 && recurrent_rate == 0.0) {
            return DropoutMasks::default();
        }
        let (n, f, u) = (shape[0], shape[2], self.cfg.units);
        let per_gate = if recurrent_rate > 0.0 {
            self.kind.gates()
        } else {
            1
        };
        let input = (rate > 0.0).then(|| draw_masks(n, f, rate, per_gate, ctx.rng()));
        let recurrent = (recurrent_rate > 0.0).then(|| draw_masks(n, u, recurrent_rate, per_gate, ctx.rng()));
        DropoutMasks { input, recurrent }
    }

    /// A GRU with `reset_after=false` (bias `(3 units,)`, run by [`StepLoop`]).
    fn reset_before(&self) -> bool {
        self.kind == RnnKind::Gru && self.cfg.reset_after == Some(false)
    }

    /// Whether the bias has Keras' two rows (input, recurrent): a GRU with `reset_after=true`.
    fn gru_bias_rows(&self) -> bool {
        self.kind == RnnKind::Gru && !self.reset_before()
    }
}
