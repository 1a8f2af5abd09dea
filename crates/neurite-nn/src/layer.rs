//! The `Layer` trait: what every layer (built-in or user-written) provides.

use crate::context::ForwardContext;
use crate::error::Result;
use neurite_autograd::Var;
use neurite_rand::Generator;

/// The full names and shapes of a layer's variables, in `parameters()` order
/// (what [`Layer::parameter_shapes`] returns).
///
/// ```
/// let shapes: neurite_nn::layer::ParameterShapes = vec![("dense.bias".to_string(), vec![4])];
/// assert_eq!(shapes[0].1, vec![4]);
/// ```
pub type ParameterShapes = Vec<(String, Vec<usize>)>;

/// How many inputs a layer takes when called ([`Layer::input_arity`]):
/// Keras calls a layer on one tensor or on a list of tensors.
///
/// ```
/// use neurite_nn::layer::InputArity;
/// assert!(InputArity::One.accepts(1) && !InputArity::One.accepts(2));
/// assert!(InputArity::AtLeast(2).accepts(5) && !InputArity::AtLeast(2).accepts(1));
/// assert!(InputArity::Exactly(2).accepts(2) && !InputArity::Exactly(2).accepts(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputArity {
    /// One tensor (every single-input layer).
    One,
    /// A list of at least this many tensors (Add, Concatenate, ...).
    AtLeast(usize),
    /// A list of exactly this many tensors (Subtract, Dot).
    Exactly(usize),
}

impl InputArity {
    /// Whether a call with `count` inputs is allowed.
    ///
    /// ```
    /// assert!(neurite_nn::layer::InputArity::AtLeast(1).accepts(1));
    /// ```
    pub fn accepts(self, count: usize) -> bool {
        match self {
            InputArity::One => count == 1,
            InputArity::AtLeast(n) => count >= n,
            InputArity::Exactly(n) => count == n,
        }
    }
}

impl std::fmt::Display for InputArity {
    /// `one tensor`, `a list of 2 or more inputs`, `a list of exactly 2 inputs`.
    ///
    /// ```
    /// assert_eq!(neurite_nn::layer::InputArity::AtLeast(2).to_string(), "a list of 2 or more inputs");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputArity::One => write!(f, "one tensor"),
            InputArity::AtLeast(n) => write!(f, "a list of {n} or more inputs"),
            InputArity::Exactly(n) => write!(f, "a list of exactly {n} inputs"),
        }
    }
}

/// The error of a layer called with `count` inputs when it takes `arity`.
fn arity_error(layer: &str, arity: InputArity, count: usize) -> crate::NnError {
    crate::NnError::Config {
        layer: layer.to_string(),
        message: format!(
            "takes {arity}, got {}",
            match count {
                1 => "one tensor".to_string(),
                n => format!("a list of {n} inputs"),
            }
        ),
    }
}

/// The single item of `items`, or the arity error of `layer`.
fn single<'a, T>(layer: &str, arity: InputArity, items: &'a [T]) -> Result<&'a T> {
    match items {
        [one] => Ok(one),
        _ => Err(arity_error(layer, arity, items.len())),
    }
}

/// A named variable of a layer: a trainable weight (`dense_1.kernel`) or
/// non-trainable state (`batch_normalization_1.moving_mean`).
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Full name, `<layer name>.<variable name>`; the key in saved weight files.
    pub name: String,
    /// The variable itself (shared with the layer: updating it updates the layer).
    pub var: Var,
    /// Whether optimizers update it.
    pub trainable: bool,
}

/// A layer of a model, with Keras' life cycle: configured by its
/// constructor, built lazily from the input shape ([`Layer::build`] creates
/// the weights), then called on batches ([`Layer::forward`]).
///
/// Shapes given to `build` and `output_shape` exclude the batch axis, as
/// Keras' `input_shape`; the `Var` given to `forward` includes it.
///
/// Users implement this trait for their own layers; see `docs/guide.md`.
pub trait Layer: Send + Sync {
    /// Keras class name, e.g. `"Dense"`; the key used to rebuild the layer from its config.
    fn class_name(&self) -> &'static str;

    /// The layer's name, unique within a model (`dense_1`); prefixes its parameter names.
    fn name(&self) -> &str;

    /// Renames the layer (models give unnamed layers a unique name when they are added).
    fn set_name(&mut self, name: String);

    /// Creates the weights for inputs of `input_shape` (without the batch
    /// axis), drawing initial values from `rng`. Errors name the layer and
    /// the shape when the layer cannot take such inputs.
    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> Result<()>;

    /// The full names and shapes of the variables `build(input_shape)` would create, exactly as
    /// `parameters()` would list them afterwards (same order), computed without allocating any weight.
    /// `Ok(None)` (the default) means the layer does not say; loaders then cannot check a weights file
    /// against the config before building.
    ///
    /// Every built-in layer says (layers without weights give `Ok(Some(vec![]))`), and returns the
    /// errors `build` would give for a bad configuration or input shape, whether or not it is built.
    ///
    /// ```
    /// use neurite_nn::layers::{Dense, Flatten};
    /// use neurite_nn::Layer;
    /// let d = Dense::new(4).with_name("dense_1");
    /// let shapes = d.parameter_shapes(&[3])?.expect("Dense says");
    /// assert_eq!(shapes, vec![("dense_1.kernel".to_string(), vec![3, 4]), ("dense_1.bias".to_string(), vec![4])]);
    /// assert!(d.parameter_shapes(&[0]).is_err()); // as build(&[0]) would
    /// assert_eq!(Flatten::new().parameter_shapes(&[2, 3])?, Some(vec![]));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn parameter_shapes(&self, input_shape: &[usize]) -> Result<Option<ParameterShapes>> {
        let _ = input_shape;
        Ok(None)
    }

    /// Whether [`Layer::build`] has run.
    fn is_built(&self) -> bool;

    /// The output shape (without the batch axis) for inputs of `input_shape`, computed without data.
    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>>;

    /// The forward pass on a batch `x` (batch axis first), recording the
    /// graph unless under `no_grad`. Penalties go to `ctx.add_loss`.
    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var>;

    /// All variables of the layer, trainable or not, with full names.
    /// Empty before `build`.
    fn parameters(&self) -> Vec<Parameter>;

    /// A copy of the value of every variable, in Keras' order (Keras'
    /// `layer.get_weights()`): the order of [`Layer::parameters`], which for
    /// every built-in layer is Keras 3's `layer.weights` (trainable variables
    /// first, then the non-trainable ones such as BatchNormalization's moving
    /// statistics; a container lists its sublayers' weights in their order).
    /// Empty before `build`.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut bn = neurite_nn::layers::BatchNormalization::new();
    /// bn.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let w = bn.get_weights(); // gamma, beta, moving_mean, moving_variance
    /// assert_eq!((w.len(), w[0][[0]], w[3][[0]]), (4, 1.0, 1.0));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn get_weights(&self) -> Vec<neurite_tensor::Tensor> {
        crate::weights::values(&self.parameters())
    }

    /// Sets every variable from `weights`, one array per variable in the order
    /// of [`Layer::get_weights`] (Keras' `layer.set_weights`; values are
    /// copied). A count or a shape that differs is an error naming the layer,
    /// the weight and the expected and found count or shape; nothing changes
    /// then.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut bn = neurite_nn::layers::BatchNormalization::new().with_name("bn");
    /// bn.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let mut w = bn.get_weights();
    /// w[2].fill(0.25); // the moving mean
    /// bn.set_weights(&w)?;
    /// assert_eq!(bn.get_weights()[2][[1]], 0.25);
    /// w[3] = ndarray::Array1::<f32>::ones(4).into_dyn();
    /// let e = bn.set_weights(&w).unwrap_err().to_string();
    /// assert!(e.contains("bn.moving_variance") && e.contains("[3]") && e.contains("[4]"), "{e}");
    /// assert_eq!(bn.get_weights()[2][[1]], 0.25); // unchanged by the refused call
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn set_weights(&mut self, weights: &[neurite_tensor::Tensor]) -> Result<()> {
        crate::weights::assign(self.name(), &self.parameters(), weights)
    }

    /// A copy of every variable's value with its full name
    /// (`dense_1.kernel`), in the order of [`Layer::get_weights`].
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2).with_name("d");
    /// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// assert_eq!(d.get_weights_by_name()[1].0, "d.bias");
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn get_weights_by_name(&self) -> Vec<(String, neurite_tensor::Tensor)> {
        crate::weights::named_values(&self.parameters())
    }

    /// Sets the variables by full name, in any order (as
    /// [`Layer::get_weights_by_name`] returns them): every variable given
    /// once with its shape, and nothing else; nothing changes on an error.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2).with_name("d");
    /// d.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let mut w = d.get_weights_by_name();
    /// w.swap(0, 1);
    /// d.set_weights_by_name(&w)?;
    /// assert!(d.set_weights_by_name(&w[..1]).unwrap_err().to_string().contains("d.kernel"));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn set_weights_by_name(&mut self, weights: &[(String, neurite_tensor::Tensor)]) -> Result<()> {
        crate::weights::assign_by_name(self.name(), &self.parameters(), weights)
    }

    /// Whether the layer's weights are updated by training (Keras' `trainable`).
    fn trainable(&self) -> bool;

    /// Freezes (`false`) or unfreezes the layer's weights.
    fn set_trainable(&mut self, trainable: bool);

    /// Freezes (`false`) or unfreezes one layer inside this one, found by
    /// its path of names separated by `/` (as in parameter names:
    /// `residual_block_1/conv2d_1`), for layers made of layers (models,
    /// blocks); PyTorch's `get_submodule(path).requires_grad_(flag)`. A
    /// layer with no sub-layers (this default) refuses every path, naming
    /// itself and the path.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2).with_name("d");
    /// let err = d.set_sublayer_trainable("inner", false).unwrap_err();
    /// assert!(err.to_string().contains("d") && err.to_string().contains("inner"));
    /// ```
    fn set_sublayer_trainable(&mut self, path: &str, trainable: bool) -> Result<()> {
        let _ = trainable;
        Err(crate::NnError::Config {
            layer: self.name().to_string(),
            message: format!(
                "has no sub-layer `{path}` (a {} is not made of other layers)",
                self.class_name()
            ),
        })
    }

    /// Paths (names separated by `/`) of the frozen layers inside this one,
    /// at any depth, in layer order: what a layer made of layers saves so
    /// that its sub-layers stay frozen after loading. Empty (the default)
    /// for a layer with no sub-layers.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert!(neurite_nn::layers::Dense::new(2).frozen_sublayers().is_empty());
    /// ```
    fn frozen_sublayers(&self) -> Vec<String> {
        Vec::new()
    }

    /// The layer's configuration (Keras-like keys), enough to rebuild it with
    /// [`crate::layer_from_config`].
    fn config(&self) -> serde_json::Value;

    /// The input shape declared on the layer (Keras' `input_shape=` /
    /// `input_dim=` on a model's first layer), if any.
    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        None
    }

    /// This layer and `next` run as one fused node on `x`, when the layer
    /// has such a kernel for that pair (e.g. `Conv2D(relu)` followed by
    /// `MaxPooling2D`, in training and in inference, see
    /// [`crate::layers::Conv2D`]). `None` (the default) means "call the two
    /// `forward`s"; containers such as a model's layer stack ask every
    /// adjacent pair. A fused result, its gradients and the losses it adds
    /// to `ctx` equal those of `next.forward(self.forward(x))` up to f32
    /// rounding.
    ///
    /// ```
    /// use neurite_nn::layers::{Conv2D, Dense, MaxPooling2D};
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut conv = Conv2D::new(4, (3, 3)).activation(neurite_nn::Activation::Relu);
    /// conv.build(&[6, 6, 1], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let x = neurite_autograd::Var::constant(ndarray::Array4::<f32>::ones((2, 6, 6, 1)).into_dyn());
    /// let pool = MaxPooling2D::new((2, 2));
    /// let fused = neurite_autograd::no_grad(|| conv.forward_fused(&pool, &x, &mut ForwardContext::inference()));
    /// assert_eq!(fused.unwrap()?.shape(), vec![2, 2, 2, 4]);
    /// // No fused kernel for Conv2D followed by Dense.
    /// assert!(conv.forward_fused(&Dense::new(3), &x, &mut ForwardContext::inference()).is_none());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_fused(&self, next: &dyn Layer, x: &Var, ctx: &mut ForwardContext) -> Option<Result<Var>> {
        let _ = (next, x, ctx);
        None
    }

    /// [`Layer::forward_fused`] over a run of layers: `next` are the layers
    /// after this one in a chain (each the only reader of the one before),
    /// and the layer may run as many of them as it has a fused kernel for.
    /// Returns how many of `next` it ran (at least 1) with the output of the
    /// last, or `None` to run alone. The default fuses with `next[0]` through
    /// [`Layer::forward_fused`]; `Conv2D` also folds an inference
    /// `BatchNormalization` and a `ReLU` after it into its own pass.
    ///
    /// ```
    /// use neurite_nn::layers::{BatchNormalization, Conv2D, ReLU};
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut rng = neurite_tensor::random::rng_from_seed(0);
    /// let mut conv = Conv2D::new(4, (3, 3));
    /// conv.build(&[6, 6, 2], &mut rng)?;
    /// let mut bn = BatchNormalization::new();
    /// bn.build(&[4, 4, 4], &mut rng)?;
    /// let relu = ReLU::new();
    /// let x = neurite_autograd::Var::constant(ndarray::Array4::<f32>::ones((2, 6, 6, 2)).into_dyn());
    /// let (ran, y) = neurite_autograd::no_grad(|| conv.forward_fused_chain(&[&bn, &relu], &x, &mut ForwardContext::inference()))
    ///     .expect("conv + batch norm + relu fold in inference");
    /// assert_eq!((ran, y?.shape()), (2, vec![2, 4, 4, 4]));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_fused_chain(
        &self,
        next: &[&dyn Layer],
        x: &Var,
        ctx: &mut ForwardContext,
    ) -> Option<(usize, Result<Var>)> {
        let first = next.first()?;
        self.forward_fused(*first, x, ctx).map(|out| (1, out))
    }

    /// For a layer that, in inference, multiplies each channel of the last
    /// axis by a constant and adds another (`BatchNormalization` with its
    /// moving statistics), those `(scale, shift)`, so that the layer before
    /// can fold it into its own weights ([`Layer::forward_fused_chain`]);
    /// `None` (the default) for every other layer, or when not built.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut bn = neurite_nn::layers::BatchNormalization::new();
    /// bn.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let (scale, shift) = bn.inference_affine().unwrap();
    /// assert_eq!((scale.len(), shift[0]), (3, 0.0)); // gamma 1 / sqrt(1 + eps), beta 0 - mean 0
    /// assert!(neurite_nn::layers::Dense::new(2).inference_affine().is_none());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn inference_affine(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        None
    }

    /// Whether this layer is a plain `ReLU` (`max(x, 0)`: no slope, threshold
    /// or cap), which the layer before may apply in its own pass.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert!(neurite_nn::layers::ReLU::new().is_plain_relu());
    /// assert!(!neurite_nn::layers::ReLU::new().max_value(6.0).is_plain_relu());
    /// ```
    fn is_plain_relu(&self) -> bool {
        if self.class_name() != "ReLU" {
            return false;
        }
        let cfg = self.config();
        let zero = |key: &str| cfg.get(key).and_then(serde_json::Value::as_f64) == Some(0.0);
        cfg.get("max_value").is_some_and(serde_json::Value::is_null)
            && zero("negative_slope")
            && zero("threshold")
    }

    /// [`Layer::forward_fused`] for a layer with several inputs (`Add`
    /// followed by a `ReLU`); `None` (the default) runs it alone.
    ///
    /// ```
    /// use neurite_nn::layers::{Add, ReLU};
    /// use neurite_nn::{ForwardContext, Layer};
    /// let xs = [neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, -3.0])), neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 1.0]))];
    /// let y = Add::new().forward_multi_fused(&ReLU::new(), &xs, &mut ForwardContext::inference()).unwrap()?;
    /// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![2.0, 0.0]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_multi_fused(
        &self,
        next: &dyn Layer,
        xs: &[Var],
        ctx: &mut ForwardContext,
    ) -> Option<Result<Var>> {
        let _ = (next, xs, ctx);
        None
    }

    /// For a max-pooling layer, its pooling parameters, so that the layer
    /// before it can fuse the pooling into its own pass
    /// ([`Layer::forward_fused`]); `None` (the default) for every other layer.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let p = neurite_nn::layers::MaxPooling2D::new((2, 2));
    /// assert_eq!(p.max_pool_params().unwrap().pool_size, (2, 2));
    /// assert!(neurite_nn::layers::AveragePooling2D::new((2, 2)).max_pool_params().is_none());
    /// ```
    fn max_pool_params(&self) -> Option<neurite_tensor::Pool2dParams> {
        None
    }

    /// How many inputs the layer takes when called (Keras: a tensor or a
    /// list of tensors). [`InputArity::One`] (the default) for single-input
    /// layers; merge layers (Add, Concatenate, Dot, ...) take lists and
    /// implement the `_multi` methods below, which graphs always call.
    ///
    /// ```
    /// use neurite_nn::layer::InputArity;
    /// use neurite_nn::Layer;
    /// assert_eq!(neurite_nn::layers::Dense::new(2).input_arity(), InputArity::One);
    /// ```
    fn input_arity(&self) -> InputArity {
        InputArity::One
    }

    /// [`Layer::build`] for a call on several inputs (shapes without the
    /// batch axis). The default takes exactly one shape and calls `build`;
    /// any other count is an error naming the layer and the count.
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let mut d = neurite_nn::layers::Dense::new(2);
    /// let mut rng = neurite_tensor::random::rng_from_seed(0);
    /// assert!(d.build_multi(&[vec![3], vec![3]], &mut rng).is_err());
    /// d.build_multi(&[vec![3]], &mut rng)?;
    /// assert!(d.is_built());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn build_multi(&mut self, input_shapes: &[Vec<usize>], rng: &mut Generator) -> Result<()> {
        let shape = single(self.name(), self.input_arity(), input_shapes)?.clone();
        self.build(&shape, rng)
    }

    /// [`Layer::output_shape`] for several inputs; the default takes
    /// exactly one shape (else an error naming the layer and the count).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let f = neurite_nn::layers::Flatten::new();
    /// assert_eq!(f.output_shape_multi(&[vec![2, 3]])?, vec![6]);
    /// let e = f.output_shape_multi(&[vec![2], vec![2]]).unwrap_err().to_string();
    /// assert!(e.contains("flatten") && e.contains("2 inputs"), "{e}");
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn output_shape_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
        self.output_shape(single(self.name(), self.input_arity(), input_shapes)?)
    }

    /// [`Layer::parameter_shapes`] for several inputs; the default takes
    /// exactly one shape (else an error naming the layer and the count).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// let d = neurite_nn::layers::Dense::new(2).with_name("d");
    /// assert_eq!(d.parameter_shapes_multi(&[vec![3]])?.unwrap()[0].1, vec![3, 2]);
    /// assert!(d.parameter_shapes_multi(&[]).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn parameter_shapes_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Option<ParameterShapes>> {
        self.parameter_shapes(single(self.name(), self.input_arity(), input_shapes)?)
    }

    /// [`Layer::forward`] on several inputs (each with its batch axis); the
    /// default takes exactly one (else an error naming the layer and the count).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let f = neurite_nn::layers::Flatten::new();
    /// let x = Var::from_array(ndarray::Array3::<f32>::zeros((2, 3, 4)));
    /// assert_eq!(f.forward_multi(&[x.clone()], &mut ForwardContext::inference())?.shape(), vec![2, 12]);
    /// assert!(f.forward_multi(&[x.clone(), x], &mut ForwardContext::inference()).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_multi(&self, xs: &[Var], ctx: &mut ForwardContext) -> Result<Var> {
        self.forward(single(self.name(), self.input_arity(), xs)?, ctx)
    }

    /// Whether the layer passes a mask on (Keras' `supports_masking`): `false`
    /// (the default) drops the mask of its input, as Keras does for layers that
    /// do not support masking (Conv1D, Flatten, the 1-d poolings, ...); `true`
    /// makes the default [`Layer::compute_mask`] return the input's mask
    /// unchanged (Dense, Activation, Dropout, LayerNormalization, ...).
    ///
    /// ```
    /// use neurite_nn::Layer;
    /// assert!(neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Relu).supports_masking());
    /// assert!(!neurite_nn::layers::Flatten::new().supports_masking());
    /// ```
    fn supports_masking(&self) -> bool {
        false
    }

    /// The mask of the output for the input `x` and its mask `mask` (Keras'
    /// `compute_mask(inputs, previous_mask)`); masks are `(batch, timesteps)`
    /// 0/1 tensors ([`crate::mask`]). The default returns `mask` when
    /// [`Layer::supports_masking`], else `None`; producers (Embedding with
    /// `mask_zero`, Masking) and layers that change the time axis override it.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::Layer;
    /// let m = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 2, 3)));
    /// let relu = neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Relu);
    /// assert_eq!(relu.compute_mask(&x, Some(&m))?, Some(m.clone()));
    /// assert_eq!(neurite_nn::layers::Flatten::new().compute_mask(&x, Some(&m))?, None);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn compute_mask(&self, x: &Var, mask: Option<&crate::mask::Mask>) -> Result<Option<crate::mask::Mask>> {
        let _ = x;
        Ok(if self.supports_masking() {
            mask.cloned()
        } else {
            None
        })
    }

    /// [`Layer::forward`] with the input's mask, returning the output and its
    /// mask (what containers call; Keras passes `mask=` to `call` and sets the
    /// output's `_keras_mask`). The default checks the mask's shape (when the
    /// layer supports masking; a mask that is not `(batch, timesteps)` of `x`
    /// is an error naming the layer and both shapes), runs `forward` and then
    /// [`Layer::compute_mask`]; layers whose result depends on the mask
    /// (recurrent layers, attention, average pooling) override it. With no
    /// mask and no producer it costs nothing beyond `forward`.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let mut e = neurite_nn::layers::Embedding::new(5, 2).mask_zero(true);
    /// e.build(&[3], &mut neurite_tensor::random::rng_from_seed(0))?;
    /// let ids = Var::from_array(ndarray::arr2(&[[4.0f32, 2.0, 0.0]]));
    /// let (y, mask) = e.forward_masked(&ids, None, &mut ForwardContext::inference())?;
    /// assert_eq!(y.shape(), vec![1, 3, 2]);
    /// assert_eq!(mask, Some(ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn()));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_masked(
        &self,
        x: &Var,
        mask: Option<&crate::mask::Mask>,
        ctx: &mut ForwardContext,
    ) -> Result<crate::mask::Masked> {
        if self.supports_masking() {
            crate::mask::check_optional_mask(self.name(), &x.shape(), mask)?;
        }
        let y = self.forward(x, ctx)?;
        let out_mask = self.compute_mask(x, mask)?;
        Ok((y, out_mask))
    }

    /// [`Layer::compute_mask`] for a call on several inputs, one mask (or
    /// `None`) per input. The default, for a single input, is
    /// `compute_mask`; for several, the first input's mask when the layer
    /// [`Layer::supports_masking`] (Keras keeps the first argument's mask),
    /// else `None`. Merge layers combine the masks as Keras (logical OR).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::Layer;
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 2, 3)));
    /// let a = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
    /// let b = ndarray::arr2(&[[0.0f32, 0.0]]).into_dyn();
    /// let add = neurite_nn::layers::Add::new();
    /// let m = add.compute_mask_multi(&[x.clone(), x], &[Some(a.clone()), Some(b)])?;
    /// assert_eq!(m, Some(a));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn compute_mask_multi(
        &self,
        xs: &[Var],
        masks: &[Option<crate::mask::Mask>],
    ) -> Result<Option<crate::mask::Mask>> {
        if let ([x], [m]) = (xs, masks) {
            if self.input_arity() == InputArity::One {
                return self.compute_mask(x, m.as_ref());
            }
        }
        Ok(if self.supports_masking() {
            masks.first().cloned().flatten()
        } else {
            None
        })
    }

    /// [`Layer::forward_multi`] with one mask (or `None`) per input,
    /// returning the output and its mask; what functional graphs call. The
    /// default runs [`Layer::forward_masked`] for a single-input layer and
    /// `forward_multi` + [`Layer::compute_mask_multi`] otherwise; a count of
    /// masks other than the count of inputs is an error naming the layer.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let x = Var::from_array(ndarray::Array3::<f32>::ones((1, 2, 3)));
    /// let m = ndarray::arr2(&[[1.0f32, 0.0]]).into_dyn();
    /// let relu = neurite_nn::layers::ActivationLayer::new(neurite_nn::Activation::Relu);
    /// let (_, out) = relu.forward_multi_masked(&[x.clone()], &[Some(m.clone())], &mut ForwardContext::inference())?;
    /// assert_eq!(out, Some(m.clone()));
    /// assert!(relu.forward_multi_masked(&[x], &[], &mut ForwardContext::inference()).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    fn forward_multi_masked(
        &self,
        xs: &[Var],
        masks: &[Option<crate::mask::Mask>],
        ctx: &mut ForwardContext,
    ) -> Result<crate::mask::Masked> {
        if masks.len() != xs.len() {
            return Err(crate::NnError::Config {
                layer: self.name().to_string(),
                message: format!("{} inputs were given with {} masks", xs.len(), masks.len()),
            });
        }
        if let ([x], [m]) = (xs, masks) {
            if self.input_arity() == InputArity::One {
                return self.forward_masked(x, m.as_ref(), ctx);
            }
        }
        if self.supports_masking() {
            for (x, m) in xs.iter().zip(masks) {
                crate::mask::check_optional_mask(self.name(), &x.shape(), m.as_ref())?;
            }
        }
        let y = self.forward_multi(xs, ctx)?;
        let out_mask = self.compute_mask_multi(xs, masks)?;
        Ok((y, out_mask))
    }
}

/// The error a multi-input layer returns from the single-input methods
/// (`build`, `output_shape`, `forward`, ...): "Add takes a list of 2 or
/// more inputs, got one tensor". For implementors of merge-like layers.
///
/// ```
/// use neurite_nn::layer::{single_input_error, InputArity};
/// let e = single_input_error("add_1", "Add", InputArity::AtLeast(2)).to_string();
/// assert!(e.contains("add_1") && e.contains("Add takes a list of 2 or more inputs, got one tensor"), "{e}");
/// ```
pub fn single_input_error(layer: &str, class_name: &str, arity: InputArity) -> crate::NnError {
    crate::NnError::Config {
        layer: layer.to_string(),
        message: format!("{class_name} takes {arity}, got one tensor"),
    }
}
