//! Everything a Keras-style program needs, in one `use neurite::prelude::*;`:
//! the model, layers, losses, optimizers and callbacks, [`Var`] (whose
//! operators and methods need no import), [`ops`], [`no_grad`], and the
//! umbrella's [`Error`], into which every crate's error converts with `?`.
//! (`neurite::Result` is left out: a glob import would shadow
//! `std::result::Result`.)
//!
//! ```
//! use neurite::prelude::*;
//! let model = Sequential::new()
//!     .add(Conv2D::new(8, (3, 3)).activation(Activation::Relu).input_shape([8, 8, 1]))
//!     .add(MaxPooling2D::new((2, 2)))
//!     .add(Flatten::new())
//!     .add(Dense::new(10).activation(Activation::Softmax));
//! assert_eq!(model.layers().len(), 4);
//!
//! // A hand-written loss, with `?` on autograd and optimizer errors alike.
//! fn train_step(w: &Var, x: &Var, y: &Var, opt: &mut dyn Optimizer) -> Result<f32, Error> {
//!     let loss = (&x.matmul(w)? - y)?.square()?.mean_all()?;
//!     loss.backward()?;
//!     opt.step(&[("w", w)])?;
//!     w.zero_grad();
//!     Ok(loss.item()?)
//! }
//! let w = Var::parameter(Tensor::zeros(ndarray::IxDyn(&[2, 1])));
//! let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
//! let y = Var::from_array(ndarray::arr2(&[[1.0f32], [2.0]]));
//! let mut opt = Sgd::new(0.01);
//! let first = train_step(&w, &x, &y, &mut opt)?;
//! let second = train_step(&w, &x, &y, &mut opt)?;
//! assert!(second < first);
//! # Ok::<(), Error>(())
//! ```

pub use crate::callbacks::{
    Callback, CsvLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLrOnPlateau,
    TerminateOnNan,
};
pub use crate::functional::{Block, BlockLayer};
pub use crate::functional::{CallLayer, Functional, Graph, Input, SharedLayer, SymbolicTensor};
pub use crate::TextModel;
pub use crate::{
    cross_validate, DtypePolicy, Error, FitOptions, History, LayerStack, Metric, Model, Sequential,
};
pub use crate::{Arrays, DataStream, LossWeights, Losses, Metrics, PerOutput};
pub use neurite_autograd::{no_grad, ops, NoGradGuard, Var};
pub use neurite_nn::activation::Activation;
pub use neurite_nn::initializers::Initializer;
pub use neurite_nn::layers::*;
pub use neurite_nn::losses::{Loss, Reduction};
pub use neurite_nn::regularizers::Regularizer;
pub use neurite_nn::{ForwardContext, Layer, Parameter};
pub use neurite_optim::{Adagrad, Adam, AdamW, Adamax, Nadam, Optimizer, Rmsprop, Sgd};
pub use neurite_tensor::random::{rng_from_seed, Generator};
pub use neurite_tensor::{Padding, Tensor};
