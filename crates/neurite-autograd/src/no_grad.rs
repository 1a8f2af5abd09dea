//! Scopes in which operations record no graph (inference, optimizer updates).

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread currently record the graph.
///
/// ```
/// assert!(neurite_autograd::is_grad_enabled());
/// neurite_autograd::no_grad(|| assert!(!neurite_autograd::is_grad_enabled()));
/// ```
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with graph recording switched off on this thread: every result
/// is a constant with no parents, so nothing is kept for a backward pass.
///
/// ```
/// use neurite_autograd::{no_grad, ops, Var};
/// let w = Var::parameter(ndarray::arr1(&[2.0f32]).into_dyn());
/// let y = no_grad(|| ops::mul(&w, &w)).unwrap();
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}

/// RAII guard: graph recording is off on this thread while it lives and
/// restored to its previous state when it is dropped.
///
/// ```
/// let guard = neurite_autograd::NoGradGuard::new();
/// assert!(!neurite_autograd::is_grad_enabled());
/// drop(guard);
/// assert!(neurite_autograd::is_grad_enabled());
/// ```
#[derive(Debug)]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Switches recording off until the guard is dropped.
    ///
    /// ```
    /// let _guard = neurite_autograd::NoGradGuard::new();
    /// assert!(!neurite_autograd::is_grad_enabled());
    /// ```
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}
