//! `Bidirectional(rnn)`: a recurrent layer run forwards and a copy run
//! backwards over the same sequence, their outputs merged.

use super::wrapped::{in_wrapper, layer_from_nested, nested_config, prefixed, prefixed_shapes};
use super::{config_error, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde_json::{json, Value};

/// How [`Bidirectional`] combines the forward and backward outputs
/// (Keras' `merge_mode`; `None`, two separate outputs, is refused: a layer
/// here returns one tensor).
///
/// ```
/// use neurite_nn::layers::MergeMode;
/// assert_eq!(MergeMode::default(), MergeMode::Concat);
/// assert_eq!(MergeMode::parse("bidi", "ave")?, MergeMode::Ave);
/// assert!(MergeMode::parse("bidi", "none").is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMode {
    /// Concatenated on the last axis (Keras' default): `2 * units` features.
    #[default]
    Concat,
    /// Element-wise sum.
    Sum,
    /// Element-wise product.
    Mul,
    /// Element-wise mean.
    Ave,
}

impl MergeMode {
    /// Keras' name of the mode.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layers::MergeMode::Mul.keras_name(), "mul");
    /// ```
    pub fn keras_name(self) -> &'static str {
        match self {
            MergeMode::Concat => "concat",
            MergeMode::Sum => "sum",
            MergeMode::Mul => "mul",
            MergeMode::Ave => "ave",
        }
    }

    /// The mode named `name` (`concat`, `sum`, `mul`, `ave`); an error naming
    /// `layer` for anything else, `None`/`null` included.
    ///
    /// ```
    /// let e = neurite_nn::layers::MergeMode::parse("bidi", "max").unwrap_err().to_string();
    /// assert!(e.contains("bidi") && e.contains("merge_mode"), "{e}");
    /// ```
    pub fn parse(layer: &str, name: &str) -> Result<Self> {
        match name {
            "concat" => Ok(MergeMode::Concat),
            "sum" => Ok(MergeMode::Sum),
            "mul" => Ok(MergeMode::Mul),
            "ave" => Ok(MergeMode::Ave),
            other => Err(checks::field_error(
                layer,
                "merge_mode",
                "\"concat\", \"sum\", \"mul\" or \"ave\" (merge_mode None, two separate outputs, is not \
                 supported: a neurite layer returns one tensor)",
                format!("{other:?}"),
            )),
        }
    }
}

/// The recurrent classes Bidirectional wraps.
const RECURRENT: [&str; 3] = ["SimpleRNN", "LSTM", "GRU"];

/// Keras' `Bidirectional`: the wrapped recurrent layer (SimpleRNN, LSTM or
/// GRU) runs over the sequence as `forward_<name>`, and a second layer
/// `backward_<name>` (the same config with `go_backwards` flipped, or the
/// given `backward_layer`) reads it from the last step to the first. With
/// `return_sequences` the backward outputs are put back in time order
/// (step `t` of the result holds both directions' states at input step `t`),
/// as Keras. The two are merged by [`MergeMode`]. Variables:
/// `<name>/forward_<inner>.<variable>`, then `<name>/backward_<inner>.<variable>`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{Bidirectional, LSTM};
/// use neurite_nn::{ForwardContext, Layer};
/// let mut b = Bidirectional::new(LSTM::new(4).return_sequences(true))?;
/// b.build(&[6, 3], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(b.output_shape(&[6, 3])?, vec![6, 8]);
/// let y = b.forward(&Var::from_array(ndarray::Array3::<f32>::ones((2, 6, 3))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 6, 8]);
/// assert_eq!(b.parameters()[0].name, "bidirectional/forward_lstm.kernel");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub struct Bidirectional {
    name: String,
    trainable: bool,
    input_shape: Option<Vec<usize>>,
    merge_mode: MergeMode,
    forward: Box<dyn Layer>,
    backward: Box<dyn Layer>,
    return_sequences: bool,
}

impl std::fmt::Debug for Bidirectional {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bidirectional")
            .field("name", &self.name)
            .field("merge_mode", &self.merge_mode)
            .field("layer", &self.forward.config())
            .finish()
    }
}

/// A boolean field of a nested layer's config (absent = `false`).
fn flag(nested: &Value, field: &str) -> bool {
    nested
        .pointer(&format!("/config/{field}"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

impl Bidirectional {
    /// Wraps `layer` (SimpleRNN, LSTM or GRU) with merge mode `concat`;
    /// another class is refused with an error naming it.
    ///
    /// ```
    /// use neurite_nn::layers::{Bidirectional, Dense, GRU};
    /// assert!(Bidirectional::new(GRU::new(3)).is_ok());
    /// assert!(Bidirectional::new(Dense::new(3)).unwrap_err().to_string().contains("Dense"));
    /// ```
    pub fn new(layer: impl Layer + 'static) -> Result<Self> {
        Bidirectional::build_from("bidirectional", nested_config(&layer), None, MergeMode::Concat)
    }

    /// [`Bidirectional::new`] for an already boxed layer.
    ///
    /// ```
    /// let gru = neurite_nn::layer_from_config("GRU", &serde_json::json!({"name": "g", "units": 2}))?;
    /// let b = neurite_nn::layers::Bidirectional::from_boxed(gru)?;
    /// assert_eq!(neurite_nn::Layer::name(b.forward_layer()), "forward_g");
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_boxed(layer: Box<dyn Layer>) -> Result<Self> {
        Bidirectional::build_from(
            "bidirectional",
            nested_config(layer.as_ref()),
            None,
            MergeMode::Concat,
        )
    }

    /// The layer from Keras' config: `name`, `layer` and the optional
    /// `backward_layer` (each `{"class_name", "config"}`), `merge_mode`
    /// (default `concat`; `null` refused), `trainable`, `input_shape`.
    /// Errors name the layer and the field.
    ///
    /// ```
    /// use neurite_nn::layers::Bidirectional;
    /// let lstm = serde_json::json!({"class_name": "LSTM", "config": {"name": "lstm", "units": 2}});
    /// let b = Bidirectional::from_config(&serde_json::json!({"name": "bi", "layer": lstm, "merge_mode": "sum"}))?;
    /// assert_eq!(b.get_merge_mode(), neurite_nn::layers::MergeMode::Sum);
    /// let e = Bidirectional::from_config(&serde_json::json!({"name": "bi", "layer": lstm, "merge_mode": null}));
    /// assert!(e.unwrap_err().to_string().contains("merge_mode"));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("bidirectional")
            .to_string();
        let layer = config
            .get("layer")
            .ok_or_else(|| config_error(&name, "field \"layer\": missing (the wrapped recurrent layer)"))?;
        let merge_mode = match config.get("merge_mode") {
            None => MergeMode::Concat,
            Some(Value::String(s)) => MergeMode::parse(&name, s)?,
            Some(other) => MergeMode::parse(&name, &other.to_string())?,
        };
        let backward = match config.get("backward_layer") {
            None | Some(Value::Null) => None,
            Some(b) => Some(b.clone()),
        };
        let mut b = Bidirectional::build_from(&name, layer.clone(), backward, merge_mode)?;
        if let Some(v) = config.get("trainable").filter(|v| !v.is_null()) {
            let t = v
                .as_bool()
                .ok_or_else(|| checks::field_error(&name, "trainable", "a boolean", v))?;
            b.set_trainable(t);
        }
        match config.get("input_shape") {
            None | Some(Value::Null) => {}
            Some(v) => {
                let s = serde_json::from_value::<Vec<usize>>(v.clone())
                    .map_err(|_| checks::field_error(&name, "input_shape", "a list of integers", v))?;
                b.input_shape = Some(s);
                checks::input_shape(&name, &b.input_shape)?;
            }
        }
        Ok(b)
    }

    fn build_from(name: &str, layer: Value, backward: Option<Value>, merge_mode: MergeMode) -> Result<Self> {
        let check_class = |field: &str, nested: &Value| -> Result<()> {
            let class = nested.get("class_name").and_then(Value::as_str).unwrap_or("");
            if RECURRENT.contains(&class) {
                Ok(())
            } else {
                Err(checks::field_error(
                    name,
                    field,
                    "a SimpleRNN, LSTM or GRU layer",
                    format!("{class:?}"),
                ))
            }
        };
        check_class("layer", &layer)?;
        // Keras forces zero_output_for_mask = return_sequences on both layers.
        let zero_output = |mut nested: Value| {
            let rs = flag(&nested, "return_sequences");
            if let Some(cfg) = nested.get_mut("config").and_then(Value::as_object_mut) {
                cfg.insert("zero_output_for_mask".into(), json!(rs));
            }
            nested
        };
        let layer = zero_output(layer);
        let backward = backward.map(zero_output);
        let mut forward = layer_from_nested(name, "layer", &layer)?;
        // Keras' names: forward_<name> and backward_<name> (a saved config
        // already holds the prefixed names, which are not prefixed twice).
        let base = forward.name().trim_start_matches("forward_").to_string();
        forward.set_name(format!("forward_{base}"));
        let backward_layer = match &backward {
            Some(b) => {
                check_class("backward_layer", b)?;
                if flag(b, "return_sequences") != flag(&layer, "return_sequences") {
                    return Err(config_error(
                        name,
                        "field \"backward_layer\": return_sequences must equal the forward layer's (as Keras)",
                    ));
                }
                if flag(b, "go_backwards") == flag(&layer, "go_backwards") {
                    return Err(config_error(
                        name,
                        "field \"backward_layer\": go_backwards must be the opposite of the forward layer's \
                         (as Keras)",
                    ));
                }
                let mut l = layer_from_nested(name, "backward_layer", b)?;
                let base_b = l.name().trim_start_matches("backward_").to_string();
                l.set_name(format!("backward_{base_b}"));
                l
            }
            None => {
                let mut cfg = layer["config"].clone();
                cfg["go_backwards"] = json!(!flag(&layer, "go_backwards"));
                cfg["name"] = json!(format!("backward_{base}"));
                let class = layer["class_name"].as_str().unwrap_or_default();
                crate::layer_from_config(class, &cfg)
                    .map_err(|e| config_error(name, format!("field \"layer\": {e}")))?
            }
        };
        Ok(Bidirectional {
            name: name.to_string(),
            trainable: true,
            input_shape: None,
            merge_mode,
            return_sequences: flag(&layer, "return_sequences"),
            forward,
            backward: backward_layer,
        })
    }

    /// Sets the merge mode (builder).
    ///
    /// ```
    /// use neurite_nn::layers::{Bidirectional, MergeMode, SimpleRNN};
    /// let b = Bidirectional::new(SimpleRNN::new(2))?.merge_mode(MergeMode::Ave);
    /// assert_eq!(b.get_merge_mode(), MergeMode::Ave);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn merge_mode(mut self, mode: MergeMode) -> Self {
        self.merge_mode = mode;
        self
    }

    /// The merge mode.
    ///
    /// ```
    /// use neurite_nn::layers::{Bidirectional, MergeMode, GRU};
    /// assert_eq!(Bidirectional::new(GRU::new(2))?.get_merge_mode(), MergeMode::Concat);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn get_merge_mode(&self) -> MergeMode {
        self.merge_mode
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let b = neurite_nn::layers::Bidirectional::new(neurite_nn::layers::GRU::new(2))?.with_name("bi");
    /// assert_eq!(b.name(), "bi");
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Declares the input shape `[steps, features]` (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let b = neurite_nn::layers::Bidirectional::new(neurite_nn::layers::GRU::new(2))?.input_shape([5, 3]);
    /// assert_eq!(b.declared_input_shape(), Some(vec![5, 3]));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// The forward-direction layer (`forward_<name>`).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let b = neurite_nn::layers::Bidirectional::new(neurite_nn::layers::GRU::new(2))?;
    /// assert_eq!(b.forward_layer().name(), "forward_gru");
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn forward_layer(&self) -> &dyn Layer {
        self.forward.as_ref()
    }

    /// The backward-direction layer (`backward_<name>`, `go_backwards` flipped).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let b = neurite_nn::layers::Bidirectional::new(neurite_nn::layers::GRU::new(2))?;
    /// assert_eq!(b.backward_layer().config()["go_backwards"], true);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn backward_layer(&self) -> &dyn Layer {
        self.backward.as_ref()
    }

    /// The merged shape of the two directions' outputs.
    fn merged_shape(&self, f: Vec<usize>, b: Vec<usize>) -> Result<Vec<usize>> {
        if self.merge_mode == MergeMode::Concat {
            let (lf, lb) = (f.len(), b.len());
            if f[..lf - 1] == b[..lb - 1] {
                let mut out = f.clone();
                out[lf - 1] = f[lf - 1]
                    .checked_add(b[lb - 1])
                    .ok_or_else(|| config_error(&self.name, "the merged features overflow usize"))?;
                return Ok(out);
            }
        } else if f == b {
            return Ok(f);
        }
        Err(shape_error(
            &self.name,
            format!(
                "forward and backward outputs that {} merge (forward {f:?})",
                self.merge_mode.keras_name()
            ),
            &b,
        ))
    }

    /// The merged value of the two directions' outputs.
    fn merge(&self, f: &Var, b: &Var) -> Result<Var> {
        Ok(match self.merge_mode {
            MergeMode::Concat => {
                let axis = f.shape().len() - 1;
                ops::concat(&[f, b], axis)?
            }
            MergeMode::Sum => ops::add(f, b)?,
            MergeMode::Mul => ops::mul(f, b)?,
            MergeMode::Ave => ops::mul_scalar(&ops::add(f, b)?, 0.5)?,
        })
    }
}

impl Layer for Bidirectional {
    fn class_name(&self) -> &'static str {
        "Bidirectional"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        self.forward.set_trainable(trainable);
        self.backward.set_trainable(trainable);
    }

    fn config(&self) -> Value {
        let mut c = json!({
            "name": self.name,
            "layer": nested_config(self.forward.as_ref()),
            "backward_layer": nested_config(self.backward.as_ref()),
            "merge_mode": self.merge_mode.keras_name(),
            "trainable": self.trainable,
        });
        if let Some(s) = &self.input_shape {
            c["input_shape"] = json!(s);
        }
        c
    }

    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.input_shape.clone()
    }

    fn parameter_shapes(&self, input_shape: &[usize]) -> Result<Option<ParameterShapes>> {
        self.output_shape(input_shape)?;
        let (f, b) = (
            self.forward
                .parameter_shapes(input_shape)
                .map_err(|e| in_wrapper(&self.name, e))?,
            self.backward
                .parameter_shapes(input_shape)
                .map_err(|e| in_wrapper(&self.name, e))?,
        );
        Ok(match (f, b) {
            (Some(f), Some(b)) => Some(prefixed_shapes(&self.name, [f, b].concat())),
            _ => None,
        })
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        self.output_shape(input_shape)?;
        self.forward
            .build(input_shape, rng)
            .map_err(|e| in_wrapper(&self.name, e))?;
        self.backward
            .build(input_shape, rng)
            .map_err(|e| in_wrapper(&self.name, e))
    }

    fn is_built(&self) -> bool {
        self.forward.is_built() && self.backward.is_built()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let f = self
            .forward
            .output_shape(input_shape)
            .map_err(|e| in_wrapper(&self.name, e))?;
        let b = self
            .backward
            .output_shape(input_shape)
            .map_err(|e| in_wrapper(&self.name, e))?;
        self.merged_shape(f, b)
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        Ok(self.forward_masked(x, None, ctx)?.0)
    }

    /// The mask goes to both directions (the backward one reads it in its
    /// own, reversed, order); with `return_sequences` it is passed on.
    fn supports_masking(&self) -> bool {
        true
    }

    fn compute_mask(&self, _x: &Var, mask: Option<&crate::mask::Mask>) -> Result<Option<crate::mask::Mask>> {
        Ok(if self.return_sequences {
            mask.cloned()
        } else {
            None
        })
    }

    fn forward_masked(
        &self,
        x: &Var,
        mask: Option<&crate::mask::Mask>,
        ctx: &mut ForwardContext,
    ) -> Result<crate::mask::Masked> {
        crate::mask::check_optional_mask(&self.name, &x.shape(), mask)?;
        let (yf, _) = self
            .forward
            .forward_masked(x, mask, ctx)
            .map_err(|e| in_wrapper(&self.name, e))?;
        let (mut yb, _) = self
            .backward
            .forward_masked(x, mask, ctx)
            .map_err(|e| in_wrapper(&self.name, e))?;
        if self.return_sequences {
            // The backward layer emits its states in processing order (last
            // input step first); put them back in time order.
            let steps = yb.shape()[1];
            let reversed: Vec<usize> = (0..steps).rev().collect();
            yb = ops::index_select(&yb, 1, &reversed)?;
        }
        Ok((self.merge(&yf, &yb)?, self.compute_mask(x, mask)?))
    }

    fn parameters(&self) -> Vec<Parameter> {
        prefixed(
            &self.name,
            [self.forward.parameters(), self.backward.parameters()].concat(),
        )
    }
}
