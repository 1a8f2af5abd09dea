//! Attributions: why a model gave its output, feature by feature (what
//! Captum, tf-explain and SHAP do for PyTorch and Keras users).
//!
//! Every method explains one output unit per sample, chosen by a
//! [`Target`]: the predicted class (the default), a class per sample, or an
//! output unit of a regression. All run the model in inference mode
//! (dropout off, batch normalization on its moving statistics), in batches
//! of [`batch_size`](Saliency::batch_size) rows whose kernels run in
//! parallel on rayon's pool, and return an [`Attribution`]:
//!
//! | method | what it computes |
//! |---|---|
//! | [`Saliency`] | the gradient of the target with respect to the input (absolute by default, as Captum) |
//! | [`GradientXInput`] | gradient × input |
//! | [`SmoothGrad`] | the gradient averaged over noisy copies of the input |
//! | [`IntegratedGradients`] | (x − baseline) × the gradient integrated along the straight path from the baseline |
//! | [`Occlusion`] | the drop of the target when a sliding window of the input is set to a baseline value |
//! | [`GradCam`] | ReLU of the feature maps of a named convolutional layer weighted by their mean gradients, upsampled to the input |
//!
//! Gradients are taken with respect to a leaf holding the input; the
//! backward pass also reaches the weights, whose accumulated gradients are
//! restored afterwards, so explaining a model in the middle of a custom
//! training loop leaves its gradients as they were.
//!
//! ```
//! use neurite::prelude::*;
//! use neurite::explain::{IntegratedGradients, Saliency, Target};
//! let mut model = Sequential::new()
//!     .add(Dense::new(8).activation(Activation::Tanh).input_shape([4]))
//!     .add(Dense::new(3).activation(Activation::Softmax));
//! model.build(&[4])?;
//! let x = ndarray::Array2::<f32>::from_shape_fn((5, 4), |(i, j)| (i + j) as f32 / 8.0).into_dyn();
//! let saliency = Saliency::new().explain(&model, &x, &Target::Predicted)?;
//! assert_eq!(saliency.values.shape(), &[5, 4]);
//! let ig = IntegratedGradients::new().steps(32).explain(&model, &x, &Target::Class(2))?;
//! // Completeness: the attributions of a sample sum to f(x) - f(baseline).
//! let zero = model.predict(&ndarray::Array2::<f32>::zeros((5, 4)).into_dyn())?;
//! let sum: f32 = ig.values.index_axis(ndarray::Axis(0), 0).sum();
//! assert!((sum - (ig.outputs[[0, 2]] - zero[[0, 2]])).abs() < 1e-4);
//! # Ok::<(), neurite::Error>(())
//! ```

mod attribution;
mod gradcam;
mod gradients;
mod integrated;
mod occlusion;
pub mod picture;
mod saliency;
mod smoothgrad;
mod target;
mod upsample;

pub use attribution::Attribution;
pub use gradcam::GradCam;
pub use integrated::{Baseline, IntegratedGradients, Integration};
pub use occlusion::Occlusion;
pub use saliency::{GradientXInput, Saliency};
pub use smoothgrad::SmoothGrad;
pub use target::Target;
