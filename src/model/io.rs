//! A model's inputs and outputs: their names, running the network on one
//! batch per input, building from the data, checking the data's shapes.

use super::Model;
use crate::error::{Error, Result};
use crate::functional::Graph;
use crate::train::arrays::label;
use neurite_autograd::Var;
use neurite_nn::layer::InputArity;
use neurite_nn::{ForwardContext, Layer};
use neurite_rand::Generator;
use neurite_tensor::Tensor;

impl<N: Layer> Model<N> {
    /// The network as a functional graph, when the model was made from one.
    pub(crate) fn graph(&self) -> Option<&Graph> {
        self.as_graph.and_then(|f| f(&self.net))
    }

    /// The names of the model's inputs, in order: a functional model's
    /// [`Graph::input_names`]; empty for other networks, whose input(s) are
    /// passed by order.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::named("pixels", [4]);
    /// let model = Model::functional(&x, &Dense::new(1).call(&x)?)?;
    /// assert_eq!(model.input_names(), vec!["pixels"]);
    /// assert!(Sequential::new().input_names().is_empty());
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn input_names(&self) -> Vec<String> {
        self.graph().map(Graph::input_names).unwrap_or_default()
    }

    /// The names of the model's outputs, in order: for a functional model
    /// the name of the layer that made each ([`Graph::output_names`]), the
    /// prefix of its `<output>_loss` and `<output>_<metric>` logs; empty for
    /// other networks (one output, passed by order).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([4]);
    /// let (a, b) = (Dense::new(1).with_name("a").call(&x)?, Dense::new(1).with_name("b").call(&x)?);
    /// assert_eq!(Model::functional_many(&[&x], &[&a, &b])?.output_names(), vec!["a", "b"]);
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn output_names(&self) -> Vec<String> {
        self.graph().map(Graph::output_names).unwrap_or_default()
    }

    /// One key per output for `compile`: the output names, or one empty
    /// name for a network that does not name its single output.
    pub(crate) fn output_keys(&self) -> Vec<String> {
        match self.graph() {
            Some(g) => g.output_names(),
            None => vec![String::new()],
        }
    }

    /// How many input arrays the model takes, given that the data has `given`.
    pub(crate) fn input_count(&self, given: usize) -> usize {
        match (self.graph(), self.net.input_arity()) {
            (Some(g), _) => g.input_names().len(),
            (None, InputArity::One) => 1,
            (None, InputArity::Exactly(n)) => n,
            (None, InputArity::AtLeast(n)) => given.max(n),
        }
    }

    /// How many outputs the model has.
    pub(crate) fn output_count(&self) -> usize {
        self.graph().map_or(1, |g| g.output_names().len())
    }

    /// Runs the network on one batch per input (recording the autograd
    /// graph unless under `no_grad`), returning one batch per output: for a
    /// functional model all outputs in one pass ([`Graph::forward_many`]).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [2]), Input::named("b", [3]));
    /// let y = Dense::new(1).call(&Concatenate::new().call_many(&[&a, &b])?)?;
    /// let mut model = Model::functional_many(&[&a, &b], &[&y, &b])?;
    /// model.build_inputs(&[vec![2], vec![3]])?;
    /// let xs = [Var::from_array(ndarray::Array2::<f32>::ones((4, 2))), Var::from_array(ndarray::Array2::<f32>::ones((4, 3)))];
    /// let outs = model.forward_many(&xs, &mut ForwardContext::inference())?;
    /// assert_eq!((outs[0].shape(), outs[1].shape()), (vec![4, 1], vec![4, 3]));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn forward_many(&self, xs: &[Var], ctx: &mut ForwardContext) -> Result<Vec<Var>> {
        if let Some(g) = self.graph() {
            return Ok(g.forward_many(xs, ctx)?);
        }
        Ok(vec![match (self.net.input_arity(), xs) {
            (InputArity::One, [x]) => self.net.forward(x, ctx)?,
            _ => self.net.forward_multi(xs, ctx)?,
        }])
    }

    /// Builds the weights for samples of these shapes, one per input (no
    /// batch axis); for one input this is [`Model::build`].
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [2]), Input::named("b", [3]));
    /// let y = Dense::new(1).call(&Concatenate::new().call_many(&[&a, &b])?)?;
    /// let mut model = Model::functional_many(&[&a, &b], &[&y])?;
    /// assert!(model.build_inputs(&[vec![2], vec![4]]).unwrap_err().to_string().contains("\"b\""));
    /// model.build_inputs(&[vec![2], vec![3]])?;
    /// assert!(model.is_built());
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn build_inputs(&mut self, shapes: &[Vec<usize>]) -> Result<()> {
        if let [one] = shapes {
            if self.net.input_arity() == InputArity::One {
                return self.build(one);
            }
        }
        let mut rng = Generator::seed_from_u64(self.seed);
        self.net.build_multi(shapes, &mut rng)?;
        self.input_shapes = Some(shapes.to_vec());
        Ok(())
    }

    /// The per-sample shapes of the model's inputs, if known (declared, built, or a functional model's).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [2]), Input::named("b", [3, 1]));
    /// let y = Dense::new(1).call(&a)?;
    /// let z = Dense::new(1).call(&b)?;
    /// assert_eq!(Model::functional_many(&[&a, &b], &[&y, &z])?.input_shapes(), Some(vec![vec![2], vec![3, 1]]));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn input_shapes(&self) -> Option<Vec<Vec<usize>>> {
        if let Some(shapes) = &self.input_shapes {
            return Some(shapes.clone());
        }
        if let Some(g) = self.graph() {
            return Some(g.input_shapes());
        }
        self.input_shape().map(|s| vec![s])
    }

    /// Builds from what the network declares, if it declares its input shape(s).
    pub(crate) fn build_if_declared(&mut self) -> Result<()> {
        if self.net.is_built() {
            return Ok(());
        }
        if let Some(shapes) = self.graph().map(Graph::input_shapes) {
            return self.build_inputs(&shapes);
        }
        if let Some(shape) = self.net.declared_input_shape() {
            self.build(&shape)?;
        }
        Ok(())
    }

    /// Builds (if needed) from the declared shapes, else from the data's sample shapes.
    pub(crate) fn ensure_built_from_arrays(&mut self, xs: &[&Tensor]) -> Result<()> {
        self.build_if_declared()?;
        if self.net.is_built() {
            return Ok(());
        }
        let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape()[1..].to_vec()).collect();
        self.build_inputs(&shapes)
    }

    /// Checks each input array's sample shape against the network (errors
    /// name the input and the layer that refuses it).
    pub(crate) fn check_inputs(&self, what: &str, xs: &[&Tensor]) -> Result<()> {
        let names = self.input_names();
        for (i, x) in xs.iter().enumerate() {
            if x.ndim() == 0 {
                return Err(Error::Input(format!(
                    "{what}: {} needs a batch axis, found a scalar",
                    label("x", &names, i, xs.len())
                )));
            }
        }
        if let Some(g) = self.graph() {
            for (i, (x, want)) in xs.iter().zip(g.input_shapes()).enumerate() {
                if x.shape()[1..] != want[..] {
                    return Err(Error::Input(format!(
                        "{what}: input {:?} takes samples of shape {want:?}, but {} has samples of shape {:?} (array {:?})",
                        names[i],
                        label("x", &names, i, xs.len()),
                        &x.shape()[1..],
                        x.shape()
                    )));
                }
            }
            return Ok(());
        }
        let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape()[1..].to_vec()).collect();
        let checked = match shapes.as_slice() {
            [one] if self.net.input_arity() == InputArity::One => self.net.output_shape(one),
            _ => self.net.output_shape_multi(&shapes),
        };
        checked.map_err(|e| Error::Input(format!("{what}: {e}")))?;
        Ok(())
    }
}
