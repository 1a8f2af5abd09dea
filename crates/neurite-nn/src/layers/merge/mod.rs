//! Merge layers: layers called on a list of tensors (Keras'
//! `keras.layers.merging`): `Add`, `Subtract`, `Multiply`, `Average`,
//! `Maximum`, `Minimum` (element-wise, with Keras' broadcasting rule),
//! `Concatenate` and `Dot`.
//!
//! They implement the `_multi` methods of [`crate::Layer`]
//! ([`crate::Layer::forward_multi`], ...); their single-input methods return
//! an error ("Add takes a list of 2 or more inputs, got one tensor").
//! With masked inputs they follow Keras 3: the output mask is the OR of the
//! inputs' masks, and `Multiply`, `Maximum` and `Minimum` substitute the
//! masked steps of their inputs (see `elementwise.rs`).
//!
//! ```
//! use neurite_autograd::Var;
//! use neurite_nn::layers::Add;
//! use neurite_nn::{ForwardContext, Layer};
//! let a = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
//! let b = Var::from_array(ndarray::arr2(&[[10.0f32, 20.0]]));
//! let y = Add::new().forward_multi(&[a.clone(), b], &mut ForwardContext::inference())?;
//! assert_eq!(y.to_tensor(), ndarray::arr2(&[[11.0f32, 22.0]]).into_dyn());
//! assert!(Add::new().forward(&a, &mut ForwardContext::inference()).is_err());
//! # Ok::<(), neurite_nn::NnError>(())
//! ```

mod concatenate;
mod dot;
mod elementwise;

pub use concatenate::{Concatenate, ConcatenateConfig};
pub use dot::{Dot, DotAxes, DotConfig};
pub use elementwise::{Add, Average, Maximum, MergeConfig, Minimum, Multiply, Subtract};

use crate::error::{NnError, Result};
use crate::layer::InputArity;
use neurite_autograd::Var;

/// Errors unless `count` inputs are allowed by `arity` (naming the layer and its class).
pub(crate) fn check_count(layer: &str, class: &str, arity: InputArity, count: usize) -> Result<()> {
    if arity.accepts(count) {
        return Ok(());
    }
    Err(NnError::Config {
        layer: layer.to_string(),
        message: format!(
            "{class} takes {arity}, got {}",
            if count == 1 {
                "a list of 1 input".to_string()
            } else {
                format!("a list of {count} inputs")
            }
        ),
    })
}

/// The shapes of `xs` without their batch axis, after checking that every
/// input has a batch axis and that all batch sizes agree (Keras: "Cannot
/// merge tensors with different batch sizes").
pub(crate) fn sample_shapes(layer: &str, xs: &[Var]) -> Result<Vec<Vec<usize>>> {
    let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape()).collect();
    let mut batch = None;
    for s in &shapes {
        let Some(&b) = s.first() else {
            return Err(NnError::Shape {
                layer: layer.to_string(),
                expected: "inputs with a batch axis, (batch, ...)".into(),
                found: s.clone(),
            });
        };
        match batch {
            Some(b0) if b0 != b => {
                return Err(NnError::Shape {
                    layer: layer.to_string(),
                    expected: format!(
                        "the batch size {b0} of the first input (all input shapes: {shapes:?})"
                    ),
                    found: s.clone(),
                })
            }
            _ => batch = Some(b),
        }
    }
    Ok(shapes.into_iter().map(|s| s[1..].to_vec()).collect())
}

/// The methods of [`crate::Layer`] every merge layer implements the same
/// way: names, config, no weights, the single-input methods as errors and
/// the `_multi` methods through the layer's `merged_shape` and `merge`.
macro_rules! merge_layer_methods {
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }

        fn name(&self) -> &str {
            &self.cfg.name
        }

        fn set_name(&mut self, name: String) {
            self.cfg.name = name;
        }

        fn trainable(&self) -> bool {
            self.cfg.trainable
        }

        fn set_trainable(&mut self, trainable: bool) {
            self.cfg.trainable = trainable;
        }

        fn config(&self) -> serde_json::Value {
            serde_json::to_value(&self.cfg).expect("layer configs serialize to JSON")
        }

        fn input_arity(&self) -> $crate::layer::InputArity {
            Self::ARITY
        }

        fn build(&mut self, _input_shape: &[usize], _rng: &mut neurite_rand::Generator) -> Result<()> {
            Err($crate::layer::single_input_error(
                &self.cfg.name,
                $class,
                Self::ARITY,
            ))
        }

        fn is_built(&self) -> bool {
            true
        }

        fn output_shape(&self, _input_shape: &[usize]) -> Result<Vec<usize>> {
            Err($crate::layer::single_input_error(
                &self.cfg.name,
                $class,
                Self::ARITY,
            ))
        }

        fn parameter_shapes(&self, _input_shape: &[usize]) -> Result<Option<$crate::layer::ParameterShapes>> {
            Err($crate::layer::single_input_error(
                &self.cfg.name,
                $class,
                Self::ARITY,
            ))
        }

        fn forward(
            &self,
            _x: &neurite_autograd::Var,
            _ctx: &mut $crate::context::ForwardContext,
        ) -> Result<neurite_autograd::Var> {
            Err($crate::layer::single_input_error(
                &self.cfg.name,
                $class,
                Self::ARITY,
            ))
        }

        fn parameters(&self) -> Vec<$crate::layer::Parameter> {
            Vec::new()
        }

        fn build_multi(
            &mut self,
            input_shapes: &[Vec<usize>],
            _rng: &mut neurite_rand::Generator,
        ) -> Result<()> {
            self.merged_shape(input_shapes).map(|_| ())
        }

        fn output_shape_multi(&self, input_shapes: &[Vec<usize>]) -> Result<Vec<usize>> {
            self.merged_shape(input_shapes)
        }

        fn parameter_shapes_multi(
            &self,
            input_shapes: &[Vec<usize>],
        ) -> Result<Option<$crate::layer::ParameterShapes>> {
            self.merged_shape(input_shapes).map(|_| Some(Vec::new()))
        }

        fn forward_multi(
            &self,
            xs: &[neurite_autograd::Var],
            _ctx: &mut $crate::context::ForwardContext,
        ) -> Result<neurite_autograd::Var> {
            self.merge(xs)
        }

        /// Keras' merge layers support masking: the output's mask combines
        /// the inputs' (see each layer's `merged_mask`).
        fn supports_masking(&self) -> bool {
            true
        }

        fn compute_mask_multi(
            &self,
            xs: &[neurite_autograd::Var],
            masks: &[Option<$crate::mask::Mask>],
        ) -> Result<Option<$crate::mask::Mask>> {
            Ok(self.merged_mask(xs, masks))
        }
    };
}
pub(crate) use merge_layer_methods;
