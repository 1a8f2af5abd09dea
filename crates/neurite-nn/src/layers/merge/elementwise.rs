//! The element-wise merge layers: `Add`, `Subtract`, `Multiply`,
//! `Average`, `Maximum`, `Minimum`, with Keras' shape rule
//! (`Merge._compute_elemwise_op_output_shape`): the sample shapes (without
//! the batch axis) are aligned on their last axes, each pair of axes must
//! be equal or one of them 1, and a lower-rank input gets new axes of size
//! 1 right after its batch axis (Keras' `expand_dims(x, axis=1)`).
//!
//! With masked inputs ([`Layer::forward_multi_masked`]) they do what Keras
//! 3's `_merge_function`s do: `Multiply` puts ones at an input's masked
//! steps and, when every input has a mask, zeros the output where all are
//! masked; `Maximum` and `Minimum` take the other inputs' values at an
//! input's masked steps (`Merge._apply_merge_op_and_or_mask`); `Add`,
//! `Subtract` and `Average` ignore the masks. The output mask is the OR of
//! the inputs' masks. Keras broadcasts a mask over a last features axis;
//! here over every axis after the time axis.

use super::{check_count, merge_layer_methods, sample_shapes};
use crate::context::ForwardContext;
use crate::error::{NnError, Result};
use crate::layer::{InputArity, Layer};
use crate::layers::default_true;
use crate::mask::Mask;
use ndarray::{IxDyn, Zip};
use neurite_autograd::{ops, Var};
use neurite_tensor::broadcast::broadcast_shape;
use neurite_tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Configuration of the element-wise merge layers ([`Add`], [`Subtract`],
/// [`Multiply`], [`Average`], [`Maximum`], [`Minimum`]): Keras' base layer
/// keys only.
///
/// ```
/// let c: neurite_nn::layers::MergeConfig = serde_json::from_value(serde_json::json!({"name": "add_1"})).unwrap();
/// assert!(c.trainable);
/// assert!(c.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeConfig {
    /// Layer name.
    pub name: String,
    /// Kept for API symmetry (no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
}

impl MergeConfig {
    /// Checks the fields (an element-wise merge has nothing that can be
    /// wrong before it sees its inputs); run by [`crate::layer_from_config`].
    ///
    /// ```
    /// use neurite_nn::layers::Add;
    /// assert!(Add::new().config_struct().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// The element-wise operation of a merge layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MergeOp {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

/// Keras' `_compute_elemwise_op_output_shape` for two sample shapes.
fn pair_shape(layer: &str, s1: &[usize], s2: &[usize], all: &[Vec<usize>]) -> Result<Vec<usize>> {
    if s1.len() < s2.len() {
        return pair_shape(layer, s2, s1, all);
    }
    let lead = s1.len() - s2.len();
    let mut out = s1[..lead].to_vec();
    for (&i, &j) in s1[lead..].iter().zip(s2) {
        out.push(match (i, j) {
            (1, j) => j,
            (i, 1) => i,
            (i, j) if i == j => i,
            _ => {
                return Err(NnError::Shape {
                    layer: layer.to_string(),
                    expected: format!(
                        "sample shapes that broadcast (aligned on the last axis, each axis equal or 1); \
                         {s1:?} and {s2:?} do not (all input shapes: {all:?})"
                    ),
                    found: s2.to_vec(),
                })
            }
        });
    }
    Ok(out)
}

/// The merged sample shape of `shapes` (Keras' rule, folded left to right).
fn elementwise_shape(layer: &str, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
    let mut out = shapes[0].clone();
    for s in &shapes[1..] {
        out = pair_shape(layer, &out, s, shapes)?;
    }
    Ok(out)
}

/// The inputs of an element-wise merge after the checks (count, batch sizes,
/// shapes that broadcast), each lower-rank input with new axes of size 1
/// right after its batch axis (Keras' `expand_dims(x, axis=1)`).
fn checked_inputs(layer: &str, class: &str, arity: InputArity, xs: &[Var]) -> Result<Vec<Var>> {
    check_count(layer, class, arity, xs.len())?;
    let shapes = sample_shapes(layer, xs)?;
    elementwise_shape(layer, &shapes)?;
    let rank = xs.iter().map(Var::ndim).max().unwrap_or(0);
    xs.iter()
        .map(|x| {
            let s = x.shape();
            if s.len() == rank {
                return Ok(x.clone());
            }
            let mut t = vec![s[0]];
            t.extend(std::iter::repeat_n(1, rank - s.len()));
            t.extend_from_slice(&s[1..]);
            Ok(ops::reshape(x, &t)?)
        })
        .collect()
}

/// `op` folded left to right over `inputs` (the unmasked merge).
fn fold(op: MergeOp, inputs: &[Var]) -> Result<Var> {
    let mut acc = inputs[0].clone();
    for x in &inputs[1..] {
        acc = match op {
            MergeOp::Add | MergeOp::Average => ops::add(&acc, x)?,
            MergeOp::Subtract => ops::sub(&acc, x)?,
            MergeOp::Multiply => ops::mul(&acc, x)?,
            MergeOp::Maximum => ops::maximum(&acc, x)?,
            MergeOp::Minimum => ops::minimum(&acc, x)?,
        };
    }
    if op == MergeOp::Average {
        acc = ops::mul_scalar(&acc, 1.0 / inputs.len() as f32)?;
    }
    Ok(acc)
}

/// The forward pass of an element-wise merge layer.
fn elementwise_merge(layer: &str, class: &str, arity: InputArity, op: MergeOp, xs: &[Var]) -> Result<Var> {
    fold(op, &checked_inputs(layer, class, arity, xs)?)
}

/// A `(batch, timesteps)` mask as a 0/1 condition of `rank` axes,
/// `(batch, timesteps, 1, ..., 1)` (Keras' `expand_dims(mask, -1)`
/// broadcast over the features).
fn condition(mask: &Mask, rank: usize) -> Tensor {
    let mut shape = mask.shape().to_vec();
    shape.resize(rank.max(2), 1);
    crate::mask::normalized(mask)
        .into_shape_with_order(IxDyn(&shape))
        .expect("same number of elements")
}

/// The element-wise OR of two 0/1 conditions, broadcast together (Keras'
/// `logical_or`).
fn or_conditions(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let shape = broadcast_shape("logical_or", a.shape(), b.shape())?;
    let (va, vb) = (a.broadcast(IxDyn(&shape)), b.broadcast(IxDyn(&shape)));
    let (Some(va), Some(vb)) = (va, vb) else {
        return Err(neurite_tensor::TensorError::shape(
            "logical_or",
            a.shape(),
            b.shape(),
            "masks do not broadcast",
        )
        .into());
    };
    Ok(Zip::from(&va)
        .and(&vb)
        .map_collect(|&x, &y| if x != 0.0 || y != 0.0 { 1.0 } else { 0.0 }))
}

/// A rank-0 constant.
fn scalar(v: f32) -> Var {
    Var::constant(Tensor::from_elem(IxDyn(&[]), v))
}

/// Keras 3's `Multiply._merge_function` with masks: each masked input has
/// ones at its masked steps; when every input has a mask, the product is
/// zeroed where all of them are masked (outside the OR of the masks).
fn multiply_masked(inputs: &[Var], conds: &[Option<Tensor>]) -> Result<Var> {
    let every = conds.iter().all(Option::is_some);
    let one = scalar(1.0);
    let mut out: Option<Var> = None;
    let mut out_cond: Option<Tensor> = None;
    for (x, c) in inputs.iter().zip(conds) {
        let x = match c {
            Some(c) => {
                if every {
                    out_cond = Some(match out_cond {
                        None => c.clone(),
                        Some(o) => or_conditions(&o, c)?,
                    });
                }
                ops::where_select(c, x, &one)?
            }
            None => x.clone(),
        };
        out = Some(match out {
            None => x,
            Some(o) => ops::mul(&o, &x)?,
        });
    }
    let out = out.expect("a merge has at least one input");
    Ok(match out_cond {
        Some(c) => ops::where_select(&c, &out, &scalar(0.0))?,
        None => out,
    })
}

/// Keras 3's `Merge._apply_merge_op_and_or_mask` (`Maximum`, `Minimum`):
/// folding left to right, the masked steps of the next input take the
/// running result's value and the masked steps of the running result take
/// the (substituted) input's, so a step masked on one side is the other
/// side's value; the running mask is the OR of the masks while every input
/// so far has one, and none after an input without.
fn max_min_masked(op: MergeOp, inputs: &[Var], conds: &[Option<Tensor>]) -> Result<Var> {
    let mut out = inputs[0].clone();
    let mut out_cond = conds[0].clone();
    for (x, c) in inputs[1..].iter().zip(&conds[1..]) {
        let x = match c {
            Some(c) => ops::where_select(c, x, &out)?,
            None => x.clone(),
        };
        if let Some(o) = &out_cond {
            out = ops::where_select(o, &out, &x)?;
        }
        out_cond = match (c, out_cond) {
            (Some(c), Some(o)) => Some(or_conditions(&o, c)?),
            _ => None,
        };
        out = match op {
            MergeOp::Maximum => ops::maximum(&out, &x)?,
            _ => ops::minimum(&out, &x)?,
        };
    }
    Ok(out)
}

/// The forward pass with one mask (or `None`) per input, as Keras 3's
/// `_merge_function`s: `Multiply` puts ones at masked steps and, when every
/// input has a mask, zeros where all are masked ([`multiply_masked`]);
/// `Maximum` and `Minimum` take the other inputs' values at masked steps
/// ([`max_min_masked`]); `Add`, `Subtract` and `Average` ignore the masks.
/// An input of lower rank than the others loses its mask here, as Keras'
/// `expand_dims` does (a new tensor has no `_keras_mask`).
fn elementwise_merge_masked(
    layer: &str,
    class: &str,
    arity: InputArity,
    op: MergeOp,
    xs: &[Var],
    masks: &[Option<Mask>],
) -> Result<Var> {
    let inputs = checked_inputs(layer, class, arity, xs)?;
    let rank = xs.iter().map(Var::ndim).max().unwrap_or(0);
    let conds: Vec<Option<Tensor>> = xs
        .iter()
        .zip(masks)
        .map(|(x, m)| {
            m.as_ref()
                .filter(|_| x.ndim() == rank)
                .map(|m| condition(m, rank))
        })
        .collect();
    if conds.iter().all(Option::is_none) {
        return fold(op, &inputs);
    }
    match op {
        MergeOp::Multiply => multiply_masked(&inputs, &conds),
        MergeOp::Maximum | MergeOp::Minimum => max_min_masked(op, &inputs, &conds),
        MergeOp::Add | MergeOp::Subtract | MergeOp::Average => fold(op, &inputs),
    }
}

/// `Add` of two inputs of one shape followed by a plain `ReLU`: one node of
/// [`ops::add_relu`] (the same values and gradients as the two layers).
/// `None` for any other merge, next layer or inputs.
fn add_relu_merge(
    layer: &str,
    class: &str,
    arity: InputArity,
    op: MergeOp,
    next: &dyn Layer,
    xs: &[Var],
) -> Option<Result<Var>> {
    if op != MergeOp::Add || xs.len() != 2 || xs[0].shape() != xs[1].shape() || !next.is_plain_relu() {
        return None;
    }
    let run = || -> Result<Var> {
        check_count(layer, class, arity, xs.len())?;
        let shapes = sample_shapes(layer, xs)?;
        elementwise_shape(layer, &shapes)?;
        Ok(ops::add_relu(&xs[0], &xs[1])?)
    };
    Some(run())
}

macro_rules! elementwise_layer {
    ($(#[$doc:meta])* $ty:ident, $class:literal, $default:literal, $arity:expr, $op:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $ty {
            cfg: MergeConfig,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $ty {
            const ARITY: InputArity = $arity;

            #[doc = concat!("A `", $class, "` layer named `\"", $default, "\"`.\n\n```\nuse neurite_nn::Layer;\n",
                "assert_eq!(neurite_nn::layers::", stringify!($ty), "::new().name(), \"", $default, "\");\n```")]
            pub fn new() -> Self {
                $ty {
                    cfg: MergeConfig {
                        name: $default.into(),
                        trainable: true,
                    },
                }
            }

            #[doc = concat!("The layer from its configuration.\n\n```\nuse neurite_nn::layers::", stringify!($ty), ";\n",
                "let l = ", stringify!($ty), "::new().with_name(\"m\");\n",
                "assert_eq!(", stringify!($ty), "::from_config(l.config_struct().clone()).config_struct(), l.config_struct());\n```")]
            pub fn from_config(cfg: MergeConfig) -> Self {
                $ty { cfg }
            }

            #[doc = concat!("The typed configuration.\n\n```\n",
                "assert_eq!(neurite_nn::layers::", stringify!($ty), "::new().config_struct().name, \"", $default, "\");\n```")]
            pub fn config_struct(&self) -> &MergeConfig {
                &self.cfg
            }

            #[doc = concat!("Sets the layer name (builder form of [`Layer::set_name`]).\n\n```\nuse neurite_nn::Layer;\n",
                "assert_eq!(neurite_nn::layers::", stringify!($ty), "::new().with_name(\"m\").name(), \"m\");\n```")]
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.cfg.name = name.into();
                self
            }

            fn merged_shape(&self, shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
                check_count(&self.cfg.name, $class, Self::ARITY, shapes.len())?;
                elementwise_shape(&self.cfg.name, shapes)
            }

            fn merge(&self, xs: &[Var]) -> Result<Var> {
                elementwise_merge(&self.cfg.name, $class, Self::ARITY, $op, xs)
            }
        }

        impl $ty {
            /// Keras' `_Merge.compute_mask`: the OR of the inputs' masks,
            /// `None` unless every input has one.
            fn merged_mask(
                &self,
                _xs: &[neurite_autograd::Var],
                masks: &[Option<$crate::mask::Mask>],
            ) -> Option<$crate::mask::Mask> {
                $crate::mask::or_all(masks)
            }
        }

        impl Layer for $ty {
            merge_layer_methods!($class);

            /// Keras 3's merge with masked inputs (each mask `(batch,
            /// timesteps)` of its input, else an error naming the layer and
            /// both shapes): `Multiply` uses ones at an input's masked steps
            /// and, when every input has a mask, zeros where all are masked;
            /// `Maximum`/`Minimum` take the other inputs' values at an
            /// input's masked steps; `Add`, `Subtract` and `Average` merge as
            /// without masks. The output mask is the OR of the masks (`None`
            /// unless every input has one).
            fn forward_multi_masked(
                &self,
                xs: &[Var],
                masks: &[Option<$crate::mask::Mask>],
                _ctx: &mut ForwardContext,
            ) -> Result<$crate::mask::Masked> {
                if masks.len() != xs.len() {
                    return Err(NnError::Config {
                        layer: self.cfg.name.clone(),
                        message: format!("{} inputs were given with {} masks", xs.len(), masks.len()),
                    });
                }
                for (x, m) in xs.iter().zip(masks) {
                    $crate::mask::check_optional_mask(&self.cfg.name, &x.shape(), m.as_ref())?;
                }
                let y = elementwise_merge_masked(&self.cfg.name, $class, Self::ARITY, $op, xs, masks)?;
                Ok((y, self.merged_mask(xs, masks)))
            }

            fn forward_multi_fused(
                &self,
                next: &dyn Layer,
                xs: &[Var],
                _ctx: &mut ForwardContext,
            ) -> Option<Result<Var>> {
                add_relu_merge(&self.cfg.name, $class, Self::ARITY, $op, next, xs)
            }
        }
    };
}

elementwise_layer!(
    /// Keras' `Add`: the element-wise sum of 2 or more inputs (Keras' broadcasting rule, see the module).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Add;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let a = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
    /// let b = Var::from_array(ndarray::arr2(&[[10.0f32], [20.0]])); // (batch, 1) broadcasts
    /// let y = Add::new().forward_multi(&[a, b], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[11.0f32, 12.0], [23.0, 24.0]]).into_dyn());
    /// assert_eq!(Add::new().output_shape_multi(&[vec![4, 3], vec![3]])?, vec![4, 3]);
    /// assert!(Add::new().output_shape_multi(&[vec![4, 3], vec![2]]).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    Add, "Add", "add", InputArity::AtLeast(2), MergeOp::Add
);

elementwise_layer!(
    /// Keras' `Subtract`: `inputs[0] - inputs[1]`, exactly 2 inputs.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Subtract;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let a = Var::from_array(ndarray::arr2(&[[5.0f32, 7.0]]));
    /// let b = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
    /// let y = Subtract::new().forward_multi(&[a.clone(), b.clone()], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[4.0f32, 5.0]]).into_dyn());
    /// assert!(Subtract::new().forward_multi(&[a.clone(), b, a], &mut ForwardContext::inference()).is_err());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    Subtract, "Subtract", "subtract", InputArity::Exactly(2), MergeOp::Subtract
);

elementwise_layer!(
    /// Keras' `Multiply`: the element-wise product of 2 or more inputs.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Multiply;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let a = Var::from_array(ndarray::arr2(&[[2.0f32, 3.0]]));
    /// let y = Multiply::new().forward_multi(&[a.clone(), a.clone(), a], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[8.0f32, 27.0]]).into_dyn());
    /// // With masks (Keras 3): ones at an input's masked steps, zero where every input is masked.
    /// let x = Var::from_array(ndarray::arr3(&[[[2.0f32], [3.0], [5.0]]]));
    /// let ma = ndarray::arr2(&[[1.0f32, 0.0, 0.0]]).into_dyn();
    /// let mb = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
    /// let (y, m) = Multiply::new().forward_multi_masked(&[x.clone(), x], &[Some(ma), Some(mb.clone())], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![4.0, 3.0, 0.0]);
    /// assert_eq!(m, Some(mb));
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    Multiply, "Multiply", "multiply", InputArity::AtLeast(2), MergeOp::Multiply
);

elementwise_layer!(
    /// Keras' `Average`: the element-wise mean of 2 or more inputs (their
    /// sum, left to right, times `1 / n`).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Average;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let a = Var::from_array(ndarray::arr2(&[[2.0f32, 4.0]]));
    /// let b = Var::from_array(ndarray::arr2(&[[4.0f32, 8.0]]));
    /// let y = Average::new().forward_multi(&[a, b], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[3.0f32, 6.0]]).into_dyn());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    Average, "Average", "average", InputArity::AtLeast(2), MergeOp::Average
);

elementwise_layer!(
    /// Keras' `Maximum`: the element-wise maximum of 2 or more inputs,
    /// folded left to right. On a tie the whole gradient goes to the
    /// earliest input, as with Keras on TensorFlow (`tf.maximum`'s gradient
    /// uses `x >= y`); JAX's `maximum` would split it between the tied inputs.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// use neurite_nn::layers::Maximum;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let a = Var::parameter(ndarray::arr2(&[[1.0f32, 5.0, 2.0]]).into_dyn());
    /// let b = Var::parameter(ndarray::arr2(&[[3.0f32, 4.0, 2.0]]).into_dyn());
    /// let y = Maximum::new().forward_multi(&[a.clone(), b.clone()], &mut ForwardContext::training(0))?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[3.0f32, 5.0, 2.0]]).into_dyn());
    /// ops::sum_all(&y)?.backward()?;
    /// assert_eq!(a.grad().unwrap(), ndarray::arr2(&[[0.0f32, 1.0, 1.0]]).into_dyn()); // the tie goes to `a`
    /// assert_eq!(b.grad().unwrap(), ndarray::arr2(&[[1.0f32, 0.0, 0.0]]).into_dyn());
    /// // With masks (Keras 3): a step masked in one input is the other input's value.
    /// let a = Var::from_array(ndarray::arr3(&[[[1.0f32], [9.0], [4.0]]]));
    /// let b = Var::from_array(ndarray::arr3(&[[[3.0f32], [2.0], [7.0]]]));
    /// let ma = ndarray::arr2(&[[1.0f32, 0.0, 0.0]]).into_dyn();
    /// let mb = ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn();
    /// let (y, _) = Maximum::new().forward_multi_masked(&[a, b], &[Some(ma), Some(mb)], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor().into_raw_vec_and_offset().0, vec![3.0, 2.0, 4.0]);
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    Maximum, "Maximum", "maximum", InputArity::AtLeast(2), MergeOp::Maximum
);

elementwise_layer!(
    /// Keras' `Minimum`: the element-wise minimum of 2 or more inputs; on a
    /// tie the gradient goes to the earliest input (as `Maximum`).
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// use neurite_nn::layers::Minimum;
    /// use neurite_nn::{ForwardContext, Layer};
    /// let a = Var::from_array(ndarray::arr2(&[[1.0f32, 5.0]]));
    /// let b = Var::from_array(ndarray::arr2(&[[3.0f32, 4.0]]));
    /// let y = Minimum::new().forward_multi(&[a, b], &mut ForwardContext::inference())?;
    /// assert_eq!(y.to_tensor(), ndarray::arr2(&[[1.0f32, 4.0]]).into_dyn());
    /// # Ok::<(), neurite_nn::NnError>(())
    /// ```
    Minimum, "Minimum", "minimum", InputArity::AtLeast(2), MergeOp::Minimum
);
