//! Everything a Keras-style program needs, in one `use neurite::prelude::*;`.
//!
//! ```
//! use neurite::prelude::*;
//! let model = Sequential::new()
//!     .add(Conv2D::new(8, (3, 3)).activation(Activation::Relu).input_shape([8, 8, 1]))
//!     .add(MaxPooling2D::new((2, 2)))
//!     .add(Flatten::new())
//!     .add(Dense::new(10).activation(Activation::Softmax));
//! assert_eq!(model.layers().len(), 4);
//! ```

pub use crate::callbacks::{
    Callback, CsvLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLrOnPlateau,
    TerminateOnNan,
};
pub use crate::{cross_validate, FitOptions, History, LayerStack, Metric, Model, Sequential};
pub use neurite_autograd::{no_grad, ops, Var};
pub use neurite_nn::activation::Activation;
pub use neurite_nn::initializers::Initializer;
pub use neurite_nn::layers::*;
pub use neurite_nn::losses::Loss;
pub use neurite_nn::regularizers::Regularizer;
pub use neurite_nn::{ForwardContext, Layer, Parameter};
pub use neurite_optim::{Adagrad, Adam, AdamW, Adamax, Nadam, Optimizer, Rmsprop, Sgd};
pub use neurite_tensor::{Padding, Tensor};
