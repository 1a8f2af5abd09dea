//! Shape methods on `Var` (see [`crate::ops`]).

use crate::error::Result;
use crate::ops;
use crate::var::Var;

impl Var {
    /// [`ops::reshape`]: the same elements (row-major) in `shape`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array1::<f32>::zeros(6));
    /// assert_eq!(x.reshape(&[2, 3])?.shape(), vec![2, 3]);
    /// assert!(x.reshape(&[4, 2]).is_err());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Var> {
        ops::reshape(self, shape)
    }

    /// [`ops::flatten`]: `(n, ...) -> (n, product of the rest)`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array3::<f32>::zeros((2, 3, 4)));
    /// assert_eq!(x.flatten()?.shape(), vec![2, 12]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn flatten(&self) -> Result<Var> {
        ops::flatten(self)
    }

    /// [`ops::transpose`]: the transpose of a matrix.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array2::<f32>::zeros((2, 3)));
    /// assert_eq!(x.transpose()?.shape(), vec![3, 2]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn transpose(&self) -> Result<Var> {
        ops::transpose(self)
    }

    /// [`ops::permute`]: axes reordered (`axes[i]` is the input axis that
    /// becomes output axis `i`).
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array3::<f32>::zeros((2, 3, 4)));
    /// assert_eq!(x.permute(&[2, 0, 1])?.shape(), vec![4, 2, 3]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn permute(&self, axes: &[usize]) -> Result<Var> {
        ops::permute(self, axes)
    }

    /// [`ops::slice_axis`]: elements `start..end` along `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 2.0, 3.0]));
    /// assert_eq!(x.slice_axis(0, 1, 3)?.to_tensor(), ndarray::arr1(&[2.0f32, 3.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn slice_axis(&self, axis: usize, start: usize, end: usize) -> Result<Var> {
        ops::slice_axis(self, axis, start, end)
    }

    /// [`ops::index_select`]: the entries `indices` along `axis` (an
    /// embedding lookup along axis 0).
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 2.0, 3.0]));
    /// assert_eq!(x.index_select(0, &[2, 2])?.to_tensor(), ndarray::arr1(&[3.0f32, 3.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Var> {
        ops::index_select(self, axis, indices)
    }

    /// [`ops::broadcast_to`]: repeated to `shape` under NumPy's rules.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 2.0]));
    /// assert_eq!(x.broadcast_to(&[3, 2])?.shape(), vec![3, 2]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var> {
        ops::broadcast_to(self, shape)
    }

    /// [`ops::expand_dims`]: a new size-1 axis at `axis`.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 2.0]));
    /// assert_eq!(x.expand_dims(0)?.shape(), vec![1, 2]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn expand_dims(&self, axis: usize) -> Result<Var> {
        ops::expand_dims(self, axis)
    }

    /// [`ops::squeeze`]: the size-1 axis `axis` removed.
    ///
    /// ```
    /// let x = neurite_autograd::Var::from_array(ndarray::Array2::<f32>::zeros((3, 1)));
    /// assert_eq!(x.squeeze(1)?.shape(), vec![3]);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn squeeze(&self, axis: usize) -> Result<Var> {
        ops::squeeze(self, axis)
    }
}
