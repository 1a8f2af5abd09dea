//! Symbolic tensors: what calling a layer on an [`Input`] records.

use neurite_nn::layer::InputArity;
use neurite_nn::{Layer, NnError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Unique ids of symbolic tensors (identity within a process).
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A tensor of a functional model under construction, known by its shape
/// (without the batch axis) and by how it is computed: an [`Input`], or a
/// layer called on other symbolic tensors (Keras' `KerasTensor`). Cheap to
/// clone; the graph it belongs to becomes a model with
/// [`crate::Model::functional`].
///
/// ```
/// use neurite::prelude::*;
/// let x = Input::new([4]);
/// let h = Dense::new(8).call(&x)?;
/// assert_eq!(h.shape(), &[8]);
/// assert!(x.is_input() && !h.is_input());
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone)]
pub struct SymbolicTensor(pub(crate) Arc<TensorNode>);

pub(crate) struct TensorNode {
    pub(crate) id: usize,
    pub(crate) shape: Vec<usize>,
    pub(crate) source: Source,
}

/// How a symbolic tensor is computed.
pub(crate) enum Source {
    /// A model input of this name.
    Input { name: String },
    /// `layer` called on `inputs` (in order).
    Call {
        layer: SharedLayer,
        inputs: Vec<SymbolicTensor>,
    },
}

impl SymbolicTensor {
    fn new(shape: Vec<usize>, source: Source) -> Self {
        SymbolicTensor(Arc::new(TensorNode {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape,
            source,
        }))
    }

    /// The shape of one sample (no batch axis).
    ///
    /// ```
    /// assert_eq!(neurite::functional::Input::new([28, 28, 1]).shape(), &[28, 28, 1]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Whether this is a model input (made by [`Input`]).
    ///
    /// ```
    /// assert!(neurite::functional::Input::new([3]).is_input());
    /// ```
    pub fn is_input(&self) -> bool {
        matches!(self.0.source, Source::Input { .. })
    }

    /// The input's name for an input, else the name of the layer that made it.
    ///
    /// ```
    /// use neurite::functional::Input;
    /// assert_eq!(Input::named("pixels", [3]).name(), "pixels");
    /// ```
    pub fn name(&self) -> String {
        match &self.0.source {
            Source::Input { name } => name.clone(),
            Source::Call { layer, .. } => layer.name(),
        }
    }

    pub(crate) fn id(&self) -> usize {
        self.0.id
    }
}

impl std::fmt::Debug for SymbolicTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SymbolicTensor({:?}, shape {:?})", self.name(), self.shape())
    }
}

/// The inputs of a functional model (Keras' `keras.Input`).
///
/// ```
/// use neurite::functional::Input;
/// let x = Input::new([28, 28, 1]);
/// assert_eq!(x.name(), "input_layer");
/// assert!(Input::try_new([0, 3]).is_err());
/// ```
pub struct Input;

impl Input {
    /// An input of samples of `shape` (no batch axis), named `input_layer`
    /// (models rename repeated default names `input_layer_1`, ...).
    ///
    /// Panics if a size is 0 or the shape is empty; [`Input::try_new`] returns an error instead.
    ///
    /// ```
    /// assert_eq!(neurite::functional::Input::new([10]).shape(), &[10]);
    /// ```
    // Keras' `Input(shape)` gives the input's symbolic tensor, not an `Input`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(shape: impl AsRef<[usize]>) -> SymbolicTensor {
        Self::try_new(shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Input::new`], or an error for an empty shape, a size of 0 or a
    /// sample too large to allocate.
    ///
    /// ```
    /// assert!(neurite::functional::Input::try_new([usize::MAX, 4]).is_err());
    /// ```
    pub fn try_new(shape: impl AsRef<[usize]>) -> crate::Result<SymbolicTensor> {
        Self::try_named("input_layer", shape)
    }

    /// An input with its own name (the key of its array when a model has
    /// several inputs). Panics as [`Input::new`].
    ///
    /// ```
    /// assert_eq!(neurite::functional::Input::named("title", [20]).name(), "title");
    /// ```
    pub fn named(name: &str, shape: impl AsRef<[usize]>) -> SymbolicTensor {
        Self::try_named(name, shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Input::named`], returning an error instead of panicking.
    ///
    /// ```
    /// assert!(neurite::functional::Input::try_named("x", []).is_err());
    /// ```
    pub fn try_named(name: &str, shape: impl AsRef<[usize]>) -> crate::Result<SymbolicTensor> {
        let shape = shape.as_ref().to_vec();
        let bad = |why: String| {
            crate::Error::Nn(NnError::Config {
                layer: name.to_string(),
                message: why,
            })
        };
        if shape.is_empty() || shape.contains(&0) {
            return Err(bad(format!(
                "an input needs a shape of positive sizes (without the batch axis), found {shape:?}"
            )));
        }
        neurite_tensor::size::checked_len("Input", name, &shape).map_err(|e| bad(e.to_string()))?;
        Ok(SymbolicTensor::new(
            shape,
            Source::Input {
                name: name.to_string(),
            },
        ))
    }
}

/// A layer that can be called on symbolic tensors more than once, sharing
/// its weights between the calls (Keras: calling one layer object twice), or
/// between models. Cloning shares the same layer.
///
/// ```
/// use neurite::prelude::*;
/// let (a, b) = (Input::named("a", [4]), Input::named("b", [4]));
/// let encoder = SharedLayer::new(Dense::new(3));
/// let (ea, eb) = (encoder.call(&a)?, encoder.call(&b)?); // one kernel, two calls
/// let d = Subtract::new().call_many(&[&ea, &eb])?;
/// assert_eq!(d.shape(), &[3]);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone)]
pub struct SharedLayer(Arc<RwLock<Box<dyn Layer>>>);

impl SharedLayer {
    /// Wraps `layer` for calls on symbolic tensors.
    ///
    /// ```
    /// let d = neurite::functional::SharedLayer::new(neurite::nn::layers::Dense::new(2));
    /// assert_eq!(d.class_name(), "Dense");
    /// ```
    pub fn new(layer: impl Layer + 'static) -> Self {
        Self::from_boxed(Box::new(layer))
    }

    /// Wraps a boxed layer (e.g. from [`neurite_nn::layer_from_config`]).
    ///
    /// ```
    /// let boxed: Box<dyn neurite::nn::Layer> = Box::new(neurite::nn::layers::Flatten::new());
    /// assert_eq!(neurite::functional::SharedLayer::from_boxed(boxed).class_name(), "Flatten");
    /// ```
    pub fn from_boxed(layer: Box<dyn Layer>) -> Self {
        SharedLayer(Arc::new(RwLock::new(layer)))
    }

    /// Calls the layer on one symbolic tensor: checks that the layer takes
    /// one input and accepts its shape, and records the call.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let d = SharedLayer::new(Dense::new(2));
    /// assert_eq!(d.call(&Input::new([5]))?.shape(), &[2]);
    /// assert_eq!(d.call(&Input::new([3, 5]))?.shape(), &[3, 2]); // Dense acts on the last axis
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn call(&self, x: &SymbolicTensor) -> crate::Result<SymbolicTensor> {
        self.call_many(&[x])
    }

    /// Calls the layer on a list of symbolic tensors (merge layers such as
    /// `Add` or `Concatenate`), checking how many inputs the layer takes and
    /// their shapes.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::new([4]), Input::new([6]));
    /// let c = SharedLayer::new(Concatenate::new()).call_many(&[&a, &b])?;
    /// assert_eq!(c.shape(), &[10]);
    /// assert!(SharedLayer::new(Add::new()).call_many(&[&a, &b]).is_err()); // shapes differ
    /// assert!(SharedLayer::new(Dense::new(2)).call_many(&[&a, &b]).is_err()); // one input only
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn call_many(&self, xs: &[&SymbolicTensor]) -> crate::Result<SymbolicTensor> {
        let layer = self.read()?;
        let arity = layer.input_arity();
        if !arity.accepts(xs.len()) {
            let found = match xs.len() {
                1 => "one tensor".to_string(),
                n => format!("a list of {n} tensors"),
            };
            return Err(crate::Error::Nn(NnError::Config {
                layer: layer.name().to_string(),
                message: format!("takes {arity}, called on {found}"),
            }));
        }
        let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape().to_vec()).collect();
        let out = if arity == InputArity::One {
            layer.output_shape(&shapes[0])?
        } else {
            layer.output_shape_multi(&shapes)?
        };
        drop(layer);
        Ok(SymbolicTensor::new(
            out,
            Source::Call {
                layer: self.clone(),
                inputs: xs.iter().map(|x| (*x).clone()).collect(),
            },
        ))
    }

    /// The layer's name.
    ///
    /// ```
    /// let d = neurite::functional::SharedLayer::new(neurite::nn::layers::Dense::new(2).with_name("head"));
    /// assert_eq!(d.name(), "head");
    /// ```
    pub fn name(&self) -> String {
        self.read().map(|l| l.name().to_string()).unwrap_or_default()
    }

    /// The layer's Keras class name.
    ///
    /// ```
    /// assert_eq!(neurite::functional::SharedLayer::new(neurite::nn::layers::Add::new()).class_name(), "Add");
    /// ```
    pub fn class_name(&self) -> &'static str {
        self.read().map(|l| l.class_name()).unwrap_or("?")
    }

    /// Whether the layer's weights are trained (Keras' `trainable`).
    ///
    /// ```
    /// assert!(neurite::functional::SharedLayer::new(neurite::nn::layers::Dense::new(2)).trainable());
    /// ```
    pub fn trainable(&self) -> bool {
        self.read().map(|l| l.trainable()).unwrap_or(false)
    }

    /// Freezes (`false`) or unfreezes the layer, in every graph that
    /// shares it (Keras' `layer.trainable = False`); with a `/` path,
    /// the layer at that path inside it (see
    /// [`neurite_nn::Layer::set_sublayer_trainable`]).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([3]);
    /// let y = Dense::new(2).call(&x)?;
    /// let graph = Graph::new(&[&x], &[&y])?;
    /// graph.layer("dense_1").unwrap().set_trainable(false)?;
    /// assert!(!graph.layer("dense_1").unwrap().trainable());
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn set_trainable(&self, trainable: bool) -> crate::Result<()> {
        self.write()?.set_trainable(trainable);
        Ok(())
    }

    /// Read access to the layer.
    pub(crate) fn read(&self) -> neurite_nn::Result<RwLockReadGuard<'_, Box<dyn Layer>>> {
        self.0.read().map_err(|_| poisoned())
    }

    /// Write access to the layer (build, rename, freeze).
    pub(crate) fn write(&self) -> neurite_nn::Result<RwLockWriteGuard<'_, Box<dyn Layer>>> {
        self.0.write().map_err(|_| poisoned())
    }

    /// Whether both handles hold the same layer.
    pub(crate) fn same(&self, other: &SharedLayer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

fn poisoned() -> NnError {
    NnError::Config {
        layer: "functional".into(),
        message: "a layer's lock was poisoned by a panic in another thread".into(),
    }
}

/// `layer.call(&x)` on any layer: Keras' `layer(x)` for functional models.
/// The layer is moved into the graph; to call one layer several times
/// (shared weights), wrap it in a [`SharedLayer`] first.
///
/// ```
/// use neurite::prelude::*;
/// let x = Input::new([28, 28, 1]);
/// let h = Conv2D::new(8, (3, 3)).activation(Activation::Relu).call(&x)?;
/// let skip = Conv2D::new(8, (1, 1)).call(&x)?;
/// let h = Conv2D::new(8, (3, 3)).padding(Padding::Same).call(&h)?;
/// assert_eq!(h.shape(), &[26, 26, 8]);
/// assert!(Add::new().call_many(&[&h, &skip]).is_err()); // 26x26 vs 28x28
/// # Ok::<(), neurite::Error>(())
/// ```
pub trait CallLayer: Layer + Sized + 'static {
    /// Calls the layer on one symbolic tensor ([`SharedLayer::call`]).
    fn call(self, x: &SymbolicTensor) -> crate::Result<SymbolicTensor> {
        SharedLayer::new(self).call(x)
    }

    /// Calls the layer on a list of symbolic tensors ([`SharedLayer::call_many`]).
    fn call_many(self, xs: &[&SymbolicTensor]) -> crate::Result<SymbolicTensor> {
        SharedLayer::new(self).call_many(xs)
    }
}

impl<L: Layer + Sized + 'static> CallLayer for L {}
