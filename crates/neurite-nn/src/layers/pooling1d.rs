//! 1-d pooling layers: `MaxPooling1D`, `AveragePooling1D`,
//! `GlobalMaxPooling1D`, `GlobalAveragePooling1D` on `(batch, steps,
//! channels)` (Keras semantics), over the 2-d pooling kernels (see
//! [`neurite_autograd::ops::max_pool1d`]).

use super::seq_serde::{one_int, opt_one_int};
use super::{common_layer_methods, default_true, padding_serde, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use crate::mask::{check_mask, Mask, Masked};
use neurite_autograd::ops::{self, Pool1dParams};
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::{conv_output_size, Padding};
use serde::{Deserialize, Serialize};

fn two() -> usize {
    2
}

/// Configuration of [`MaxPooling1D`] and [`AveragePooling1D`] (Keras'
/// keys; `pool_size` and `strides` read as an integer or a one-element list).
///
/// ```
/// let c: neurite_nn::layers::Pooling1DConfig =
///     serde_json::from_value(serde_json::json!({"name": "p", "pool_size": [3]})).unwrap();
/// assert_eq!((c.pool_size, c.strides), (3, None)); // strides = pool_size
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pooling1DConfig {
    /// Layer name.
    pub name: String,
    /// Steps per window (Keras' default 2).
    #[serde(default = "two", with = "one_int")]
    pub pool_size: usize,
    /// Step between windows; `None` means the pool size (Keras' default).
    #[serde(default, with = "opt_one_int")]
    pub strides: Option<usize>,
    /// `"valid"` (default) or `"same"`.
    #[serde(default, with = "padding_serde")]
    pub padding: Padding,
    /// Kept for API symmetry (pooling has no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `[steps, channels]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl Pooling1DConfig {
    /// Checks every field for values that can never work (pool_size or
    /// strides 0, a declared input shape with a 0 dimension); errors name
    /// the layer and the field.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::MaxPooling1D::new(2).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.strides = Some(0);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("max_pooling1d") && e.contains("strides"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::positive(&self.name, "pool_size", self.pool_size)?;
        if let Some(s) = self.strides {
            checks::positive(&self.name, "strides", s)?;
        }
        checks::input_shape(&self.name, &self.input_shape)
    }

    fn params(&self) -> Pool1dParams {
        Pool1dParams {
            pool_size: self.pool_size,
            stride: self.strides.unwrap_or(self.pool_size),
            padding: self.padding,
        }
    }

    /// Output shape for a `[steps, channels]` input (`with_batch`: the
    /// error worded for a batch `(batch, steps, channels)`).
    fn out_shape(&self, shape: &[usize], with_batch: bool) -> Result<Vec<usize>> {
        self.validate()?;
        let expected = format!(
            "({}steps, channels) with steps at least the pool size {} for valid padding",
            if with_batch { "batch, " } else { "" },
            self.pool_size
        );
        let per = if with_batch { shape.get(1..) } else { Some(shape) };
        let err = || shape_error(&self.name, expected.clone(), shape);
        let per = per.filter(|s| s.len() == 2).ok_or_else(err)?;
        let p = self.params();
        let (out, _, _) = conv_output_size(per[0], p.pool_size, p.stride, 1, p.padding).map_err(|_| err())?;
        Ok(vec![out, per[1]])
    }
}

macro_rules! pooling1d_layer {
    ($ty:ident, $class:literal, $default_name:literal, $op:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $ty {
            cfg: Pooling1DConfig,
        }

        impl $ty {
            /// A pooling layer with a `pool_size` window, strides equal to
            /// the pool size and valid padding (Keras' defaults).
            ///
            /// ```
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new(2);")]
            /// assert_eq!(p.config_struct().pool_size, 2);
            /// ```
            pub fn new(pool_size: usize) -> Self {
                $ty {
                    cfg: Pooling1DConfig {
                        name: $default_name.into(),
                        pool_size,
                        strides: None,
                        padding: Padding::Valid,
                        trainable: true,
                        input_shape: None,
                    },
                }
            }

            /// The layer from its configuration.
            ///
            /// ```
            #[doc = concat!("use neurite_nn::layers::", stringify!($ty), ";")]
            #[doc = concat!("let p = ", stringify!($ty), "::new(3);")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::from_config(p.config_struct().clone()).config_struct(), p.config_struct());")]
            /// ```
            pub fn from_config(cfg: Pooling1DConfig) -> Self {
                $ty { cfg }
            }

            /// The typed configuration.
            ///
            /// ```
            #[doc = concat!("assert_eq!(neurite_nn::layers::", stringify!($ty), "::new(4).config_struct().pool_size, 4);")]
            /// ```
            pub fn config_struct(&self) -> &Pooling1DConfig {
                &self.cfg
            }

            /// Sets the layer name (builder form of [`Layer::set_name`]).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("assert_eq!(neurite_nn::layers::", stringify!($ty), "::new(2).with_name(\"p\").name(), \"p\");")]
            /// ```
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.cfg.name = name.into();
                self
            }

            /// Sets the stride (default: the pool size).
            ///
            /// ```
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new(3).strides(1);")]
            /// assert_eq!(p.config_struct().strides, Some(1));
            /// ```
            pub fn strides(mut self, strides: usize) -> Self {
                self.cfg.strides = Some(strides);
                self
            }

            /// Sets the padding.
            ///
            /// ```
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new(2).padding(neurite_tensor::Padding::Same);")]
            /// assert_eq!(p.config_struct().padding, neurite_tensor::Padding::Same);
            /// ```
            pub fn padding(mut self, padding: Padding) -> Self {
                self.cfg.padding = padding;
                self
            }

            /// Declares the input shape `[steps, channels]` (without the batch axis).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new(2).input_shape([8, 3]);")]
            /// assert_eq!(p.declared_input_shape(), Some(vec![8, 3]));
            /// ```
            pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
                self.cfg.input_shape = Some(shape.as_ref().to_vec());
                self
            }

            /// No variables; the errors of `build`.
            fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
                self.cfg.out_shape(input_shape, false).map(|_| Vec::new())
            }
        }

        impl Layer for $ty {
            common_layer_methods!($class);

            fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
                self.cfg.out_shape(input_shape, false).map(|_| ())
            }

            fn is_built(&self) -> bool {
                true
            }

            fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
                self.cfg.out_shape(input_shape, false)
            }

            fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
                self.cfg.out_shape(&x.shape(), true)?;
                Ok($op(x, &self.cfg.params())?)
            }

            fn parameters(&self) -> Vec<Parameter> {
                Vec::new()
            }
        }
    };
}

pooling1d_layer!(
    MaxPooling1D,
    "MaxPooling1D",
    "max_pooling1d",
    ops::max_pool1d,
    "Keras' `MaxPooling1D`: the maximum of each window of steps (padded steps never win).\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::MaxPooling1D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let p = MaxPooling1D::new(2);\n\
let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 5, 1), vec![1.0f32, 4.0, 2.0, 0.0, 9.0]).unwrap());\n\
let y = p.forward(&x, &mut ForwardContext::inference())?;\n\
assert_eq!(y.to_tensor().iter().copied().collect::<Vec<_>>(), vec![4.0, 2.0]);\n\
assert_eq!(p.output_shape(&[5, 3])?, vec![2, 3]);\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);

pooling1d_layer!(
    AveragePooling1D,
    "AveragePooling1D",
    "average_pooling1d",
    ops::avg_pool1d,
    "Keras' `AveragePooling1D`: the mean of each window of steps (with `same` \
padding, of the window's real steps only, as TensorFlow).\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::AveragePooling1D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let p = AveragePooling1D::new(2).padding(neurite_tensor::Padding::Same);\n\
let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 3, 1), vec![1.0f32, 2.0, 6.0]).unwrap());\n\
let y = p.forward(&x, &mut ForwardContext::inference())?;\n\
assert_eq!(y.to_tensor().iter().copied().collect::<Vec<_>>(), vec![1.5, 6.0]);\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);

/// Configuration of [`GlobalMaxPooling1D`] and [`GlobalAveragePooling1D`].
///
/// ```
/// let c: neurite_nn::layers::GlobalPooling1DConfig =
///     serde_json::from_value(serde_json::json!({"name": "g"})).unwrap();
/// assert!(!c.keepdims);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalPooling1DConfig {
    /// Layer name.
    pub name: String,
    /// Keep the time axis as size 1 (`(batch, 1, c)`) instead of `(batch, c)`.
    #[serde(default)]
    pub keepdims: bool,
    /// Kept for API symmetry (pooling has no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `[steps, channels]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl GlobalPooling1DConfig {
    /// Checks every field for values that can never work (a declared input
    /// shape with a 0 dimension); errors name the layer and the field.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::GlobalMaxPooling1D::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.input_shape = Some(vec![0, 3]);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("global_max_pooling1d") && e.contains("input_shape"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::input_shape(&self.name, &self.input_shape)
    }

    /// Output shape for a `[steps, channels]` input (`with_batch`: the
    /// batch form `(batch, steps, channels)`), steps at least 1.
    fn out_shape(&self, shape: &[usize], with_batch: bool) -> Result<Vec<usize>> {
        self.validate()?;
        let per = if with_batch { shape.get(1..) } else { Some(shape) };
        match per {
            Some(&[steps, c]) if steps > 0 => Ok(if self.keepdims { vec![1, c] } else { vec![c] }),
            _ => Err(shape_error(
                &self.name,
                format!(
                    "({}steps, channels) with steps >= 1",
                    if with_batch { "batch, " } else { "" }
                ),
                shape,
            )),
        }
    }
}

macro_rules! global_pooling1d_layer {
    ($ty:ident, $class:literal, $default_name:literal, $op:path, $masked:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $ty {
            cfg: GlobalPooling1DConfig,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $ty {
            /// The layer with Keras' defaults (`keepdims` false).
            ///
            /// ```
            #[doc = concat!("assert!(!neurite_nn::layers::", stringify!($ty), "::new().config_struct().keepdims);")]
            /// ```
            pub fn new() -> Self {
                $ty {
                    cfg: GlobalPooling1DConfig {
                        name: $default_name.into(),
                        keepdims: false,
                        trainable: true,
                        input_shape: None,
                    },
                }
            }

            /// The layer from its configuration.
            ///
            /// ```
            #[doc = concat!("use neurite_nn::layers::", stringify!($ty), ";")]
            #[doc = concat!("let p = ", stringify!($ty), "::new().keepdims(true);")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::from_config(p.config_struct().clone()).config_struct(), p.config_struct());")]
            /// ```
            pub fn from_config(cfg: GlobalPooling1DConfig) -> Self {
                $ty { cfg }
            }

            /// The typed configuration.
            ///
            /// ```
            #[doc = concat!("assert!(neurite_nn::layers::", stringify!($ty), "::new().keepdims(true).config_struct().keepdims);")]
            /// ```
            pub fn config_struct(&self) -> &GlobalPooling1DConfig {
                &self.cfg
            }

            /// Sets the layer name (builder form of [`Layer::set_name`]).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("assert_eq!(neurite_nn::layers::", stringify!($ty), "::new().with_name(\"g\").name(), \"g\");")]
            /// ```
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.cfg.name = name.into();
                self
            }

            /// Keeps the time axis as size 1.
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("let g = neurite_nn::layers::", stringify!($ty), "::new().keepdims(true);")]
            /// assert_eq!(g.output_shape(&[7, 3])?, vec![1, 3]);
            /// # Ok::<(), neurite_nn::NnError>(())
            /// ```
            pub fn keepdims(mut self, keepdims: bool) -> Self {
                self.cfg.keepdims = keepdims;
                self
            }

            /// Declares the input shape `[steps, channels]` (without the batch axis).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("let g = neurite_nn::layers::", stringify!($ty), "::new().input_shape([8, 3]);")]
            /// assert_eq!(g.declared_input_shape(), Some(vec![8, 3]));
            /// ```
            pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
                self.cfg.input_shape = Some(shape.as_ref().to_vec());
                self
            }

            /// No variables; the errors of `build`.
            fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
                self.cfg.out_shape(input_shape, false).map(|_| Vec::new())
            }
        }

        impl Layer for $ty {
            common_layer_methods!($class);

            fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
                self.cfg.out_shape(input_shape, false).map(|_| ())
            }

            fn is_built(&self) -> bool {
                true
            }

            fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
                self.cfg.out_shape(input_shape, false)
            }

            fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
                self.cfg.out_shape(&x.shape(), true)?;
                Ok($op(x, self.cfg.keepdims)?)
            }

            /// Keras: GlobalAveragePooling1D averages over the valid steps
            /// only; GlobalMaxPooling1D does not support masking (the max
            /// runs over every step). Neither passes a mask on.
            fn supports_masking(&self) -> bool {
                $masked
            }

            fn compute_mask(&self, _x: &Var, _mask: Option<&Mask>) -> Result<Option<Mask>> {
                Ok(None)
            }

            fn forward_masked(&self, x: &Var, mask: Option<&Mask>, ctx: &mut ForwardContext) -> Result<Masked> {
                match mask.filter(|_| $masked) {
                    Some(m) => {
                        self.cfg.out_shape(&x.shape(), true)?;
                        check_mask(&self.cfg.name, &x.shape(), m)?;
                        Ok((masked_mean(x, m, self.cfg.keepdims)?, None))
                    }
                    None => Ok((self.forward(x, ctx)?, None)),
                }
            }

            fn parameters(&self) -> Vec<Parameter> {
                Vec::new()
            }
        }
    };
}

/// Keras' masked `GlobalAveragePooling1D`: `sum(x * mask, steps) /
/// sum(mask, steps)`, so padded steps add nothing and get no gradient (a
/// sample with no valid step gives NaN, as `0 / 0` in Keras).
fn masked_mean(x: &Var, mask: &Mask, keepdims: bool) -> Result<Var> {
    let summed = ops::sum_axis(&crate::mask::zero_masked_steps(x, mask)?, 1, keepdims)?;
    let counts = crate::mask::valid_counts(mask);
    let shape: Vec<usize> = if keepdims {
        vec![counts.len(), 1, 1]
    } else {
        vec![counts.len(), 1]
    };
    let inv = neurite_tensor::Tensor::from_shape_vec(
        shape,
        counts
            .iter()
            .map(|&c| if c == 0 { f32::NAN } else { 1.0 / c as f32 })
            .collect(),
    )
    .expect("one count per sample");
    Ok(ops::mul(&summed, &Var::constant(inv))?)
}

global_pooling1d_layer!(
    GlobalMaxPooling1D,
    "GlobalMaxPooling1D",
    "global_max_pooling1d",
    ops::global_max_pool1d,
    false,
    "Keras' `GlobalMaxPooling1D`: the maximum over all steps, `(batch, steps, c) -> (batch, c)`.\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::GlobalMaxPooling1D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 3, 1), vec![1.0f32, 4.0, 2.0]).unwrap());\n\
let y = GlobalMaxPooling1D::new().forward(&x, &mut ForwardContext::inference())?;\n\
assert_eq!(y.to_tensor(), ndarray::arr2(&[[4.0f32]]).into_dyn());\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);

global_pooling1d_layer!(
    GlobalAveragePooling1D,
    "GlobalAveragePooling1D",
    "global_average_pooling1d",
    ops::global_avg_pool1d,
    true,
    "Keras' `GlobalAveragePooling1D`: the mean over all steps, `(batch, steps, c) -> (batch, c)`; \
with a mask, the mean over the valid steps (see [`crate::mask`]).\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::GlobalAveragePooling1D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let x = Var::from_array(ndarray::Array3::from_shape_vec((1, 2, 1), vec![1.0f32, 3.0]).unwrap());\n\
let y = GlobalAveragePooling1D::new().forward(&x, &mut ForwardContext::inference())?;\n\
assert_eq!(y.to_tensor(), ndarray::arr2(&[[2.0f32]]).into_dyn());\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);
