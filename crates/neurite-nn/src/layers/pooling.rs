//! 2-d pooling layers: `MaxPooling2D`, `AveragePooling2D`,
//! `GlobalAveragePooling2D`, `GlobalMaxPooling2D` (NHWC, Keras semantics).

use super::{common_layer_methods, default_true, padding_serde, shape_error};
use crate::checks;
use crate::context::ForwardContext;
use crate::error::Result;
use crate::layer::{Layer, Parameter, ParameterShapes};
use neurite_autograd::ops;
use neurite_autograd::Var;
use neurite_rand::Generator;
use neurite_tensor::{conv_output_size, Padding, Pool2dParams};
use serde::{Deserialize, Serialize};

/// Configuration of [`MaxPooling2D`] and [`AveragePooling2D`].
///
/// ```
/// let c: neurite_nn::layers::Pooling2DConfig =
///     serde_json::from_value(serde_json::json!({"name": "p", "pool_size": [2, 2]})).unwrap();
/// assert_eq!(c.strides, None); // = pool_size
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pooling2DConfig {
    /// Layer name.
    pub name: String,
    /// `(height, width)` of the window.
    pub pool_size: (usize, usize),
    /// Strides; `None` means the pool size (Keras' default).
    #[serde(default)]
    pub strides: Option<(usize, usize)>,
    /// `"valid"` (default) or `"same"`.
    #[serde(default, with = "padding_serde")]
    pub padding: Padding,
    /// Kept for API symmetry (pooling has no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `[h, w, c]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl Pooling2DConfig {
    fn new(name: &str, pool_size: (usize, usize)) -> Self {
        Pooling2DConfig {
            name: name.into(),
            pool_size,
            strides: None,
            padding: Padding::Valid,
            trainable: true,
            input_shape: None,
        }
    }

    fn params(&self) -> Pool2dParams {
        Pool2dParams {
            pool_size: self.pool_size,
            strides: self.strides.unwrap_or(self.pool_size),
            padding: self.padding,
        }
    }

    /// Checks every field for values that can never work (pool_size or
    /// strides 0, a declared input shape with a 0 dimension); errors name
    /// the layer and the field. Run by [`crate::layer_from_config`] and by
    /// `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::MaxPooling2D::new((2, 2)).config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.pool_size = (2, 0);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("max_pooling2d") && e.contains("pool_size"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::positive_pair(&self.name, "pool_size", self.pool_size)?;
        if let Some(s) = self.strides {
            checks::positive_pair(&self.name, "strides", s)?;
        }
        checks::input_shape(&self.name, &self.input_shape)
    }

    /// Output shape for an `[h, w, c]` input (overflow-free: each axis from
    /// `conv_output_size`, nothing allocated).
    fn out_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.validate()?;
        if input_shape.len() != 3 {
            return Err(shape_error(&self.name, "(height, width, channels)", input_shape));
        }
        let p = self.params();
        let axis = |i: usize, k: usize, s: usize| {
            conv_output_size(input_shape[i], k, s, 1, p.padding)
                .map(|(out, _, _)| out)
                .map_err(|_| {
                    shape_error(
                        &self.name,
                        format!(
                            "(height, width, channels) with height and width at least the pool size {:?} for valid padding",
                            self.pool_size
                        ),
                        input_shape,
                    )
                })
        };
        let oh = axis(0, p.pool_size.0, p.strides.0)?;
        let ow = axis(1, p.pool_size.1, p.strides.1)?;
        Ok(vec![oh, ow, input_shape[2]])
    }

    fn check_input(&self, x: &Var) -> Result<()> {
        let shape = x.shape();
        if shape.len() != 4 {
            return Err(shape_error(
                &self.name,
                "(batch, height, width, channels)",
                &shape,
            ));
        }
        self.out_shape(&shape[1..]).map_err(|e| match e {
            crate::NnError::Shape { layer, .. } => shape_error(
                &layer,
                format!(
                    "(batch, height, width, channels) with height and width at least the pool size {:?} \
                     for valid padding",
                    self.pool_size
                ),
                &shape,
            ),
            other => other,
        })?;
        Ok(())
    }
}

macro_rules! pooling_layer {
    ($ty:ident, $class:literal, $default_name:literal, $op:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $ty {
            cfg: Pooling2DConfig,
        }

        impl $ty {
            /// A pooling layer with a `pool_size` window, strides equal to
            /// the pool size and valid padding (Keras' defaults).
            ///
            /// ```
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new((2, 2));")]
            /// assert_eq!(p.config_struct().pool_size, (2, 2));
            /// ```
            pub fn new(pool_size: (usize, usize)) -> Self {
                $ty {
                    cfg: Pooling2DConfig::new($default_name, pool_size),
                }
            }

            /// The layer from its configuration.
            ///
            /// ```
            #[doc = concat!("use neurite_nn::layers::", stringify!($ty), ";")]
            #[doc = concat!("let p = ", stringify!($ty), "::new((3, 3));")]
            #[doc = concat!("assert_eq!(", stringify!($ty), "::from_config(p.config_struct().clone()).config_struct(), p.config_struct());")]
            /// ```
            pub fn from_config(cfg: Pooling2DConfig) -> Self {
                $ty { cfg }
            }

            /// The typed configuration.
            ///
            /// ```
            #[doc = concat!("assert_eq!(neurite_nn::layers::", stringify!($ty), "::new((2, 3)).config_struct().pool_size, (2, 3));")]
            /// ```
            pub fn config_struct(&self) -> &Pooling2DConfig {
                &self.cfg
            }

            /// Sets the layer name (builder form of [`Layer::set_name`]).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("assert_eq!(neurite_nn::layers::", stringify!($ty), "::new((2, 2)).with_name(\"p\").name(), \"p\");")]
            /// ```
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.cfg.name = name.into();
                self
            }

            /// Sets the strides (default: the pool size).
            ///
            /// ```
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new((3, 3)).strides((1, 1));")]
            /// assert_eq!(p.config_struct().strides, Some((1, 1)));
            /// ```
            pub fn strides(mut self, strides: (usize, usize)) -> Self {
                self.cfg.strides = Some(strides);
                self
            }

            /// Sets the padding.
            ///
            /// ```
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new((2, 2)).padding(neurite_tensor::Padding::Same);")]
            /// assert_eq!(p.config_struct().padding, neurite_tensor::Padding::Same);
            /// ```
            pub fn padding(mut self, padding: Padding) -> Self {
                self.cfg.padding = padding;
                self
            }

            /// Declares the input shape `[h, w, c]` (without the batch axis).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("let p = neurite_nn::layers::", stringify!($ty), "::new((2, 2)).input_shape([4, 4, 1]);")]
            /// assert_eq!(p.declared_input_shape(), Some(vec![4, 4, 1]));
            /// ```
            pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
                self.cfg.input_shape = Some(shape.as_ref().to_vec());
                self
            }
        }

        impl $ty {
            /// No variables; the errors of `build`.
            fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
                self.cfg.out_shape(input_shape).map(|_| Vec::new())
            }
        }

        impl Layer for $ty {
            common_layer_methods!($class);

            fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
                self.cfg.out_shape(input_shape).map(|_| ())
            }

            fn is_built(&self) -> bool {
                true
            }

            fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
                self.cfg.out_shape(input_shape)
            }

            fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
                self.cfg.check_input(x)?;
                Ok($op(x, &self.cfg.params())?)
            }

            fn max_pool_params(&self) -> Option<Pool2dParams> {
                ($class == "MaxPooling2D").then(|| self.cfg.params())
            }

            fn parameters(&self) -> Vec<Parameter> {
                Vec::new()
            }
        }
    };
}

pooling_layer!(
    MaxPooling2D,
    "MaxPooling2D",
    "max_pooling2d",
    ops::max_pool2d,
    "Keras' `MaxPooling2D`: the maximum of each window (padded cells never win).\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::MaxPooling2D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let p = MaxPooling2D::new((2, 2));\n\
let x = Var::from_array(ndarray::Array4::from_shape_fn((1, 4, 4, 1), |(_, h, w, _)| (h * 4 + w) as f32));\n\
let y = p.forward(&x, &mut ForwardContext::inference())?;\n\
assert_eq!(y.to_tensor().iter().copied().collect::<Vec<_>>(), vec![5.0, 7.0, 13.0, 15.0]);\n\
assert_eq!(p.output_shape(&[5, 5, 3])?, vec![2, 2, 3]);\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);

pooling_layer!(
    AveragePooling2D,
    "AveragePooling2D",
    "average_pooling2d",
    ops::avg_pool2d,
    "Keras' `AveragePooling2D`: the mean of each window (with `same` padding, \
of the window's real cells only, as TensorFlow).\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::AveragePooling2D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let p = AveragePooling2D::new((2, 2));\n\
let x = Var::from_array(ndarray::Array4::from_shape_fn((1, 2, 2, 1), |(_, h, w, _)| (h * 2 + w) as f32));\n\
assert_eq!(p.forward(&x, &mut ForwardContext::inference())?.to_tensor()[[0, 0, 0, 0]], 1.5);\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);

/// Configuration of [`GlobalAveragePooling2D`] and [`GlobalMaxPooling2D`].
///
/// ```
/// let c: neurite_nn::layers::GlobalPooling2DConfig =
///     serde_json::from_value(serde_json::json!({"name": "g"})).unwrap();
/// assert!(!c.keepdims);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalPooling2DConfig {
    /// Layer name.
    pub name: String,
    /// Keep the spatial axes as size 1 (`(batch, 1, 1, c)`) instead of `(batch, c)`.
    #[serde(default)]
    pub keepdims: bool,
    /// Kept for API symmetry (pooling has no weights).
    #[serde(default = "default_true")]
    pub trainable: bool,
    /// Declared input shape `[h, w, c]`, for a model's first layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl GlobalPooling2DConfig {
    /// Checks every field for values that can never work (a declared input
    /// shape with a 0 dimension); errors name the layer and the field. Run by
    /// [`crate::layer_from_config`] and by `build`.
    ///
    /// ```
    /// let mut c = neurite_nn::layers::GlobalMaxPooling2D::new().config_struct().clone();
    /// assert!(c.validate().is_ok());
    /// c.input_shape = Some(vec![4, 0, 3]);
    /// let e = c.validate().unwrap_err().to_string();
    /// assert!(e.contains("global_max_pooling2d") && e.contains("input_shape"), "{e}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        checks::input_shape(&self.name, &self.input_shape)
    }

    fn out_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        self.validate()?;
        if input_shape.len() != 3 || input_shape[0] == 0 || input_shape[1] == 0 {
            return Err(shape_error(
                &self.name,
                "(height, width, channels), height and width >= 1",
                input_shape,
            ));
        }
        Ok(if self.keepdims {
            vec![1, 1, input_shape[2]]
        } else {
            vec![input_shape[2]]
        })
    }

    fn check_input(&self, x: &Var) -> Result<()> {
        let shape = x.shape();
        if shape.len() != 4 || shape[1] == 0 || shape[2] == 0 {
            return Err(shape_error(
                &self.name,
                "(batch, height, width, channels), height and width >= 1",
                &shape,
            ));
        }
        Ok(())
    }

    fn finish(&self, y: Var) -> Result<Var> {
        if self.keepdims {
            let s = y.shape();
            Ok(ops::reshape(&y, &[s[0], 1, 1, s[1]])?)
        } else {
            Ok(y)
        }
    }
}

macro_rules! global_pooling_layer {
    ($ty:ident, $class:literal, $default_name:literal, $op:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $ty {
            cfg: GlobalPooling2DConfig,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $ty {
            /// The layer with Keras' defaults (`keepdims = false`).
            ///
            /// ```
            #[doc = concat!("assert!(!neurite_nn::layers::", stringify!($ty), "::new().config_struct().keepdims);")]
            /// ```
            pub fn new() -> Self {
                $ty {
                    cfg: GlobalPooling2DConfig {
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
            #[doc = concat!("let g = ", stringify!($ty), "::new().keepdims(true);")]
            #[doc = concat!("assert!(", stringify!($ty), "::from_config(g.config_struct().clone()).config_struct().keepdims);")]
            /// ```
            pub fn from_config(cfg: GlobalPooling2DConfig) -> Self {
                $ty { cfg }
            }

            /// The typed configuration.
            ///
            /// ```
            #[doc = concat!("assert!(neurite_nn::layers::", stringify!($ty), "::new().config_struct().trainable);")]
            /// ```
            pub fn config_struct(&self) -> &GlobalPooling2DConfig {
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

            /// Keeps the spatial axes as size 1.
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("let g = neurite_nn::layers::", stringify!($ty), "::new().keepdims(true);")]
            /// assert_eq!(g.output_shape(&[5, 5, 8])?, vec![1, 1, 8]);
            /// # Ok::<(), neurite_nn::NnError>(())
            /// ```
            pub fn keepdims(mut self, keepdims: bool) -> Self {
                self.cfg.keepdims = keepdims;
                self
            }

            /// Declares the input shape `[h, w, c]` (without the batch axis).
            ///
            /// ```
            /// use neurite_nn::Layer;
            #[doc = concat!("let g = neurite_nn::layers::", stringify!($ty), "::new().input_shape([4, 4, 1]);")]
            /// assert_eq!(g.declared_input_shape(), Some(vec![4, 4, 1]));
            /// ```
            pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
                self.cfg.input_shape = Some(shape.as_ref().to_vec());
                self
            }
        }

        impl $ty {
            /// No variables; the errors of `build`.
            fn param_specs(&self, input_shape: &[usize]) -> Result<ParameterShapes> {
                self.cfg.out_shape(input_shape).map(|_| Vec::new())
            }
        }

        impl Layer for $ty {
            common_layer_methods!($class);

            fn build(&mut self, input_shape: &[usize], _rng: &mut Generator) -> Result<()> {
                self.cfg.out_shape(input_shape).map(|_| ())
            }

            fn is_built(&self) -> bool {
                true
            }

            fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
                self.cfg.out_shape(input_shape)
            }

            fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> Result<Var> {
                self.cfg.check_input(x)?;
                self.cfg.finish($op(x)?)
            }

            fn parameters(&self) -> Vec<Parameter> {
                Vec::new()
            }
        }
    };
}

global_pooling_layer!(
    GlobalAveragePooling2D,
    "GlobalAveragePooling2D",
    "global_average_pooling2d",
    ops::global_avg_pool2d,
    "Keras' `GlobalAveragePooling2D`: the mean over height and width, `(batch, h, w, c) -> (batch, c)`.\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::GlobalAveragePooling2D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let g = GlobalAveragePooling2D::new();\n\
let x = Var::from_array(ndarray::Array4::from_shape_fn((1, 2, 2, 1), |(_, h, w, _)| (h * 2 + w) as f32));\n\
assert_eq!(g.forward(&x, &mut ForwardContext::inference())?.to_tensor()[[0, 0]], 1.5);\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);

global_pooling_layer!(
    GlobalMaxPooling2D,
    "GlobalMaxPooling2D",
    "global_max_pooling2d",
    ops::global_max_pool2d,
    "Keras' `GlobalMaxPooling2D`: the maximum over height and width, `(batch, h, w, c) -> (batch, c)`.\n\n\
```\n\
use neurite_autograd::Var;\n\
use neurite_nn::layers::GlobalMaxPooling2D;\n\
use neurite_nn::{ForwardContext, Layer};\n\
let g = GlobalMaxPooling2D::new();\n\
let x = Var::from_array(ndarray::Array4::from_shape_fn((1, 2, 2, 1), |(_, h, w, _)| (h * 2 + w) as f32));\n\
assert_eq!(g.forward(&x, &mut ForwardContext::inference())?.to_tensor()[[0, 0]], 3.0);\n\
# Ok::<(), neurite_nn::NnError>(())\n\
```"
);
