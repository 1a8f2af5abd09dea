//! User-written blocks: a layer that owns sub-layers, written as one
//! function wiring them on a symbolic input (Keras' subclassed `Layer` with
//! `call`, PyTorch's `nn.Module` whose fields are sub-modules).
//!
//! A [`Block`] is a serde struct of hyperparameters, a class name and a
//! `call`; [`Block::into_layer`] makes it a [`Layer`] ([`BlockLayer`]) that
//! `build` traces into an inner [`Graph`], and [`register_block`] lets
//! `Sequential::load` / `Functional::load` rebuild it:
//!
//! ```
//! use neurite::prelude::*;
//! use neurite::serde::{Deserialize, Serialize};
//!
//! /// Dense-ReLU-Dense, plus the input: `x + W2 relu(W1 x)`.
//! #[derive(Serialize, Deserialize)]
//! #[serde(crate = "neurite::serde")]
//! struct Residual { hidden: usize }
//!
//! impl Block for Residual {
//!     const CLASS_NAME: &'static str = "Residual";
//!     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
//!         let h = Dense::new(self.hidden).activation(Activation::Relu).call(x)?;
//!         let h = Dense::new(x.shape()[0]).call(&h)?;
//!         Add::new().call_many(&[x, &h])
//!     }
//! }
//!
//! neurite::register_block::<Residual>()?;
//! let mut model = Sequential::new()
//!     .add(Dense::new(8).input_dim(3))
//!     .add(Residual { hidden: 16 }.into_layer())
//!     .add(Residual { hidden: 4 }.into_layer());
//! model.build(&[3])?;
//! let names: Vec<String> = model.parameters().into_iter().map(|p| p.name).collect();
//! assert_eq!(names[2], "residual_1/dense_1.kernel"); // named under the block
//! assert_eq!(names[6], "residual_2/dense_1.kernel"); // no collision with the first block
//! let dir = tempfile::tempdir()?;
//! model.save(dir.path().join("m"))?;
//! let loaded = Sequential::load(dir.path().join("m"))?;
//! let x = ndarray::Array2::<f32>::ones((2, 3)).into_dyn();
//! assert_eq!(loaded.predict(&x)?, model.predict(&x)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The PyTorch route — a struct holding sub-layers as fields, with a
//! hand-written `impl Layer` whose `parameters` concatenates theirs — needs
//! nothing from this module; `tests/custom_block.rs` shows one. A `Block`
//! saves that boilerplate: the parameters, their names, building, the output
//! shape, fusion, regularization losses and the saved config all come from
//! the traced graph and the serde struct.

use super::{Graph, Input, SymbolicTensor};
use crate::model::stack::snake_case;
use neurite_autograd::Var;
use neurite_nn::layer::{InputArity, ParameterShapes};
use neurite_nn::registry::{check_user_class_name, parse_config, register_layer_type};
use neurite_nn::{ForwardContext, Layer, NnError, Parameter};
use neurite_rand::Generator;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Config keys a [`BlockLayer`] adds to its block's fields.
const RESERVED_KEYS: [&str; 4] = ["name", "trainable", "input_shape", "frozen_layers"];

/// A user-written layer made of other layers: its hyperparameters (the
/// struct's fields, saved as its config), its Keras class name, and `call`,
/// which wires sub-layers on a symbolic input as in a functional model.
/// [`Block::into_layer`] makes it a [`Layer`]; the guide's "Writing your
/// own block" (`docs/guide.md`, §8) has a whole example.
///
/// `call` must build the same graph every time it is called with the same
/// input shape (it is traced for `output_shape`, `parameter_shapes` and
/// `build`), creating its sub-layers inside (`Dense::new(..).call(x)?`).
/// To nest a block in a block, call `Inner { .. }.into_layer().call(x)?`
/// (the inner block's weights are then named under both blocks).
///
/// ```
/// use neurite::prelude::*;
/// #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
/// #[serde(crate = "neurite::serde")]
/// struct Mlp { units: Vec<usize> }
/// impl Block for Mlp {
///     const CLASS_NAME: &'static str = "Mlp";
///     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
///         let mut h = x.clone();
///         for &u in &self.units {
///             h = Dense::new(u).activation(Activation::Relu).call(&h)?;
///         }
///         Ok(h)
///     }
///     fn validate(&self) -> Result<(), String> {
///         match self.units.is_empty() {
///             true => Err("field \"units\": at least one layer is needed, found []".into()),
///             false => Ok(()),
///         }
///     }
/// }
/// let y = Mlp { units: vec![8, 4] }.into_layer().call(&Input::new([3]))?;
/// assert_eq!(y.shape(), &[4]);
/// let e = Mlp { units: vec![] }.into_layer().call(&Input::new([3])).unwrap_err().to_string();
/// assert!(e.contains("mlp") && e.contains("units"), "{e}");
/// # Ok::<(), neurite::Error>(())
/// ```
pub trait Block: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The class name saved in `config.json` and registered by
    /// [`register_block`] (Keras' class name); an identifier that is not a
    /// built-in layer class. The block's default name is its snake case
    /// (`ResidualBlock` -> `residual_block`, made unique as `residual_block_1`, ...).
    const CLASS_NAME: &'static str;

    /// How many inputs the block takes (1 unless set). A block of several
    /// inputs implements [`Block::call_many`] and is called on a list
    /// (`block.into_layer().call_many(&[&a, &b])`), as Keras' merge layers.
    const INPUTS: usize = 1;

    /// Wires the block's sub-layers on `x` (one sample's shape, no batch
    /// axis) and returns the block's output. A block of one input implements
    /// this; by default it is an error saying so.
    fn call(&self, x: &SymbolicTensor) -> crate::Result<SymbolicTensor> {
        let _ = x;
        Err(crate::Error::Model(format!(
            "{}: a block of one input implements Block::call (a block of several inputs sets INPUTS and \
             implements Block::call_many)",
            Self::CLASS_NAME
        )))
    }

    /// Wires the block's sub-layers on its [`Block::INPUTS`] inputs (in
    /// call order) and returns the block's output. By default, [`Block::call`]
    /// on the one input.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// /// `a + W b`: a skip connection with a projected second input.
    /// #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
    /// #[serde(crate = "neurite::serde")]
    /// struct Project {}
    /// impl Block for Project {
    ///     const CLASS_NAME: &'static str = "Project";
    ///     const INPUTS: usize = 2;
    ///     fn call_many(&self, xs: &[&SymbolicTensor]) -> neurite::Result<SymbolicTensor> {
    ///         let projected = Dense::new(xs[0].shape()[0]).call(xs[1])?;
    ///         Add::new().call_many(&[xs[0], &projected])
    ///     }
    /// }
    /// let (a, b) = (Input::new([4]), Input::new([7]));
    /// let y = Project {}.into_layer().call_many(&[&a, &b])?;
    /// assert_eq!(y.shape(), &[4]);
    /// let mut model = Model::functional_many(&[&a, &b], &[&y])?;
    /// model.build_inputs(&[vec![4], vec![7]])?;
    /// assert_eq!(model.parameters().len(), 2); // the Dense's kernel and bias
    /// assert!(Project {}.into_layer().call(&a).is_err()); // two inputs, not one
    /// # Ok::<(), neurite::Error>(())
    /// ```
    fn call_many(&self, xs: &[&SymbolicTensor]) -> crate::Result<SymbolicTensor> {
        match xs {
            [x] => self.call(x),
            _ => Err(crate::Error::Model(format!(
                "{}: called on {} inputs; a block of several inputs implements Block::call_many",
                Self::CLASS_NAME,
                xs.len()
            ))),
        }
    }

    /// Refuses hyperparameters that can never work, before anything is
    /// traced or loaded: the message names the field (`field "filters":
    /// must be at least 1, found 0`). Every value is accepted by default.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// The block as a [`Layer`], named after its class.
    fn into_layer(self) -> BlockLayer<Self>
    where
        Self: Sized,
    {
        BlockLayer::new(self)
    }
}

/// Registers block class `B` so that [`crate::Model::load`] rebuilds it
/// from `config.json` (Keras' `@register_keras_serializable`). Call it once
/// before loading a model holding such blocks; calling it again changes
/// nothing. Errors when `B::CLASS_NAME` is a built-in class, not an
/// identifier, or already registered by another type.
///
/// ```
/// use neurite::prelude::*;
/// #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
/// #[serde(crate = "neurite::serde")]
/// struct Twice {}
/// impl Block for Twice {
///     const CLASS_NAME: &'static str = "Twice";
///     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
///         Add::new().call_many(&[x, x])
///     }
/// }
/// neurite::register_block::<Twice>()?;
/// neurite::register_block::<Twice>()?;
/// assert!(neurite::nn::registry::registered_classes().contains(&"Twice".to_string()));
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn register_block<B: Block>() -> crate::Result<()> {
    Ok(register_layer_type::<B>(B::CLASS_NAME, rebuild::<B>)?)
}

/// The traced graph of a built block, and the input shape it was built for.
struct Built {
    graph: Graph,
    input_shapes: Vec<Vec<usize>>,
}

/// A [`Block`] as a [`Layer`] (made by [`Block::into_layer`]). `build`
/// traces the block's `call` on an [`Input`] of the input shape into a
/// [`Graph`] and builds it; the parameters (named
/// `<block>/<sub-layer>.<variable>`), the forward pass (fused pairs
/// included), the output shape and the regularization losses are that
/// graph's. Its config is the block's serde fields plus `name`, `trainable`
/// and, when declared, `input_shape`.
///
/// ```
/// use neurite::prelude::*;
/// #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
/// #[serde(crate = "neurite::serde")]
/// struct Head { classes: usize }
/// impl Block for Head {
///     const CLASS_NAME: &'static str = "Head";
///     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> {
///         let x = GlobalAveragePooling2D::new().call(x)?;
///         Dense::new(self.classes).activation(Activation::Softmax).call(&x)
///     }
/// }
/// let mut head = Head { classes: 3 }.into_layer().with_name("head");
/// assert_eq!(head.output_shape(&[4, 4, 8])?, vec![3]);
/// head.build(&[4, 4, 8], &mut rng_from_seed(0))?;
/// assert_eq!(head.parameters()[0].name, "head/dense_1.kernel");
/// assert_eq!(head.config(), neurite::nn::serde_json::json!({"classes": 3, "name": "head", "trainable": true}));
/// # Ok::<(), neurite::Error>(())
/// ```
pub struct BlockLayer<B: Block> {
    block: B,
    name: String,
    trainable: bool,
    input_shape: Option<Vec<usize>>,
    /// Paths of sub-layers to freeze when `build` traces the block (set
    /// before it is built, or read from a saved config).
    frozen: Vec<String>,
    built: Option<Built>,
}

impl<B: Block> BlockLayer<B> {
    /// The block as a layer named after its class (`residual_block`, which
    /// models make unique: `residual_block_1`, ...).
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
    /// # #[serde(crate = "neurite::serde")]
    /// # struct ResidualBlock {}
    /// # impl Block for ResidualBlock {
    /// #     const CLASS_NAME: &'static str = "ResidualBlock";
    /// #     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> { Ok(x.clone()) }
    /// # }
    /// assert_eq!(BlockLayer::new(ResidualBlock {}).name(), "residual_block");
    /// ```
    pub fn new(block: B) -> Self {
        BlockLayer {
            block,
            name: snake_case(B::CLASS_NAME),
            trainable: true,
            input_shape: None,
            frozen: Vec::new(),
            built: None,
        }
    }

    /// Names the layer (builder style).
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
    /// # #[serde(crate = "neurite::serde")]
    /// # struct Id {}
    /// # impl Block for Id {
    /// #     const CLASS_NAME: &'static str = "Id";
    /// #     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> { Ok(x.clone()) }
    /// # }
    /// assert_eq!(Id {}.into_layer().with_name("stem").name(), "stem");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Declares the input shape (without the batch axis), as Keras'
    /// `input_shape=` on a model's first layer.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
    /// # #[serde(crate = "neurite::serde")]
    /// # struct Id {}
    /// # impl Block for Id {
    /// #     const CLASS_NAME: &'static str = "Id";
    /// #     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> { Ok(x.clone()) }
    /// # }
    /// let model = Sequential::new().add(Id {}.into_layer().input_shape([5]));
    /// assert_eq!(model.input_shape(), Some(vec![5]));
    /// ```
    pub fn input_shape(mut self, shape: impl AsRef<[usize]>) -> Self {
        self.input_shape = Some(shape.as_ref().to_vec());
        self
    }

    /// The block's hyperparameters.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
    /// # #[serde(crate = "neurite::serde")]
    /// # struct Wide { units: usize }
    /// # impl Block for Wide {
    /// #     const CLASS_NAME: &'static str = "Wide";
    /// #     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> { Dense::new(self.units).call(x) }
    /// # }
    /// assert_eq!(Wide { units: 7 }.into_layer().block().units, 7);
    /// ```
    pub fn block(&self) -> &B {
        &self.block
    }

    /// The graph `build` traced (its sub-layers, e.g. to freeze one with
    /// `graph.layer("conv2d_1")`), `None` before `build`.
    ///
    /// ```
    /// # use neurite::prelude::*;
    /// # #[derive(neurite::serde::Serialize, neurite::serde::Deserialize)]
    /// # #[serde(crate = "neurite::serde")]
    /// # struct Wide { units: usize }
    /// # impl Block for Wide {
    /// #     const CLASS_NAME: &'static str = "Wide";
    /// #     fn call(&self, x: &SymbolicTensor) -> neurite::Result<SymbolicTensor> { Dense::new(self.units).call(x) }
    /// # }
    /// let mut wide = Wide { units: 7 }.into_layer();
    /// assert!(wide.graph().is_none());
    /// wide.build(&[3], &mut rng_from_seed(0))?;
    /// assert_eq!(wide.graph().unwrap().layer_names(), vec!["dense_1"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn graph(&self) -> Option<&Graph> {
        self.built.as_ref().map(|b| &b.graph)
    }

    /// A configuration error of this block.
    fn error(&self, message: String) -> NnError {
        NnError::Config {
            layer: self.name.clone(),
            message,
        }
    }

    /// `e` from the inner graph, its layer named under the block
    /// (`residual_block_1/conv2d_1`).
    fn within(&self, e: NnError) -> NnError {
        let qualify = |layer: String| {
            if layer == self.name {
                layer
            } else {
                format!("{}/{layer}", self.name)
            }
        };
        match e {
            NnError::Shape {
                layer,
                expected,
                found,
            } => NnError::Shape {
                layer: qualify(layer),
                expected,
                found,
            },
            NnError::Config { layer, message } => NnError::Config {
                layer: qualify(layer),
                message,
            },
            NnError::NotBuilt(layer) => NnError::NotBuilt(qualify(layer)),
            other => other,
        }
    }

    /// The block's serde fields, a JSON object without the keys the layer adds.
    fn fields(&self) -> neurite_nn::Result<Map<String, Value>> {
        let value = serde_json::to_value(&self.block)
            .map_err(|e| self.error(format!("{} does not serialize to JSON: {e}", B::CLASS_NAME)))?;
        let Value::Object(fields) = value else {
            return Err(self.error(format!(
                "{} must serialize to a JSON object (a struct with named fields; `struct {} {{}}` \
                 for a block without hyperparameters), found {value}",
                B::CLASS_NAME,
                B::CLASS_NAME
            )));
        };
        if let Some(key) = RESERVED_KEYS.iter().find(|k| fields.contains_key(**k)) {
            return Err(self.error(format!(
                "{} has a field {key:?}, a key the block's layer saves itself: rename the field",
                B::CLASS_NAME
            )));
        }
        Ok(fields)
    }

    /// The block's `call` traced on an input of `input_shape`, as a graph
    /// named after the block (unbuilt: its sub-layers are new).
    fn trace(&self, input_shapes: &[Vec<usize>]) -> neurite_nn::Result<Graph> {
        check_user_class_name(B::CLASS_NAME).map_err(|e| self.error(e.to_string()))?;
        if input_shapes.len() != B::INPUTS {
            return Err(self.error(format!(
                "{} takes {} input(s), got {} (shapes {input_shapes:?})",
                B::CLASS_NAME,
                B::INPUTS,
                input_shapes.len()
            )));
        }
        self.block
            .validate()
            .map_err(|e| self.error(format!("invalid {} config: {e}", B::CLASS_NAME)))?;
        self.fields()?;
        let shown = match input_shapes {
            [one] => format!("an input of shape {one:?}"),
            many => format!("inputs of shapes {many:?}"),
        };
        let failed = |e: crate::Error| self.error(format!("{}::call on {shown} failed: {e}", B::CLASS_NAME));
        let xs = input_shapes
            .iter()
            .map(Input::try_new)
            .collect::<crate::Result<Vec<_>>>()
            .map_err(failed)?;
        let refs: Vec<&SymbolicTensor> = xs.iter().collect();
        let y = self.block.call_many(&refs).map_err(failed)?;
        let mut graph = Graph::new(&refs, &[&y]).map_err(failed)?;
        graph.set_name(self.name.clone());
        Ok(graph)
    }

    /// The built graph when it was built for `input_shapes`, else a new trace.
    fn with_graph<T>(
        &self,
        input_shapes: &[Vec<usize>],
        f: impl FnOnce(&Graph) -> neurite_nn::Result<T>,
    ) -> neurite_nn::Result<T> {
        match &self.built {
            Some(b) if b.input_shapes == input_shapes => f(&b.graph),
            _ => f(&self.trace(input_shapes)?),
        }
        .map_err(|e| self.within(e))
    }

    fn built_graph(&self) -> neurite_nn::Result<&Graph> {
        self.built
            .as_ref()
            .map(|b| &b.graph)
            .ok_or_else(|| NnError::NotBuilt(self.name.clone()))
    }
}

impl<B: Block> Layer for BlockLayer<B> {
    fn class_name(&self) -> &'static str {
        B::CLASS_NAME
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        if let Some(b) = &mut self.built {
            b.graph.set_name(name.clone());
        }
        self.name = name;
    }

    /// Traces `call` on an input of `input_shape` and builds the graph's
    /// layers in call order from `rng` (so a block draws its initial weights
    /// exactly as the same layers written inline in a functional model).
    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> neurite_nn::Result<()> {
        self.build_multi(&[input_shape.to_vec()], rng)
    }

    fn parameter_shapes(&self, input_shape: &[usize]) -> neurite_nn::Result<Option<ParameterShapes>> {
        self.parameter_shapes_multi(&[input_shape.to_vec()])
    }

    fn is_built(&self) -> bool {
        self.built.as_ref().is_some_and(|b| b.graph.is_built())
    }

    fn output_shape(&self, input_shape: &[usize]) -> neurite_nn::Result<Vec<usize>> {
        self.output_shape_multi(&[input_shape.to_vec()])
    }

    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> neurite_nn::Result<Var> {
        self.forward_multi(std::slice::from_ref(x), ctx)
    }

    /// [`Block::INPUTS`]: one, or exactly that many.
    fn input_arity(&self) -> InputArity {
        match B::INPUTS {
            1 => InputArity::One,
            n => InputArity::Exactly(n),
        }
    }

    fn build_multi(&mut self, input_shapes: &[Vec<usize>], rng: &mut Generator) -> neurite_nn::Result<()> {
        // A rebuild traces new sub-layers: those frozen before stay frozen.
        let frozen = self.frozen_sublayers();
        let mut graph = self.trace(input_shapes)?;
        for path in &frozen {
            graph.set_sublayer_trainable(path, false).map_err(|e| {
                self.error(format!(
                    "cannot freeze `{path}` (from frozen_layers or set_sublayer_trainable): {e}"
                ))
            })?;
        }
        graph.build_multi(input_shapes, rng).map_err(|e| self.within(e))?;
        self.frozen.clear();
        self.built = Some(Built {
            graph,
            input_shapes: input_shapes.to_vec(),
        });
        Ok(())
    }

    fn output_shape_multi(&self, input_shapes: &[Vec<usize>]) -> neurite_nn::Result<Vec<usize>> {
        self.with_graph(input_shapes, |g| g.output_shape_multi(input_shapes))
    }

    fn parameter_shapes_multi(
        &self,
        input_shapes: &[Vec<usize>],
    ) -> neurite_nn::Result<Option<ParameterShapes>> {
        let shapes = self.with_graph(input_shapes, |g| g.parameter_shapes_multi(input_shapes))?;
        Ok(shapes.map(|s| {
            s.into_iter()
                .map(|(name, shape)| (format!("{}/{name}", self.name), shape))
                .collect()
        }))
    }

    fn forward_multi(&self, xs: &[Var], ctx: &mut ForwardContext) -> neurite_nn::Result<Var> {
        self.built_graph()?
            .forward_multi(xs, ctx)
            .map_err(|e| self.within(e))
    }

    /// Masks flow through the block's sub-layers as through a functional
    /// model's (Keras 3 keeps a mask on the tensors a layer's `call` passes
    /// between its sub-layers): the output's mask is the one its last
    /// sub-layer gives.
    fn supports_masking(&self) -> bool {
        true
    }

    fn forward_masked(
        &self,
        x: &Var,
        mask: Option<&neurite_nn::mask::Mask>,
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<neurite_nn::mask::Masked> {
        self.forward_multi_masked(std::slice::from_ref(x), &[mask.cloned()], ctx)
    }

    fn forward_multi_masked(
        &self,
        xs: &[Var],
        masks: &[Option<neurite_nn::mask::Mask>],
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<neurite_nn::mask::Masked> {
        self.built_graph()?
            .forward_multi_masked(xs, masks, ctx)
            .map_err(|e| self.within(e))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let Some(built) = &self.built else {
            return Vec::new();
        };
        built
            .graph
            .parameters()
            .into_iter()
            .map(|p| Parameter {
                name: format!("{}/{}", self.name, p.name),
                var: p.var,
                trainable: p.trainable && self.trainable,
            })
            .collect()
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    /// Built: freezes the sub-layer at once. Not built yet (its sub-layers
    /// are made when `build` traces `call`): remembered, and `build` fails
    /// naming the path if the traced block has no such layer.
    fn set_sublayer_trainable(&mut self, path: &str, trainable: bool) -> neurite_nn::Result<()> {
        if let Some(built) = &mut self.built {
            let result = built.graph.set_sublayer_trainable(path, trainable);
            return result.map_err(|e| self.within(e));
        }
        if path.split('/').any(str::is_empty) {
            return Err(self.error(format!("`{path}` is not a path of layer names separated by `/`")));
        }
        self.frozen.retain(|p| p != path);
        if !trainable {
            self.frozen.push(path.to_string());
        }
        Ok(())
    }

    fn frozen_sublayers(&self) -> Vec<String> {
        match &self.built {
            Some(built) => built.graph.frozen_sublayers(),
            None => self.frozen.clone(),
        }
    }

    /// The block's fields plus `name`, `trainable`, a declared
    /// `input_shape` and, when some of its sub-layers are frozen, their
    /// paths as `frozen_layers` (a block whose fields are not a JSON object,
    /// which `build` refuses, saves only these).
    fn config(&self) -> Value {
        let mut config = self.fields().unwrap_or_default();
        config.insert("name".into(), Value::from(self.name.clone()));
        config.insert("trainable".into(), Value::from(self.trainable));
        if let Some(shape) = &self.input_shape {
            config.insert("input_shape".into(), Value::from(shape.clone()));
        }
        let frozen = self.frozen_sublayers();
        if !frozen.is_empty() {
            config.insert("frozen_layers".into(), Value::from(frozen));
        }
        Value::Object(config)
    }

    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.input_shape.clone()
    }
}

/// The [`BlockLayer`] a saved config describes (what [`register_block`]
/// registers): `name`, `trainable` and `input_shape` are the layer's, every
/// other key is the block's; errors name the layer and the field.
fn rebuild<B: Block>(config: &Value) -> neurite_nn::Result<Box<dyn Layer>> {
    let default_name = snake_case(B::CLASS_NAME);
    let Some(object) = config.as_object() else {
        return Err(NnError::Config {
            layer: default_name,
            message: format!("a {} config must be a JSON object, found {config}", B::CLASS_NAME),
        });
    };
    let mut fields = object.clone();
    let label = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        _ => default_name.clone(),
    };
    let field_error = |field: &str, message: String| NnError::Config {
        layer: label.clone(),
        message: format!("field \"{field}\": {message}"),
    };
    let name = match fields.remove("name") {
        None => default_name,
        Some(Value::String(name)) => name,
        Some(v) => return Err(field_error("name", format!("expected a string, found {v}"))),
    };
    let trainable = match fields.remove("trainable") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(v) => {
            return Err(field_error(
                "trainable",
                format!("expected true or false, found {v}"),
            ))
        }
    };
    let input_shape = match fields.remove("input_shape") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let shape = serde_json::from_value::<Vec<usize>>(v.clone())
                .ok()
                .filter(|s| Input::try_new(s).is_ok())
                .ok_or_else(|| {
                    field_error(
                        "input_shape",
                        format!(
                            "expected a list of positive sizes of a sample that fits in memory, found {v}"
                        ),
                    )
                })?;
            Some(shape)
        }
    };
    let frozen = match fields.remove("frozen_layers") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value::<Vec<String>>(v.clone())
            .ok()
            .filter(|paths| paths.iter().all(|p| !p.split('/').any(str::is_empty)))
            .ok_or_else(|| {
                field_error(
                    "frozen_layers",
                    format!("expected a list of layer paths (names separated by `/`), found {v}"),
                )
            })?,
    };
    let block: B = parse_config(&label, B::CLASS_NAME, &Value::Object(fields))?;
    block.validate().map_err(|e| NnError::Config {
        layer: label.clone(),
        message: format!("invalid {} config: {e}", B::CLASS_NAME),
    })?;
    Ok(Box::new(BlockLayer {
        block,
        name,
        trainable,
        input_shape,
        frozen,
        built: None,
    }))
}
