//! Macros that write the builder methods and `Layer` glue many layers share,
//! so that each is written (and documented) once.
//!
//! [`builder_methods!`] goes in a layer's inherent `impl` and generates its
//! documented builder setters (`with_name`, `activation`, `use_bias`,
//! `strides`, ..., `input_shape`): each stores its argument in the field of
//! `self.cfg` with the method's name and returns `self`, and each gets a doc
//! example written for that layer. [`weight_methods!`] and
//! [`weightless_layer_methods!`] go in `impl Layer` next to
//! `common_layer_methods!`.

/// Documented builder setters of a layer whose configuration is `self.cfg`.
///
/// The first line names the layer's example constructor (its path under
/// `neurite_nn::layers`); every entry after it generates one
/// `pub fn name(mut self, value) -> Self` that sets `self.cfg.name`:
///
/// - `with_name;`, `activation;`, `use_bias;`: the common setters, with their docs;
/// - `/// doc` then `set name: Type = "example";`: a setter of a plain field;
/// - `/// doc` then `initializer name;` or `regularizer name;`: a setter of an
///   `Initializer` field or an `Option<Regularizer>` field (stored as `Some`);
/// - `/// doc` then `input_shape = "[example]";`: the declared input shape
///   (any `AsRef<[usize]>`).
///
/// The doc lines written at the call come first in the generated docs; the
/// example after them is generated from the constructor and the example value.
macro_rules! builder_methods {
    (example: $new:literal; $($rest:tt)*) => {
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal;) => {};
    (@each $new:literal; with_name; $($rest:tt)*) => {
        /// Sets the layer name (builder form of [`Layer::set_name`](crate::Layer::set_name)).
        ///
        /// ```
        /// use neurite_nn::Layer;
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".with_name(\"layer_1\");")]
        /// assert_eq!(l.name(), "layer_1");
        /// ```
        pub fn with_name(mut self, name: impl Into<String>) -> Self {
            self.cfg.name = name.into();
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal; activation; $($rest:tt)*) => {
        /// Sets the activation.
        ///
        /// ```
        /// use neurite_nn::Activation;
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".activation(Activation::Relu);")]
        /// assert_eq!(l.config_struct().activation, Activation::Relu);
        /// ```
        pub fn activation(mut self, activation: $crate::activation::Activation) -> Self {
            self.cfg.activation = activation;
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal; use_bias; $($rest:tt)*) => {
        /// Whether to add a bias.
        ///
        /// ```
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".use_bias(false);")]
        /// assert!(!l.config_struct().use_bias);
        /// ```
        pub fn use_bias(mut self, use_bias: bool) -> Self {
            self.cfg.use_bias = use_bias;
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal; $(#[$doc:meta])+ set $method:ident: $ty:ty = $example:literal; $($rest:tt)*) => {
        $(#[$doc])+
        ///
        /// ```
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".", stringify!($method), "(", $example, ");")]
        #[doc = concat!("assert_eq!(l.config_struct().", stringify!($method), ", ", $example, ");")]
        /// ```
        pub fn $method(mut self, $method: $ty) -> Self {
            self.cfg.$method = $method;
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal; $(#[$doc:meta])+ initializer $method:ident; $($rest:tt)*) => {
        $(#[$doc])+
        ///
        /// ```
        /// use neurite_nn::initializers::Initializer;
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".", stringify!($method), "(Initializer::HeUniform);")]
        #[doc = concat!("assert_eq!(l.config_struct().", stringify!($method), ", Initializer::HeUniform);")]
        /// ```
        pub fn $method(mut self, init: $crate::initializers::Initializer) -> Self {
            self.cfg.$method = init;
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal; $(#[$doc:meta])+ regularizer $method:ident; $($rest:tt)*) => {
        $(#[$doc])+
        ///
        /// ```
        /// use neurite_nn::regularizers::Regularizer;
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".", stringify!($method), "(Regularizer::l2(0.1));")]
        #[doc = concat!("assert_eq!(l.config_struct().", stringify!($method), ", Some(Regularizer::l2(0.1)));")]
        /// ```
        pub fn $method(mut self, reg: $crate::regularizers::Regularizer) -> Self {
            self.cfg.$method = Some(reg);
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
    (@each $new:literal; $(#[$doc:meta])+ input_shape = $example:literal; $($rest:tt)*) => {
        $(#[$doc])+
        ///
        /// ```
        /// use neurite_nn::Layer;
        #[doc = concat!("let l = neurite_nn::layers::", $new, ".input_shape(", $example, ");")]
        #[doc = concat!("assert_eq!(l.declared_input_shape(), Some(vec!", $example, "));")]
        /// ```
        pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
            self.cfg.input_shape = Some(shape.as_ref().to_vec());
            self
        }
        $crate::layers::builders::builder_methods!(@each $new; $($rest)*);
    };
}
pub(crate) use builder_methods;

/// `build`, `is_built` and `parameters` of a layer whose weights are
/// `Option<Var>` fields, listed as `(field, "suffix", initializer field)` in
/// the order of its `param_specs`: `build` draws them in that order (a
/// trailing bias exists iff `param_specs` lists it), the first field marks
/// the layer built, and the parameters are named `<layer>.<suffix>`.
macro_rules! weight_methods {
    (($first:ident, $first_suffix:literal, $first_init:ident) $(, ($field:ident, $suffix:literal, $init:ident))* $(,)?) => {
        fn build(&mut self, input_shape: &[usize], rng: &mut neurite_rand::Generator) -> $crate::error::Result<()> {
            let specs = self.param_specs(input_shape)?;
            let c = &self.cfg;
            let inits = [($first_suffix, &c.$first_init) $(, ($suffix, &c.$init))*];
            let mut vars = $crate::layers::weighted::initialize(&c.name, &specs, &inits, rng)?.into_iter();
            self.$first = vars.next();
            $(self.$field = vars.next();)*
            Ok(())
        }

        fn is_built(&self) -> bool {
            self.$first.is_some()
        }

        fn parameters(&self) -> Vec<$crate::layer::Parameter> {
            let vars = [($first_suffix, &self.$first) $(, ($suffix, &self.$field))*];
            $crate::layers::weighted::named_parameters(&self.cfg.name, self.cfg.trainable, &vars)
        }
    };
}
pub(crate) use weight_methods;

/// `build` (the errors `output_shape` gives; nothing to create), `is_built`
/// (always) and `parameters` (none) of a layer without weights.
macro_rules! weightless_layer_methods {
    () => {
        fn build(
            &mut self,
            input_shape: &[usize],
            _rng: &mut neurite_rand::Generator,
        ) -> $crate::error::Result<()> {
            self.output_shape(input_shape).map(|_| ())
        }

        fn is_built(&self) -> bool {
            true
        }

        fn parameters(&self) -> Vec<$crate::layer::Parameter> {
            Vec::new()
        }
    };
}
pub(crate) use weightless_layer_methods;
