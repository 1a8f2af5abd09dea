//! Reduction methods on `Var` (see [`crate::ops`]).

use crate::error::Result;
use crate::ops;
use crate::var::Var;

impl Var {
    /// [`ops::sum_all`]: the sum of all elements, as a 0-dimensional `Var`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
    /// assert_eq!(x.sum_all()?.item()?, 10.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sum_all(&self) -> Result<Var> {
        ops::sum_all(self)
    }

    /// [`ops::mean_all`]: the mean of all elements.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
    /// assert_eq!(x.mean_all()?.item()?, 2.5);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn mean_all(&self) -> Result<Var> {
        ops::mean_all(self)
    }

    /// [`ops::sum_axis`]: the sum along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
    /// assert_eq!(x.sum_axis(0, false)?.to_tensor(), ndarray::arr1(&[4.0f32, 6.0]).into_dyn());
    /// assert!(x.sum_axis(2, false).is_err());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sum_axis(&self, axis: usize, keepdims: bool) -> Result<Var> {
        ops::sum_axis(self, axis, keepdims)
    }

    /// [`ops::mean_axis`]: the mean along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]));
    /// assert_eq!(x.mean_axis(1, true)?.to_tensor(), ndarray::arr2(&[[1.5f32], [3.5]]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn mean_axis(&self, axis: usize, keepdims: bool) -> Result<Var> {
        ops::mean_axis(self, axis, keepdims)
    }

    /// [`ops::max_axis`]: the maximum along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 0.0]]));
    /// assert_eq!(x.max_axis(1, false)?.to_tensor(), ndarray::arr1(&[2.0f32, 3.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn max_axis(&self, axis: usize, keepdims: bool) -> Result<Var> {
        ops::max_axis(self, axis, keepdims)
    }

    /// [`ops::min_axis`]: the minimum along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0], [3.0, 0.0]]));
    /// assert_eq!(x.min_axis(1, false)?.to_tensor(), ndarray::arr1(&[1.0f32, 0.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn min_axis(&self, axis: usize, keepdims: bool) -> Result<Var> {
        ops::min_axis(self, axis, keepdims)
    }

    /// [`ops::sum_axes`]: the sum along several axes.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
    /// assert_eq!(x.sum_axes(&[0, 2], false)?.to_tensor(), ndarray::arr1(&[8.0f32; 3]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn sum_axes(&self, axes: &[usize], keepdims: bool) -> Result<Var> {
        ops::sum_axes(self, axes, keepdims)
    }

    /// [`ops::mean_axes`]: the mean along several axes.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array3::<f32>::ones((2, 3, 4)));
    /// assert_eq!(x.mean_axes(&[0, 2], false)?.to_tensor(), ndarray::arr1(&[1.0f32; 3]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn mean_axes(&self, axes: &[usize], keepdims: bool) -> Result<Var> {
        ops::mean_axes(self, axes, keepdims)
    }

    /// [`ops::variance_axis`]: the (population) variance along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 3.0]));
    /// assert_eq!(x.variance_axis(0, false)?.item()?, 1.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn variance_axis(&self, axis: usize, keepdims: bool) -> Result<Var> {
        ops::variance_axis(self, axis, keepdims)
    }
}
