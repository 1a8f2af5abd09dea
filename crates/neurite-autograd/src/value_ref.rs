//! `ValueRef` and `ValueMut`: neurite's own handles on a [`Var`]'s value,
//! so that no lock crate's guard type appears in the public API.
//!
//! [`Var`]: crate::Var

use neurite_tensor::Tensor;
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};
use std::fmt;
use std::ops::{Deref, DerefMut};

/// Shared read access to a [`Var`](crate::Var)'s value, returned by
/// [`Var::value`](crate::Var::value). It dereferences to the [`Tensor`];
/// the value cannot change while it is alive, so drop it before calling
/// [`Var::value_mut`](crate::Var::value_mut) or
/// [`Var::set_value`](crate::Var::set_value) on the same `Var`.
///
/// ```
/// use neurite_autograd::{Var, ValueRef};
/// let v = Var::from_array(ndarray::arr1(&[1.0f32, 2.0]));
/// let value: ValueRef<'_> = v.value();
/// assert_eq!(value.sum(), 3.0);
/// assert_eq!(value.shape(), &[2]);
/// ```
pub struct ValueRef<'a> {
    guard: RwLockReadGuard<'a, Tensor>,
}

impl<'a> ValueRef<'a> {
    pub(crate) fn new(guard: RwLockReadGuard<'a, Tensor>) -> ValueRef<'a> {
        ValueRef { guard }
    }
}

impl Deref for ValueRef<'_> {
    type Target = Tensor;

    fn deref(&self) -> &Tensor {
        &self.guard
    }
}

impl fmt::Debug for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive write access to a [`Var`](crate::Var)'s value, returned by
/// [`Var::value_mut`](crate::Var::value_mut) (optimizers update parameters
/// in place through it). It dereferences mutably to the [`Tensor`]; no
/// other access to the value is possible while it is alive.
///
/// ```
/// use neurite_autograd::{Var, ValueMut};
/// let w = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
/// {
///     let mut value: ValueMut<'_> = w.value_mut();
///     *value *= 10.0;
///     value[[0]] = 0.5;
/// }
/// assert_eq!(w.to_tensor(), ndarray::arr1(&[0.5f32, 20.0]).into_dyn());
/// ```
pub struct ValueMut<'a> {
    guard: RwLockWriteGuard<'a, Tensor>,
}

impl<'a> ValueMut<'a> {
    pub(crate) fn new(guard: RwLockWriteGuard<'a, Tensor>) -> ValueMut<'a> {
        ValueMut { guard }
    }
}

impl Deref for ValueMut<'_> {
    type Target = Tensor;

    fn deref(&self) -> &Tensor {
        &self.guard
    }
}

impl DerefMut for ValueMut<'_> {
    fn deref_mut(&mut self) -> &mut Tensor {
        &mut self.guard
    }
}

impl fmt::Debug for ValueMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
