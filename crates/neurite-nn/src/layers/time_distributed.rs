//! `TimeDistributed(layer)`: one layer applied to every time step of a
//! `(batch, steps, ...)` batch, its weights shared by all steps.

use super::wrapped::{in_wrapper, layer_from_nested, nested_config, prefixed, prefixed_shapes};
use super::{config_error, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::{ops, Var};
use neurite_rand::Generator;
use serde_json::{json, Value};

/// Keras' `TimeDistributed`: the wrapped layer sees each step of
/// `(batch, steps, d...)` as a sample of `(d...)` (the batch and time axes
/// are merged into one batch of `batch * steps` rows, so the layer runs
/// once with its fast batched kernel), and the result is
/// `(batch, steps, out...)`. Config: `{"name", "layer": {"class_name",
/// "config"}, "trainable"}` as Keras; the variables are named
/// `<name>/<inner name>.<variable>`.
///
/// ```
/// use neurite_autograd::Var;
/// use neurite_nn::layers::{Dense, TimeDistributed};
/// use neurite_nn::{ForwardContext, Layer};
/// let mut td = TimeDistributed::new(Dense::new(3));
/// td.build(&[5, 4], &mut neurite_tensor::random::rng_from_seed(0))?;
/// assert_eq!(td.output_shape(&[5, 4])?, vec![5, 3]);
/// let y = td.forward(&Var::from_array(ndarray::Array3::<f32>::ones((2, 5, 4))), &mut ForwardContext::inference())?;
/// assert_eq!(y.shape(), vec![2, 5, 3]);
/// assert_eq!(td.parameters()[0].name, "time_distributed/dense.kernel");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub struct TimeDistributed {
    name: String,
    trainable: bool,
    input_shape: Option<Vec<usize>>,
    layer: Box<dyn Layer>,
}

impl std::fmt::Debug for TimeDistributed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeDistributed")
            .field("name", &self.name)
            .field("layer", &self.layer.config())
            .finish()
    }
}

impl TimeDistributed {
    /// Wraps `layer` (named `time_distributed` until renamed).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let td = neurite_nn::layers::TimeDistributed::new(neurite_nn::layers::Dense::new(2));
    /// assert_eq!(td.inner().class_name(), "Dense");
    /// ```
    pub fn new(layer: impl Layer + 'static) -> Self {
        TimeDistributed::from_boxed(Box::new(layer))
    }

    /// Wraps an already boxed layer.
    ///
    /// ```
    /// let inner = neurite_nn::layer_from_config("Dense", &serde_json::json!({"name": "d", "units": 2}))?;
    /// let td = neurite_nn::layers::TimeDistributed::from_boxed(inner);
    /// assert_eq!(td.inner().name(), "d");
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_boxed(layer: Box<dyn Layer>) -> Self {
        TimeDistributed {
            name: "time_distributed".into(),
            trainable: true,
            input_shape: None,
            layer,
        }
    }

    /// The layer from Keras' config (`name`, `layer` nested as
    /// `{"class_name", "config"}`, `trainable`, `input_shape`); errors name
    /// the layer and the field.
    ///
    /// ```
    /// use neurite_nn::layers::TimeDistributed;
    /// let cfg = serde_json::json!({"name": "td", "layer": {"class_name": "Dense", "config": {"name": "d", "units": 2}}});
    /// assert_eq!(TimeDistributed::from_config(&cfg)?.inner().name(), "d");
    /// let bad = serde_json::json!({"name": "td", "layer": {"class_name": "Dense"}});
    /// assert!(TimeDistributed::from_config(&bad).unwrap_err().to_string().contains("layer"));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("time_distributed")
            .to_string();
        let nested = config
            .get("layer")
            .ok_or_else(|| config_error(&name, "field \"layer\": missing (the wrapped layer)"))?;
        let layer = layer_from_nested(&name, "layer", nested)?;
        let trainable = match config.get("trainable") {
            None | Some(Value::Null) => true,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| checks::field_error(&name, "trainable", "a boolean", v))?,
        };
        let input_shape = match config.get("input_shape") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value::<Vec<usize>>(v.clone())
                    .map_err(|_| checks::field_error(&name, "input_shape", "a list of integers", v))?,
            ),
        };
        checks::input_shape(&name, &input_shape)?;
        let mut td = TimeDistributed {
            name,
            trainable,
            input_shape,
            layer,
        };
        td.layer.set_trainable(trainable && td.layer.trainable());
        Ok(td)
    }

    /// Sets the layer name (builder form of [`Layer::set_name`]).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let td = neurite_nn::layers::TimeDistributed::new(neurite_nn::layers::Dense::new(2)).with_name("td");
    /// assert_eq!(td.name(), "td");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Declares the input shape `[steps, d...]` (without the batch axis).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let td = neurite_nn::layers::TimeDistributed::new(neurite_nn::layers::Dense::new(2)).input_shape([5, 3]);
    /// assert_eq!(td.declared_input_shape(), Some(vec![5, 3]));
    /// ```
    pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
        self.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// The wrapped layer.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let td = neurite_nn::layers::TimeDistributed::new(neurite_nn::layers::Dense::new(2));
    /// assert_eq!(td.inner().name(), "dense");
    /// ```
    pub fn inner(&self) -> &dyn Layer {
        self.layer.as_ref()
    }

    /// `(steps, d...)` split into steps and the per-step shape, or the error naming this layer.
    fn split<'a>(&self, input_shape: &'a [usize]) -> Result<(usize, &'a [usize])> {
        match input_shape {
            [steps, rest @ ..] if !rest.is_empty() && *steps > 0 => Ok((*steps, rest)),
            _ => Err(shape_error(
                &self.name,
                "(steps, d...) with steps >= 1 and at least one more axis",
                input_shape,
            )),
        }
    }
}

impl Layer for TimeDistributed {
    fn class_name(&self) -> &'static str {
        "TimeDistributed"
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
        self.layer.set_trainable(trainable);
    }

    fn config(&self) -> Value {
        let mut c = json!({"name": self.name, "layer": nested_config(self.layer.as_ref()), "trainable": self.trainable});
        if let Some(s) = &self.input_shape {
            c["input_shape"] = json!(s);
        }
        c
    }

    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.input_shape.clone()
    }

    fn parameter_shapes(&self, input_shape: &[usize]) -> Result<Option<ParameterShapes>> {
        let (_, rest) = self.split(input_shape)?;
        Ok(self
            .layer
            .parameter_shapes(rest)
            .map_err(|e| in_wrapper(&self.name, e))?
            .map(|s| prefixed_shapes(&self.name, s)))
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()> {
        let (_, rest) = self.split(input_shape)?;
        self.layer.build(rest, rng).map_err(|e| in_wrapper(&self.name, e))
    }

    fn is_built(&self) -> bool {
        self.layer.is_built()
    }

    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let (steps, rest) = self.split(input_shape)?;
        Ok([
            &[steps][..],
            &self
                .layer
                .output_shape(rest)
                .map_err(|e| in_wrapper(&self.name, e))?,
        ]
        .concat())
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let shape = x.shape();
        if shape.len() < 3 || shape[1] == 0 {
            return Err(shape_error(
                &self.name,
                "(batch, steps, d...) with steps >= 1",
                &shape,
            ));
        }
        let (n, steps) = (shape[0], shape[1]);
        let rows = checks::mul(&self.name, "batch * steps", n, steps)?;
        let merged = ops::reshape(x, &[&[rows][..], &shape[2..]].concat())?;
        let y = self
            .layer
            .forward(&merged, ctx)
            .map_err(|e| in_wrapper(&self.name, e))?;
        let ys = y.shape();
        Ok(ops::reshape(&y, &[&[n, steps][..], &ys[1..]].concat())?)
    }

    /// Keras' TimeDistributed passes the input's mask on (each step is
    /// processed on its own, so the time axis is unchanged).
    fn supports_masking(&self) -> bool {
        true
    }

    fn parameters(&self) -> Vec<Parameter> {
        prefixed(&self.name, self.layer.parameters())
    }
}
