//! `Graph`: the network of a functional model, a `Layer` itself.

use super::symbolic::{SharedLayer, Source, SymbolicTensor};
use crate::model::stack::snake_case;
use crate::model::sublayers;
use neurite_autograd::Var;
use neurite_nn::layer::{InputArity, ParameterShapes};
use neurite_nn::{ForwardContext, Layer, NnError, Parameter};
use neurite_rand::Generator;
use std::collections::{HashMap, HashSet};

/// Where a node reads one of its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The model's input of this index.
    Input(usize),
    /// The output of the node of this index.
    Node(usize),
}

/// One call of a layer in the graph.
pub(crate) struct GraphNode {
    /// Index into [`Graph::layers`].
    pub(crate) layer: usize,
    pub(crate) inputs: Vec<Slot>,
    /// Output shape (no batch axis).
    pub(crate) shape: Vec<usize>,
    /// Which call of its layer this is (0 for the first), Keras' node index.
    pub(crate) call_index: usize,
}

/// A model input.
pub(crate) struct GraphInput {
    pub(crate) name: String,
    pub(crate) shape: Vec<usize>,
}

/// The network of a functional model: layers called on the outputs of
/// other layers, with branches, merges and shared layers, run in a
/// topological order. Made by [`crate::Model::functional`] (or
/// [`Graph::new`]); a [`Layer`] itself, so a graph can be called inside
/// another graph.
///
/// ```
/// use neurite::prelude::*;
/// let x = Input::new([8]);
/// let h = Dense::new(8).activation(Activation::Relu).call(&x)?;
/// let y = Add::new().call_many(&[&x, &h])?; // a residual connection
/// let graph = Graph::new(&[&x], &[&y])?;
/// assert_eq!(graph.class_name(), "Functional");
/// assert_eq!(graph.layer_names(), vec!["dense_1", "add_1"]);
/// # Ok::<(), neurite::Error>(())
/// ```
pub struct Graph {
    name: String,
    pub(crate) inputs: Vec<GraphInput>,
    /// Distinct layers, in the order of their first call.
    pub(crate) layers: Vec<SharedLayer>,
    /// Calls in a topological order.
    pub(crate) nodes: Vec<GraphNode>,
    pub(crate) outputs: Vec<Slot>,
    /// `fuse[i]`: node `i` runs fused with node `i + 1` (its only consumer).
    pub(super) fuse: Vec<bool>,
    /// `readers[j]`: how many node inputs read node `j`'s value (a node
    /// reading it twice counts twice); a run drops the value once they have.
    pub(super) readers: Vec<usize>,
    /// `is_output[j]`: node `j`'s value is one of the graph's outputs (kept to the end).
    pub(super) is_output: Vec<bool>,
    trainable: bool,
    built: bool,
}

fn config_error(layer: &str, message: String) -> NnError {
    NnError::Config {
        layer: layer.to_string(),
        message,
    }
}

impl Graph {
    /// The graph from `inputs` to `outputs`: every layer call the outputs
    /// depend on. Errors when an output depends on an input not listed
    /// (Keras' "graph disconnected"), when an input is listed twice or is
    /// not an [`crate::functional::Input`], or when two layers share a name.
    /// Layers still carrying their class's default name are named as in a
    /// `Sequential` (`dense_1`, `dense_2`, ...).
    ///
    /// A graph may have several inputs and several outputs (Keras'
    /// `Model(inputs=[a, b], outputs=[y, z])`); each input is known by its
    /// [`crate::functional::Input::named`] name, each output by the name of
    /// the layer that made it (or the input's name, for an input listed as
    /// an output), and two outputs with one name are an error.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [3]), Input::named("b", [3]));
    /// let y = Dense::new(1).call(&b)?;
    /// assert!(Graph::new(&[&a], &[&y]).is_err()); // y needs b
    /// let z = Dense::new(2).with_name("z").call(&a)?;
    /// let g = Graph::new(&[&a, &b], &[&y, &z])?;
    /// assert_eq!(g.input_names(), vec!["a", "b"]);
    /// assert_eq!(g.output_names(), vec!["dense_1", "z"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn new(inputs: &[&SymbolicTensor], outputs: &[&SymbolicTensor]) -> crate::Result<Graph> {
        Ok(Self::trace(inputs, outputs)?)
    }

    fn trace(inputs: &[&SymbolicTensor], outputs: &[&SymbolicTensor]) -> neurite_nn::Result<Graph> {
        if inputs.is_empty() || outputs.is_empty() {
            return Err(config_error(
                "functional",
                format!(
                    "a functional model needs at least one input and one output, found {} inputs and {} outputs",
                    inputs.len(),
                    outputs.len()
                ),
            ));
        }
        let mut input_slots = HashMap::new();
        let mut graph_inputs = Vec::new();
        for (i, x) in inputs.iter().enumerate() {
            let Source::Input { name } = &x.0.source else {
                return Err(config_error(
                    &x.name(),
                    "a model's inputs must be Input tensors, not layer outputs".into(),
                ));
            };
            if input_slots.insert(x.id(), Slot::Input(i)).is_some() {
                return Err(config_error(name, "the input is listed twice".into()));
            }
            graph_inputs.push(GraphInput {
                name: name.clone(),
                shape: x.shape().to_vec(),
            });
        }
        let mut graph = Graph {
            name: "functional".into(),
            inputs: graph_inputs,
            layers: Vec::new(),
            nodes: Vec::new(),
            outputs: Vec::new(),
            fuse: Vec::new(),
            readers: Vec::new(),
            is_output: Vec::new(),
            trainable: true,
            built: false,
        };
        let mut slots = input_slots;
        for out in outputs {
            let slot = graph.visit(out, &mut slots)?;
            graph.outputs.push(slot);
        }
        graph.name_layers()?;
        graph.check_output_names()?;
        graph.check_shared_calls()?;
        graph.fuse = graph.fusable_pairs();
        graph.readers = vec![0; graph.nodes.len()];
        for node in &graph.nodes {
            for slot in &node.inputs {
                if let Slot::Node(j) = slot {
                    graph.readers[*j] += 1;
                }
            }
        }
        graph.is_output = (0..graph.nodes.len())
            .map(|j| graph.outputs.contains(&Slot::Node(j)))
            .collect();
        Ok(graph)
    }

    /// The parameter shapes a call of `layer` on `node`'s inputs would make.
    fn call_parameter_shapes(
        &self,
        layer: &dyn Layer,
        node: &GraphNode,
    ) -> neurite_nn::Result<Option<ParameterShapes>> {
        let shapes = self.node_input_shapes(node);
        if layer.input_arity() == InputArity::One {
            layer.parameter_shapes(&shapes[0])
        } else {
            layer.parameter_shapes_multi(&shapes)
        }
    }

    /// Every later call of a shared layer fits the weights its first call makes.
    fn check_shared_calls(&self) -> neurite_nn::Result<()> {
        for (index, layer) in self.layers.iter().enumerate() {
            let calls: Vec<&GraphNode> = self.nodes.iter().filter(|n| n.layer == index).collect();
            let Some((first, rest)) = calls.split_first() else {
                continue;
            };
            let layer = layer.read()?;
            let made = self.call_parameter_shapes(layer.as_ref(), first)?;
            for call in rest {
                let needs = self.call_parameter_shapes(layer.as_ref(), call)?;
                if needs != made {
                    return Err(config_error(
                        layer.name(),
                        format!(
                            "call {} is on inputs of shapes {:?}, which need weights {needs:?}, but the first call (on {:?}) makes {made:?}: every call of a shared layer must fit the same weights",
                            call.call_index,
                            self.node_input_shapes(call),
                            self.node_input_shapes(first)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Adds the calls `t` depends on, then `t`'s own (post-order, without
    /// recursion: deep graphs cannot overflow the stack).
    fn visit(&mut self, t: &SymbolicTensor, slots: &mut HashMap<usize, Slot>) -> neurite_nn::Result<Slot> {
        let mut stack: Vec<(SymbolicTensor, bool)> = vec![(t.clone(), false)];
        while let Some((t, expanded)) = stack.pop() {
            if slots.contains_key(&t.id()) {
                continue;
            }
            match &t.0.source {
                Source::Input { name } => {
                    let listed: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
                    return Err(config_error(
                        name,
                        format!(
                            "graph disconnected: the outputs depend on input {name:?}, which is not among the model's inputs {listed:?}"
                        ),
                    ));
                }
                Source::Call { layer, inputs } => {
                    if expanded {
                        let index = match self.layers.iter().position(|l| l.same(layer)) {
                            Some(i) => i,
                            None => {
                                self.layers.push(layer.clone());
                                self.layers.len() - 1
                            }
                        };
                        let call_index = self.nodes.iter().filter(|n| n.layer == index).count();
                        let node = GraphNode {
                            layer: index,
                            inputs: inputs.iter().map(|x| slots[&x.id()]).collect(),
                            shape: t.shape().to_vec(),
                            call_index,
                        };
                        self.nodes.push(node);
                        slots.insert(t.id(), Slot::Node(self.nodes.len() - 1));
                    } else {
                        stack.push((t.clone(), true));
                        for x in inputs.iter().rev() {
                            if !slots.contains_key(&x.id()) {
                                stack.push((x.clone(), false));
                            }
                        }
                    }
                }
            }
        }
        Ok(slots[&t.id()])
    }

    /// Keras-style unique names for default-named layers; an error if two
    /// distinct layers (or a layer and an input) share a name.
    fn name_layers(&mut self) -> neurite_nn::Result<()> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        for input in &mut self.inputs {
            if input.name == "input_layer" {
                let count = counts.entry("input_layer".into()).or_insert(0);
                *count += 1;
                if *count > 1 {
                    input.name = format!("input_layer_{}", *count - 1);
                }
            }
            if !seen.insert(input.name.clone()) {
                return Err(config_error(&input.name, "two inputs have this name".into()));
            }
        }
        for layer in &self.layers {
            let mut l = layer.write()?;
            let base = snake_case(l.class_name());
            if l.name() == base || l.name().is_empty() {
                let count = counts.entry(base.clone()).or_insert(0);
                *count += 1;
                l.set_name(format!("{base}_{count}"));
            }
            if !seen.insert(l.name().to_string()) {
                return Err(config_error(
                    l.name(),
                    "two layers (or a layer and an input) have this name: names must be unique".into(),
                ));
            }
        }
        Ok(())
    }

    /// Two outputs with one name could not be told apart by name (in
    /// `compile`, `fit` and the logs): an error naming both.
    fn check_output_names(&self) -> neurite_nn::Result<()> {
        let names = self.output_names();
        for (i, name) in names.iter().enumerate() {
            if let Some(j) = names[..i].iter().position(|n| n == name) {
                return Err(config_error(
                    name,
                    format!(
                        "outputs {j} and {i} are both named {name:?} (an output is named after the layer that made it): \
                         each output needs its own layer, e.g. an Activation(\"linear\") layer with its own name"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Node `i` fuses with node `i + 1` when `i + 1` is its only consumer,
    /// reads only it (one input) and `i` is not an output; `i` itself may
    /// read several (`Add` + `ReLU`).
    fn fusable_pairs(&self) -> Vec<bool> {
        let mut consumers = vec![0usize; self.nodes.len()];
        for node in &self.nodes {
            for slot in &node.inputs {
                if let Slot::Node(j) = slot {
                    consumers[*j] += 1;
                }
            }
        }
        (0..self.nodes.len())
            .map(|i| {
                let Some(next) = self.nodes.get(i + 1) else {
                    return false;
                };
                consumers[i] == 1 && next.inputs == [Slot::Node(i)] && !self.outputs.contains(&Slot::Node(i))
            })
            .collect()
    }

    /// The names of the graph's layers, in the order of their first call.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([2]);
    /// let y = Dense::new(1).with_name("out").call(&x)?;
    /// assert_eq!(Graph::new(&[&x], &[&y])?.layer_names(), vec!["out"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn layer_names(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.name()).collect()
    }

    /// The layer of this name, shared with the graph (e.g. to call it again
    /// in another model, or to freeze it with `set_trainable`).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([2]);
    /// let y = Dense::new(1).call(&x)?;
    /// let g = Graph::new(&[&x], &[&y])?;
    /// assert_eq!(g.layer("dense_1").unwrap().class_name(), "Dense");
    /// assert!(g.layer("nope").is_none());
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn layer(&self, name: &str) -> Option<SharedLayer> {
        self.layers.iter().find(|l| l.name() == name).cloned()
    }

    /// The names of the graph's inputs, in order (each input's
    /// [`crate::functional::Input::named`] name; repeated default names
    /// become `input_layer`, `input_layer_1`, ...).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("image", [4]), Input::named("features", [2]));
    /// let y = Concatenate::new().call_many(&[&a, &b])?;
    /// assert_eq!(Graph::new(&[&a, &b], &[&y])?.input_names(), vec!["image", "features"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }

    /// The sample shape (no batch axis) of each input, in order.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [4]), Input::named("b", [2, 3]));
    /// let y = Dense::new(1).call(&Flatten::new().call(&b)?)?;
    /// let z = Dense::new(1).call(&a)?;
    /// assert_eq!(Graph::new(&[&a, &b], &[&y, &z])?.input_shapes(), vec![vec![4], vec![2, 3]]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn input_shapes(&self) -> Vec<Vec<usize>> {
        self.inputs.iter().map(|i| i.shape.clone()).collect()
    }

    /// The names of the graph's outputs, in order: the name of the layer
    /// that made each (Keras' `output_names`), or an input's name for an
    /// input that is also an output.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([4]);
    /// let class = Dense::new(3).activation(Activation::Softmax).with_name("class").call(&x)?;
    /// let value = Dense::new(1).with_name("value").call(&x)?;
    /// assert_eq!(Graph::new(&[&x], &[&class, &value])?.output_names(), vec!["class", "value"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn output_names(&self) -> Vec<String> {
        self.outputs
            .iter()
            .map(|s| match *s {
                Slot::Input(i) => self.inputs[i].name.clone(),
                Slot::Node(j) => self.layers[self.nodes[j].layer].name(),
            })
            .collect()
    }

    /// The sample shape (no batch axis) of each output, in order.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([4]);
    /// let (p, q) = (Dense::new(3).call(&x)?, Dense::new(1).call(&x)?);
    /// assert_eq!(Graph::new(&[&x], &[&p, &q])?.output_shapes(), vec![vec![3], vec![1]]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn output_shapes(&self) -> Vec<Vec<usize>> {
        self.outputs.iter().map(|s| self.slot_shape(*s)).collect()
    }

    fn slot_shape(&self, slot: Slot) -> Vec<usize> {
        match slot {
            Slot::Input(i) => self.inputs[i].shape.clone(),
            Slot::Node(j) => self.nodes[j].shape.clone(),
        }
    }

    /// The shape each input of node `i` has.
    pub(crate) fn node_input_shapes(&self, node: &GraphNode) -> Vec<Vec<usize>> {
        node.inputs
            .iter()
            .map(|s| match *s {
                Slot::Input(i) => self.inputs[i].shape.clone(),
                Slot::Node(j) => self.nodes[j].shape.clone(),
            })
            .collect()
    }

    /// Errors unless `shapes` are the graph's input shapes (one per input, in order).
    fn check_inputs(&self, shapes: &[Vec<usize>]) -> neurite_nn::Result<()> {
        if shapes.len() != self.inputs.len() {
            return Err(config_error(
                &self.name,
                format!(
                    "the model has {} inputs {:?}, got {} input shapes {shapes:?}",
                    self.inputs.len(),
                    self.input_names(),
                    shapes.len()
                ),
            ));
        }
        for (input, shape) in self.inputs.iter().zip(shapes) {
            if shape != &input.shape {
                return Err(config_error(
                    &self.name,
                    format!(
                        "the model's input {:?} has shape {:?}, got {shape:?}",
                        input.name, input.shape
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Errors unless the graph has one output (what running it as a layer needs).
    fn single_output(&self) -> neurite_nn::Result<()> {
        if self.outputs.len() == 1 {
            return Ok(());
        }
        Err(config_error(
            &self.name,
            format!(
                "the graph has {} outputs {:?}; a layer has one output, so a graph with several outputs cannot be \
                 called as a layer or run through Layer::forward (use Graph::forward_many, or a Model's predict_many)",
                self.outputs.len(),
                self.output_names()
            ),
        ))
    }

    /// Builds every layer that is not built yet, in call order, for the
    /// shapes of its first call (the graph knows its own input shapes).
    pub(crate) fn build_layers(&mut self, rng: &mut Generator) -> neurite_nn::Result<()> {
        for node in &self.nodes {
            let mut layer = self.layers[node.layer].write()?;
            if !layer.is_built() {
                let shapes = self.node_input_shapes(node);
                if layer.input_arity() == InputArity::One {
                    layer.build(&shapes[0], rng)?;
                } else {
                    layer.build_multi(&shapes, rng)?;
                }
            }
        }
        self.built = true;
        Ok(())
    }

    /// Every layer's parameter shapes (the graph's own input shapes).
    fn all_parameter_shapes(&self) -> neurite_nn::Result<Option<ParameterShapes>> {
        let mut all = Vec::new();
        for (index, layer) in self.layers.iter().enumerate() {
            let node = self
                .nodes
                .iter()
                .find(|n| n.layer == index)
                .expect("every layer is called");
            match self.call_parameter_shapes(layer.read()?.as_ref(), node)? {
                Some(s) => all.extend(s),
                None => return Ok(None),
            }
        }
        Ok(Some(all))
    }

    /// Runs one call: the layer on its inputs' values and masks, giving its
    /// output and the output's mask.
    pub(super) fn run(
        layer: &dyn Layer,
        xs: &[Var],
        masks: &[Option<neurite_nn::mask::Mask>],
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<neurite_nn::mask::Masked> {
        if layer.input_arity() == InputArity::One {
            layer.forward_masked(&xs[0], masks[0].as_ref(), ctx)
        } else {
            layer.forward_multi_masked(xs, masks, ctx)
        }
    }
}

impl Layer for Graph {
    fn class_name(&self) -> &'static str {
        "Functional"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    /// Builds every layer, in call order, for the shapes of its first call.
    /// A graph with several inputs is built with [`Layer::build_multi`].
    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> neurite_nn::Result<()> {
        self.check_inputs(&[input_shape.to_vec()])?;
        self.build_layers(rng)
    }

    fn parameter_shapes(&self, input_shape: &[usize]) -> neurite_nn::Result<Option<ParameterShapes>> {
        self.check_inputs(&[input_shape.to_vec()])?;
        self.all_parameter_shapes()
    }

    fn is_built(&self) -> bool {
        self.built && self.layers.iter().all(|l| l.read().is_ok_and(|l| l.is_built()))
    }

    fn output_shape(&self, input_shape: &[usize]) -> neurite_nn::Result<Vec<usize>> {
        self.output_shape_multi(&[input_shape.to_vec()])
    }

    /// Every call in topological order ([`Graph::forward_many`]); the
    /// graph must have one input and one output.
    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> neurite_nn::Result<Var> {
        self.forward_multi(std::slice::from_ref(x), ctx)
    }

    /// One input: [`InputArity::One`]; `n > 1` inputs: exactly `n`, in the
    /// order of [`Graph::input_names`] (so a graph with several inputs can be
    /// called on a list of symbolic tensors inside another graph).
    fn input_arity(&self) -> InputArity {
        match self.inputs.len() {
            1 => InputArity::One,
            n => InputArity::Exactly(n),
        }
    }

    fn build_multi(&mut self, input_shapes: &[Vec<usize>], rng: &mut Generator) -> neurite_nn::Result<()> {
        self.check_inputs(input_shapes)?;
        self.build_layers(rng)
    }

    /// The output's shape; an error for a graph with several outputs.
    fn output_shape_multi(&self, input_shapes: &[Vec<usize>]) -> neurite_nn::Result<Vec<usize>> {
        self.check_inputs(input_shapes)?;
        self.single_output()?;
        Ok(self.slot_shape(self.outputs[0]))
    }

    fn parameter_shapes_multi(
        &self,
        input_shapes: &[Vec<usize>],
    ) -> neurite_nn::Result<Option<ParameterShapes>> {
        self.check_inputs(input_shapes)?;
        self.all_parameter_shapes()
    }

    /// [`Graph::forward_many`]'s single output; an error for a graph with several outputs.
    fn forward_multi(&self, xs: &[Var], ctx: &mut ForwardContext) -> neurite_nn::Result<Var> {
        self.single_output()?;
        let mut outs = self.forward_many(xs, ctx)?;
        Ok(outs.remove(0))
    }

    /// A graph passes masks from its inputs to its output ([`Graph::forward_many_masked`]).
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
        self.single_output()?;
        let mut outs = self.forward_many_masked(xs, Some(masks), ctx)?;
        Ok(outs.remove(0))
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.layers
            .iter()
            .filter_map(|l| l.read().ok())
            .flat_map(|l| {
                let trainable = self.trainable && l.trainable();
                l.parameters().into_iter().map(move |mut p| {
                    p.trainable &= trainable;
                    p
                })
            })
            .collect()
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    fn set_sublayer_trainable(&mut self, path: &str, trainable: bool) -> neurite_nn::Result<()> {
        let (first, rest) = sublayers::split_path(path);
        match self
            .layers
            .iter()
            .find(|l| l.name() == first && !first.is_empty())
        {
            Some(layer) => sublayers::set_within(layer.write()?.as_mut(), rest, trainable),
            None => Err(sublayers::no_such_layer(
                &self.name,
                path,
                first,
                &self.layer_names(),
            )),
        }
    }

    fn frozen_sublayers(&self) -> Vec<String> {
        let guards: Vec<_> = self.layers.iter().filter_map(|l| l.read().ok()).collect();
        sublayers::frozen_paths(guards.iter().map(|g| g.as_ref()))
    }

    fn config(&self) -> serde_json::Value {
        super::config::to_config(self)
    }

    /// The input's shape for a graph with one input; `None` with several
    /// (a graph knows its input shapes: [`Graph::input_shapes`]).
    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        match self.inputs.as_slice() {
            [one] => Some(one.shape.clone()),
            _ => None,
        }
    }
}
