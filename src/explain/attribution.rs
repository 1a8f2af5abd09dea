//! The result of every method: one attribution per input value (Grad-CAM:
//! per input position), with the explained units and the model's outputs.

use crate::error::{Error, Result};
use ndarray::{Array2, ArrayViewD, Axis, Ix2};
use neurite_tensor::Tensor;

/// Attributions of a batch: `values[i]` says how much each feature of
/// sample `i` contributed to output unit `targets[i]`.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{GradientXInput, Target};
/// let mut model = Sequential::new().add(Dense::new(2).input_shape([3]));
/// model.build(&[3])?;
/// let x = ndarray::arr2(&[[1.0f32, 2.0, 3.0]]).into_dyn();
/// let a = GradientXInput::new().explain(&model, &x, &Target::Unit(1))?;
/// assert_eq!((a.method.as_str(), a.targets.as_slice(), a.len()), ("gradient_x_input", &[1][..], 1));
/// assert_eq!(a.feature_values(0), a.values.iter().copied().collect::<Vec<_>>());
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Attribution {
    /// The method's name (`"saliency"`, `"integrated_gradients"`, `"grad_cam"`, ...).
    pub method: String,
    /// Same shape as the input for every method but Grad-CAM, whose map
    /// has the input's spatial shape: `(samples, height, width)` for images
    /// (`(samples, steps)` for sequences).
    pub values: Tensor,
    /// The output unit explained for each sample.
    pub targets: Vec<usize>,
    /// The model's outputs on the input, `(samples, units)`.
    pub outputs: Tensor,
}

impl Attribution {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Sample `i`'s attributions.
    pub fn sample(&self, i: usize) -> ArrayViewD<'_, f32> {
        self.values.index_axis(Axis(0), i)
    }

    /// Sample `i`'s predicted class: its largest output (NaN outputs skipped).
    pub fn predicted(&self, i: usize) -> usize {
        self.outputs
            .index_axis(Axis(0), i)
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(j, _)| j)
    }

    /// Sample `i`'s attributions flattened, one per feature (for the bar
    /// chart of a tabular input).
    pub fn feature_values(&self, i: usize) -> Vec<f32> {
        self.sample(i).iter().copied().collect()
    }

    /// Sample `i`'s attributions as a picture-shaped map: an image sample
    /// `(height, width, channels)` summed over its channels, a
    /// `(height, width)` sample (Grad-CAM's maps, grey images) as it is, a
    /// vector of features as one row. Errors for samples of other ranks.
    ///
    /// ```
    /// use neurite::explain::Attribution;
    /// let a = Attribution {
    ///     method: "saliency".into(),
    ///     values: ndarray::Array4::<f32>::ones((1, 2, 3, 3)).into_dyn(),
    ///     targets: vec![0],
    ///     outputs: ndarray::Array2::<f32>::zeros((1, 1)).into_dyn(),
    /// };
    /// assert_eq!(a.map(0)?, ndarray::Array2::<f32>::from_elem((2, 3), 3.0));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn map(&self, i: usize) -> Result<Array2<f32>> {
        if i >= self.len() {
            return Err(Error::Input(format!(
                "attribution map: sample {i} is out of range ({} samples)",
                self.len()
            )));
        }
        let s = self.sample(i);
        let shape = s.shape().to_vec();
        let map = match shape.len() {
            1 => s.to_owned().into_shape_with_order((1, shape[0])).ok(),
            2 => s.into_dimensionality::<Ix2>().ok().map(|v| v.to_owned()),
            3 => Some(s.sum_axis(Axis(2)).into_dimensionality::<Ix2>().ok()).flatten(),
            _ => None,
        };
        map.ok_or_else(|| {
            Error::Input(format!(
                "attribution map: a sample of shape {shape:?} has no picture shape (expected (features), (height, width) or (height, width, channels))"
            ))
        })
    }
}
