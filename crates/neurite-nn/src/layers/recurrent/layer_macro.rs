//! `recurrent_layer_common!`: the builder methods and the `Layer`
//! implementation the three recurrent layers share.

/// Builder methods and the [`crate::Layer`] implementation shared by
/// `SimpleRNN`, `LSTM` and `GRU` (each a struct with one field `base:
/// RnnBase`); `$fused` is the layer's fused op (a [`super::base::FusedOp`]).
macro_rules! recurrent_layer_common {
    ($ty:ident, $kind:expr, $fused:path) => {
        impl $ty {
            #[doc = concat!(
                "A `", stringify!($ty), "` layer with `units` hidden units and Keras' defaults ",
                "(tanh activation, sigmoid recurrent activation, glorot_uniform kernel, orthogonal ",
                "recurrent kernel, zero bias, last output only).\n\n",
                "```\nlet layer = neurite_nn::layers::", stringify!($ty), "::new(16);\n",
                "assert_eq!(layer.units(), 16);\n```"
            )]
            pub fn new(units: usize) -> Self {
                $ty {
                    base: $crate::layers::recurrent::base::RnnBase::new($kind, units),
                }
            }

            #[doc = concat!(
                "The layer from its configuration (unbuilt; checked when built).\n\n",
                "```\nuse neurite_nn::Layer;\nuse neurite_nn::layers::", stringify!($ty), ";\n",
                "let a = ", stringify!($ty), "::new(4).return_sequences(true);\n",
                "let b = ", stringify!($ty), "::from_config(a.config_struct().clone());\n",
                "assert_eq!(a.config(), b.config());\n```"
            )]
            pub fn from_config(cfg: $crate::layers::recurrent::config::RecurrentConfig) -> Self {
                $ty {
                    base: $crate::layers::recurrent::base::RnnBase::from_config($kind, cfg),
                }
            }

            #[doc = concat!(
                "The typed configuration.\n\n```\nassert_eq!(neurite_nn::layers::", stringify!($ty),
                "::new(3).config_struct().units, 3);\n```"
            )]
            pub fn config_struct(&self) -> &$crate::layers::recurrent::config::RecurrentConfig {
                &self.base.cfg
            }

            #[doc = concat!(
                "Number of hidden units.\n\n```\nassert_eq!(neurite_nn::layers::", stringify!($ty),
                "::new(3).units(), 3);\n```"
            )]
            pub fn units(&self) -> usize {
                self.base.cfg.units
            }

            #[doc = concat!(
                "Whether to return the hidden state of every timestep `(batch, timesteps, units)` ",
                "instead of the last one `(batch, units)` (Keras' `return_sequences`, default false).\n\n",
                "```\nuse neurite_nn::Layer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).return_sequences(true);\nassert_eq!(l.output_shape(&[5, 2]).unwrap(), vec![5, 3]);\n```"
            )]
            pub fn return_sequences(mut self, yes: bool) -> Self {
                self.base.cfg.return_sequences = yes;
                self
            }

            #[doc = concat!(
                "Processes the sequence from the last timestep to the first; with `return_sequences` ",
                "the outputs are in processing order, i.e. reversed (Keras' `go_backwards`).\n\n",
                "```\nlet l = neurite_nn::layers::", stringify!($ty), "::new(3).go_backwards(true);\n",
                "assert!(l.config_struct().go_backwards);\n```"
            )]
            pub fn go_backwards(mut self, yes: bool) -> Self {
                self.base.cfg.go_backwards = yes;
                self
            }

            #[doc = concat!(
                "The output activation (Keras' `activation`, default tanh; tanh, sigmoid, relu or linear).\n\n",
                "```\nuse neurite_nn::Activation;\nlet l = neurite_nn::layers::",
                stringify!($ty), "::new(3).activation(Activation::Relu);\n",
                "assert_eq!(l.config_struct().activation, Activation::Relu);\n```"
            )]
            pub fn activation(mut self, activation: $crate::activation::Activation) -> Self {
                self.base.cfg.activation = activation;
                self
            }

            #[doc = concat!(
                "The gate activation (Keras' `recurrent_activation`, default sigmoid; unused by SimpleRNN).\n\n",
                "```\nuse neurite_nn::Activation;\nlet l = neurite_nn::layers::",
                stringify!($ty), "::new(3).recurrent_activation(Activation::Tanh);\n",
                "assert_eq!(l.config_struct().recurrent_activation, Activation::Tanh);\n```"
            )]
            pub fn recurrent_activation(mut self, activation: $crate::activation::Activation) -> Self {
                self.base.cfg.recurrent_activation = activation;
                self
            }

            #[doc = concat!(
                "With a mask and `return_sequences`, masked steps output zeros instead of the previous ",
                "output (Keras' `zero_output_for_mask`, default false).\n\n",
                "```\nlet l = neurite_nn::layers::", stringify!($ty), "::new(3).zero_output_for_mask(true);\n",
                "assert!(l.config_struct().zero_output_for_mask);\n```"
            )]
            pub fn zero_output_for_mask(mut self, yes: bool) -> Self {
                self.base.cfg.zero_output_for_mask = yes;
                self
            }

            #[doc = concat!(
                "Keras' `dropout`: the fraction of the input dropped in training (default 0), one ",
                "mask per call reused at every step. A rate outside `[0, 1)` is refused at build.\n\n```\n",
                "let l = neurite_nn::layers::", stringify!($ty), "::new(3).dropout(0.2);\n",
                "assert_eq!(l.config_struct().dropout, 0.2);\n```"
            )]
            pub fn dropout(mut self, rate: f32) -> Self {
                self.base.cfg.dropout = rate;
                self
            }

            #[doc = concat!(
                "Keras' `recurrent_dropout`: the fraction of the previous state dropped in training ",
                "(default 0), one mask per gate per call reused at every step; the layer then runs step ",
                "by step on autograd ops (Keras' `implementation=1`), slower than its fused kernel. ",
                "A rate outside `[0, 1)` is refused at build.\n\n```\n",
                "let l = neurite_nn::layers::", stringify!($ty), "::new(3).recurrent_dropout(0.1);\n",
                "assert_eq!(l.config_struct().recurrent_dropout, 0.1);\n```"
            )]
            pub fn recurrent_dropout(mut self, rate: f32) -> Self {
                self.base.cfg.recurrent_dropout = rate;
                self
            }

            #[doc = concat!(
                "Whether the layer has a bias (default true).\n\n```\nuse neurite_nn::Layer;\n",
                "let mut l = neurite_nn::layers::", stringify!($ty), "::new(3).use_bias(false);\n",
                "l.build(&[5, 2], &mut neurite_tensor::random::rng_from_seed(0)).unwrap();\n",
                "assert_eq!(l.parameters().len(), 2);\n```"
            )]
            pub fn use_bias(mut self, yes: bool) -> Self {
                self.base.cfg.use_bias = yes;
                self
            }

            #[doc = concat!(
                "Sets the kernel initializer (default glorot_uniform).\n\n```\n",
                "use neurite_nn::initializers::Initializer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).kernel_initializer(Initializer::HeNormal);\n",
                "assert_eq!(l.config_struct().kernel_initializer, Initializer::HeNormal);\n```"
            )]
            pub fn kernel_initializer(mut self, init: $crate::initializers::Initializer) -> Self {
                self.base.cfg.kernel_initializer = init;
                self
            }

            #[doc = concat!(
                "Sets the recurrent kernel initializer (default orthogonal).\n\n```\n",
                "use neurite_nn::initializers::Initializer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).recurrent_initializer(Initializer::GlorotUniform);\n",
                "assert_eq!(l.config_struct().recurrent_initializer, Initializer::GlorotUniform);\n```"
            )]
            pub fn recurrent_initializer(mut self, init: $crate::initializers::Initializer) -> Self {
                self.base.cfg.recurrent_initializer = init;
                self
            }

            #[doc = concat!(
                "Sets the bias initializer (default zeros).\n\n```\n",
                "use neurite_nn::initializers::Initializer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).bias_initializer(Initializer::Ones);\n",
                "assert_eq!(l.config_struct().bias_initializer, Initializer::Ones);\n```"
            )]
            pub fn bias_initializer(mut self, init: $crate::initializers::Initializer) -> Self {
                self.base.cfg.bias_initializer = init;
                self
            }

            #[doc = concat!(
                "Sets the kernel regularizer (its penalty is added in training passes).\n\n```\n",
                "use neurite_nn::regularizers::Regularizer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).kernel_regularizer(Regularizer::l2(0.01));\n",
                "assert_eq!(l.config_struct().kernel_regularizer, Some(Regularizer::l2(0.01)));\n```"
            )]
            pub fn kernel_regularizer(mut self, reg: $crate::regularizers::Regularizer) -> Self {
                self.base.cfg.kernel_regularizer = Some(reg);
                self
            }

            #[doc = concat!(
                "Sets the recurrent kernel regularizer.\n\n```\n",
                "use neurite_nn::regularizers::Regularizer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).recurrent_regularizer(Regularizer::l1(0.01));\n",
                "assert_eq!(l.config_struct().recurrent_regularizer, Some(Regularizer::l1(0.01)));\n```"
            )]
            pub fn recurrent_regularizer(mut self, reg: $crate::regularizers::Regularizer) -> Self {
                self.base.cfg.recurrent_regularizer = Some(reg);
                self
            }

            #[doc = concat!(
                "Sets the bias regularizer.\n\n```\n",
                "use neurite_nn::regularizers::Regularizer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).bias_regularizer(Regularizer::l2(0.1));\n",
                "assert_eq!(l.config_struct().bias_regularizer, Some(Regularizer::l2(0.1)));\n```"
            )]
            pub fn bias_regularizer(mut self, reg: $crate::regularizers::Regularizer) -> Self {
                self.base.cfg.bias_regularizer = Some(reg);
                self
            }

            #[doc = concat!(
                "Declares the input shape `(timesteps, features)` (Keras' `input_shape=` on a model's first layer).\n\n",
                "```\nuse neurite_nn::Layer;\nlet l = neurite_nn::layers::", stringify!($ty),
                "::new(3).input_shape([10, 4]);\nassert_eq!(l.declared_input_shape(), Some(vec![10, 4]));\n```"
            )]
            pub fn input_shape<S: AsRef<[usize]>>(mut self, shape: S) -> Self {
                self.base.cfg.input_shape = Some(shape.as_ref().to_vec());
                self
            }

            #[doc = concat!(
                "Installs `kernel`, `recurrent_kernel` and `bias` as the layer's variables (shared, ",
                "not copied: gradients flow into the given `Var`s), marking the layer built. Shapes as ",
                "built by `build`; `bias` must be given iff `use_bias`.\n\n",
                "```\nuse neurite_nn::Layer;\nlet mut l = neurite_nn::layers::", stringify!($ty), "::new(3);\n",
                "l.build(&[5, 2], &mut neurite_tensor::random::rng_from_seed(0)).unwrap();\n",
                "let p: Vec<_> = l.parameters().into_iter().map(|p| p.var).collect();\n",
                "let mut other = neurite_nn::layers::", stringify!($ty), "::new(3);\n",
                "other.set_weight_vars(p[0].clone(), p[1].clone(), Some(p[2].clone())).unwrap();\n",
                "assert!(other.is_built());\n",
                "assert!(other.set_weight_vars(p[1].clone(), p[1].clone(), None).is_err());\n```"
            )]
            pub fn set_weight_vars(
                &mut self,
                kernel: neurite_autograd::Var,
                recurrent_kernel: neurite_autograd::Var,
                bias: Option<neurite_autograd::Var>,
            ) -> $crate::error::Result<()> {
                self.base.set_weight_vars(kernel, recurrent_kernel, bias)
            }

            #[doc = concat!(
                "Sets the layer name (builder form of `Layer::set_name`).\n\n```\nuse neurite_nn::Layer;\n",
                "let l = neurite_nn::layers::", stringify!($ty), "::new(3).with_name(\"encoder\");\n",
                "assert_eq!(l.name(), \"encoder\");\n```"
            )]
            pub fn with_name(mut self, name: impl Into<String>) -> Self {
                self.base.cfg.name = name.into();
                self
            }
        }

        impl $crate::layer::Layer for $ty {
            fn class_name(&self) -> &'static str {
                self.base.kind.class_name()
            }

            fn name(&self) -> &str {
                &self.base.cfg.name
            }

            fn set_name(&mut self, name: String) {
                self.base.cfg.name = name;
            }

            fn build(&mut self, input_shape: &[usize], rng: &mut neurite_rand::Generator) -> $crate::error::Result<()> {
                self.base.build(input_shape, rng)
            }

            fn is_built(&self) -> bool {
                self.base.is_built()
            }

            fn output_shape(&self, input_shape: &[usize]) -> $crate::error::Result<Vec<usize>> {
                self.base.output_shape(input_shape)
            }

            fn forward(
                &self,
                x: &neurite_autograd::Var,
                ctx: &mut $crate::context::ForwardContext,
            ) -> $crate::error::Result<neurite_autograd::Var> {
                self.base.forward(x, ctx, $fused, None)
            }

            /// Masks are consumed (masked steps keep the state) and, with
            /// `return_sequences`, passed on (Keras' `RNN.compute_mask`).
            fn supports_masking(&self) -> bool {
                true
            }

            fn compute_mask(
                &self,
                _x: &neurite_autograd::Var,
                mask: Option<&$crate::mask::Mask>,
            ) -> $crate::error::Result<Option<$crate::mask::Mask>> {
                Ok(if self.base.cfg.return_sequences { mask.cloned() } else { None })
            }

            fn forward_masked(
                &self,
                x: &neurite_autograd::Var,
                mask: Option<&$crate::mask::Mask>,
                ctx: &mut $crate::context::ForwardContext,
            ) -> $crate::error::Result<$crate::mask::Masked> {
                let y = self.base.forward(x, ctx, $fused, mask)?;
                Ok((y, self.compute_mask(x, mask)?))
            }

            fn parameters(&self) -> Vec<$crate::layer::Parameter> {
                self.base.parameters()
            }

            fn parameter_shapes(
                &self,
                input_shape: &[usize],
            ) -> $crate::error::Result<Option<$crate::layer::ParameterShapes>> {
                self.base.param_specs(input_shape).map(Some)
            }

            fn trainable(&self) -> bool {
                self.base.cfg.trainable
            }

            fn set_trainable(&mut self, trainable: bool) {
                self.base.cfg.trainable = trainable;
            }

            fn config(&self) -> serde_json::Value {
                serde_json::to_value(&self.base.cfg).expect("layer configs serialize to JSON")
            }

            fn declared_input_shape(&self) -> Option<Vec<usize>> {
                self.base.cfg.input_shape.clone()
            }
        }
    };
}
pub(crate) use recurrent_layer_common;
