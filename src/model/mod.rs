//! `Model`: a network plus everything needed to train it; `Sequential` is a
//! model whose network is a [`LayerStack`].

pub(crate) mod compile;
mod dtype_policy;
mod io;
pub(crate) mod stack;
pub(crate) mod sublayers;

pub use compile::{LossWeights, Losses, Metrics, PerOutput};
pub use dtype_policy::DtypePolicy;
pub use stack::LayerStack;

use crate::error::{Error, Result};
use crate::functional::Graph;
use compile::OutputSpec;
use neurite_autograd::Var;
use neurite_nn::{losses::Loss, ForwardContext, Layer, Parameter};
use neurite_optim::Optimizer;
use neurite_rand::Generator;
use neurite_tensor::Tensor;

/// The model Keras users know: layers added in order, then `compile`,
/// `fit`, `evaluate`, `predict`, `save`.
///
/// ```
/// use neurite::prelude::*;
/// let mut model = Sequential::new()
///     .add(Dense::new(8).activation(Activation::Relu).input_shape([4]))
///     .add(Dense::new(3).activation(Activation::Softmax));
/// model.compile(Adam::default(), Loss::SparseCategoricalCrossentropy { from_logits: false }, &[Metric::Accuracy])?;
/// let x = ndarray::Array2::<f32>::zeros((10, 4)).into_dyn();
/// assert_eq!(model.predict(&x)?.shape(), &[10, 3]);
/// # Ok::<(), neurite::Error>(())
/// ```
pub type Sequential = Model<LayerStack>;

/// What `compile` fixed: the optimizer, the losses and metrics as given
/// (what `save` writes), and each output's loss, weight and metrics.
pub(crate) struct Compiled {
    pub(crate) optimizer: Box<dyn Optimizer>,
    pub(crate) losses: Losses,
    pub(crate) metrics: Metrics,
    pub(crate) outputs: Vec<OutputSpec>,
}

/// A trainable network (any [`Layer`], including user-written ones) with
/// its optimizer, loss, metrics, seed and training progress.
///
/// ```
/// use neurite::prelude::*;
/// // Any Layer can be trained through the same loop:
/// let net = Dense::new(1).input_dim(2);
/// let mut model = Model::from_network(net);
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// # Ok::<(), neurite::Error>(())
/// ```
pub struct Model<N: Layer> {
    pub(crate) net: N,
    pub(crate) seed: u64,
    pub(crate) input_shape: Option<Vec<usize>>,
    /// The input shapes a network taking several inputs was built for.
    pub(crate) input_shapes: Option<Vec<Vec<usize>>>,
    pub(crate) compiled: Option<Compiled>,
    /// Epochs completed so far (where a resumed `fit` continues).
    pub(crate) epochs_done: usize,
    pub(crate) stop_training: bool,
    /// The precision `fit`, `evaluate` and `predict` compute in.
    pub(crate) dtype_policy: DtypePolicy,
    /// The network as a functional graph, for models made from one
    /// (`Model::functional_many`, `from_graph`, a loaded `Functional`): how
    /// the model finds its named inputs and outputs. `None`: one input and
    /// one output through `Layer::forward` (or a list of inputs through
    /// `forward_multi` for a network taking several).
    pub(crate) as_graph: Option<fn(&N) -> Option<&Graph>>,
}

impl Sequential {
    /// An empty sequential model (seed 0; change it with [`Model::seed`]).
    pub fn new() -> Self {
        Model::from_network(LayerStack::new())
    }

    /// Appends a layer (builder style), as Keras' `model.add(layer)`.
    #[allow(clippy::should_implement_trait)] // Keras' name; not an arithmetic `Add`.
    pub fn add(mut self, layer: impl Layer + 'static) -> Self {
        self.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer.
    pub fn push(&mut self, layer: Box<dyn Layer>) {
        self.net.push(layer);
    }

    /// The model's layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        self.net.layers()
    }

    /// Mutable access to the layers (e.g. `set_trainable(false)` to freeze one).
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        self.net.layers_mut()
    }
}

impl Default for Sequential {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: Layer> Model<N> {
    /// A model around any network, with one input and one output (a
    /// network whose `input_arity` takes a list gets one array per input, in
    /// order). For a functional [`Graph`] use [`Model::from_graph`], which
    /// knows its named inputs and outputs.
    pub fn from_network(net: N) -> Self {
        Model {
            net,
            seed: 0,
            input_shape: None,
            input_shapes: None,
            compiled: None,
            epochs_done: 0,
            stop_training: false,
            dtype_policy: DtypePolicy::Float32,
            as_graph: None,
        }
    }

    /// Sets the seed that drives weight initialisation, shuffling, dropout
    /// and augmentation (same seed on one thread -> same numbers).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the model's [`DtypePolicy`] (Keras' `dtype_policy`): `fit`,
    /// `train_on_batch`, `evaluate` and `predict` compute under it.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let model = Sequential::new().dtype_policy(neurite::DtypePolicy::MixedBfloat16);
    /// assert_eq!(model.get_dtype_policy(), neurite::DtypePolicy::MixedBfloat16);
    /// ```
    pub fn dtype_policy(mut self, policy: DtypePolicy) -> Self {
        self.dtype_policy = policy;
        self
    }

    /// Changes the [`DtypePolicy`] of a model already made (or loaded); the
    /// weights are `f32` under every policy, so nothing else changes.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new();
    /// model.set_dtype_policy(neurite::DtypePolicy::MixedBfloat16);
    /// assert_eq!(model.get_dtype_policy().compute_dtype(), "bfloat16");
    /// ```
    pub fn set_dtype_policy(&mut self, policy: DtypePolicy) {
        self.dtype_policy = policy;
    }

    /// The model's [`DtypePolicy`] (`Float32` unless set).
    ///
    /// ```
    /// assert_eq!(neurite::Sequential::new().get_dtype_policy(), neurite::DtypePolicy::Float32);
    /// ```
    pub fn get_dtype_policy(&self) -> DtypePolicy {
        self.dtype_policy
    }

    /// The model's seed.
    pub fn get_seed(&self) -> u64 {
        self.seed
    }

    /// The network.
    pub fn network(&self) -> &N {
        &self.net
    }

    /// Mutable access to the network.
    pub fn network_mut(&mut self) -> &mut N {
        &mut self.net
    }

    /// Number of epochs trained so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Builds the weights for samples of `input_shape` (without the batch axis).
    pub fn build(&mut self, input_shape: &[usize]) -> Result<()> {
        let mut rng = Generator::seed_from_u64(self.seed);
        self.net.build(input_shape, &mut rng)?;
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }

    /// Whether the weights exist.
    pub fn is_built(&self) -> bool {
        self.net.is_built()
    }

    /// The per-sample input shape, if known (declared on the first layer or from data).
    pub fn input_shape(&self) -> Option<Vec<usize>> {
        self.input_shape
            .clone()
            .or_else(|| self.net.declared_input_shape())
    }

    /// Fixes the optimizer, the loss(es) and the metrics, as Keras' `compile`.
    ///
    /// `loss` is one [`Loss`] for every output, or a [`Losses`]: one loss per
    /// output by order (`[loss_a, loss_b]`) or by output name
    /// (`[("class", loss_a), ("size", loss_b)]`), with optional
    /// [`Losses::loss_weights`]. Every output needs a loss. `metrics` is one
    /// list for every output (`&[Metric::Accuracy]`) or a [`Metrics`] per
    /// output. Training minimises `Σ weight_i · loss_i` plus the layers'
    /// penalties; logs are `loss`, and for a model with several outputs
    /// `<output>_loss` (weighted, as Keras 3) and `<output>_<metric>`.
    /// Errors name an output the model does not have, a count that does not
    /// match the outputs, a metric given twice.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([4]);
    /// let a = Dense::new(3).activation(Activation::Softmax).with_name("a").call(&x)?;
    /// let b = Dense::new(1).with_name("b").call(&x)?;
    /// let mut model = Model::functional_many(&[&x], &[&a, &b])?;
    /// model.compile(Adam::default(), [Loss::sparse_categorical_crossentropy(), Loss::MeanSquaredError], &[])?;
    /// let bad = model.compile(Adam::default(), [("a", Loss::MeanSquaredError), ("c", Loss::Hinge)], &[]);
    /// assert!(bad.unwrap_err().to_string().contains("\"c\""));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn compile(
        &mut self,
        optimizer: impl Optimizer + 'static,
        loss: impl Into<Losses>,
        metrics: impl Into<Metrics>,
    ) -> Result<()> {
        self.compile_boxed(Box::new(optimizer), loss, metrics)
    }

    /// [`Model::compile`] with an optimizer chosen at run time.
    pub fn compile_boxed(
        &mut self,
        optimizer: Box<dyn Optimizer>,
        loss: impl Into<Losses>,
        metrics: impl Into<Metrics>,
    ) -> Result<()> {
        let (losses, metrics) = (loss.into(), metrics.into());
        let outputs = compile::resolve(&self.output_keys(), &losses, &metrics)?;
        // As Keras: a model whose first layer declares its input shape is built now.
        self.build_if_declared()?;
        self.compiled = Some(Compiled {
            optimizer,
            losses,
            metrics,
            outputs,
        });
        Ok(())
    }

    pub(crate) fn compiled(&self) -> Result<&Compiled> {
        self.compiled.as_ref().ok_or(Error::NotCompiled)
    }

    pub(crate) fn compiled_mut(&mut self) -> Result<&mut Compiled> {
        self.compiled.as_mut().ok_or(Error::NotCompiled)
    }

    /// The optimizer given to `compile`, if compiled.
    pub fn optimizer(&self) -> Option<&dyn Optimizer> {
        self.compiled.as_ref().map(|c| c.optimizer.as_ref())
    }

    /// Mutable access to the optimizer (e.g. to change its learning rate).
    pub fn optimizer_mut(&mut self) -> Option<&mut (dyn Optimizer + 'static)> {
        self.compiled.as_mut().map(|c| c.optimizer.as_mut())
    }

    /// The loss of the (first) output, if compiled.
    pub fn loss(&self) -> Option<&Loss> {
        self.compiled
            .as_ref()
            .and_then(|c| c.outputs.first())
            .map(|o| &o.loss)
    }

    /// The losses given to `compile` (per output, with the loss weights), if compiled.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
    /// assert_eq!(model.losses(), Some(&Losses::from(Loss::MeanSquaredError)));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn losses(&self) -> Option<&Losses> {
        self.compiled.as_ref().map(|c| &c.losses)
    }

    /// All variables of the network with their full names.
    pub fn parameters(&self) -> Vec<Parameter> {
        self.net.parameters()
    }

    /// Freezes (`false`) or unfreezes the layer at `path`: a layer's name
    /// (`dense_1`), or a path of names separated by `/` to a layer inside a
    /// block or a nested model (`residual_block_1/conv2d_1`), as in the
    /// parameter names. Keras' `model.get_layer(name).trainable = False`,
    /// PyTorch's `model.get_submodule(path).requires_grad_(False)`. Frozen
    /// layers stay frozen through `save`/`load`; `fit` trains only the
    /// trainable weights (as Keras after `compile`, no recompiling needed).
    /// An unknown name is an error listing the names there are.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(4).input_dim(3)).add(Dense::new(1));
    /// model.build(&[3])?;
    /// model.set_layer_trainable("dense_1", false)?;
    /// assert_eq!(model.count_params(), (5, 16));
    /// let err = model.set_layer_trainable("dense_9", false).unwrap_err();
    /// assert!(err.to_string().contains("dense_9") && err.to_string().contains("dense_2"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn set_layer_trainable(&mut self, path: &str, trainable: bool) -> Result<()> {
        self.net.set_sublayer_trainable(path, trainable)?;
        Ok(())
    }

    /// Number of scalar weights: (trainable, non-trainable).
    pub fn count_params(&self) -> (usize, usize) {
        self.parameters().iter().fold((0, 0), |(t, n), p| {
            if p.trainable {
                (t + p.var.len(), n)
            } else {
                (t, n + p.var.len())
            }
        })
    }

    /// A copy of every variable's value, in Keras' order (Keras'
    /// `model.get_weights()`): each layer's [`Layer::get_weights`], layer by
    /// layer in the model's order.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new()
    ///     .add(Dense::new(4).input_dim(3))
    ///     .add(BatchNormalization::new());
    /// model.build(&[3])?;
    /// let shapes: Vec<Vec<usize>> = model.get_weights().iter().map(|w| w.shape().to_vec()).collect();
    /// // kernel, bias, gamma, beta, moving_mean, moving_variance
    /// assert_eq!(shapes, [vec![3, 4], vec![4], vec![4], vec![4], vec![4], vec![4]]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn get_weights(&self) -> Vec<Tensor> {
        self.net.get_weights()
    }

    /// Sets every variable from `weights`, one array per variable in the
    /// order of [`Model::get_weights`] (Keras' `model.set_weights`). A count
    /// or shape that differs is an error naming the layer's weight and the
    /// expected and found count or shape; nothing changes then.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// let mut w = model.get_weights();
    /// w[1].fill(1.0);
    /// model.set_weights(&w)?;
    /// assert_eq!(model.get_weights()[1][[0]], 1.0);
    /// let e = model.set_weights(&w[..1]).unwrap_err().to_string();
    /// assert!(e.contains("given 1 array") && e.contains("has 2 weights"), "{e}");
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn set_weights(&mut self, weights: &[Tensor]) -> Result<()> {
        Ok(self.net.set_weights(weights)?)
    }

    /// A copy of every variable's value with its full name
    /// (`dense_1.kernel`), in the order of [`Model::get_weights`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3).with_name("d"));
    /// model.build(&[3])?;
    /// assert_eq!(model.get_weights_by_name()[0].0, "d.kernel");
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn get_weights_by_name(&self) -> Vec<(String, Tensor)> {
        self.net.get_weights_by_name()
    }

    /// Sets variables by name from `weights` (as returned by
    /// [`Model::get_weights_by_name`], in any order). Every variable of the
    /// model must be given once, with its shape, and nothing else (as Keras
    /// refuses a weight list of the wrong length); nothing changes when
    /// anything is wrong.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
    /// model.build(&[3])?;
    /// let mut w = model.get_weights_by_name();
    /// model.set_weights_by_name(&w)?;
    /// w.push(("stowaway".into(), w[0].1.clone()));
    /// assert!(model.set_weights_by_name(&w).unwrap_err().to_string().contains("stowaway"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn set_weights_by_name(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        Ok(self.net.set_weights_by_name(weights)?)
    }

    /// Forward pass of the network on a batch, recording the graph unless
    /// under `no_grad` (for custom training loops). One input and one
    /// output; for several use [`Model::forward_many`].
    pub fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> Result<Var> {
        let mut outs = self.forward_many(std::slice::from_ref(x), ctx)?;
        if outs.len() != 1 {
            return Err(Error::Model(format!(
                "forward: the model has {} outputs {:?}; use forward_many",
                outs.len(),
                self.output_names()
            )));
        }
        Ok(outs.remove(0))
    }

    /// Asks a running `fit` to stop after the current epoch (what callbacks call).
    pub fn stop_training(&mut self) {
        self.stop_training = true;
    }
}

impl<N: Layer> std::fmt::Debug for Model<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("network", &self.net.name())
            .field("class_name", &self.net.class_name())
            .field("built", &self.net.is_built())
            .field("compiled", &self.compiled.is_some())
            .field("seed", &self.seed)
            .field("epochs_done", &self.epochs_done)
            .finish()
    }
}
