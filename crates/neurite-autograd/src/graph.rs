//! Reverse-mode differentiation: topological order, gradient propagation,
//! accumulation into leaves, and freeing the graph as it is consumed.

use crate::error::{AutogradError, Result};
use crate::var::Var;
use neurite_tensor::Tensor;
use std::collections::{HashMap, HashSet};

impl Var {
    /// Back-propagates from a one-element `Var` (a loss): every parameter it
    /// depends on gets `d self / d parameter` added to its gradient.
    ///
    /// The graph is consumed: intermediate values and backward closures are
    /// freed as the pass goes, so a second `backward()` through the same
    /// graph is an error. Gradients of leaves accumulate over several
    /// backward calls (of separate graphs) until [`Var::zero_grad`].
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let w = Var::parameter(ndarray::arr1(&[3.0f32]).into_dyn());
    /// ops::sum_all(&ops::mul(&w, &w)?)?.backward()?;
    /// ops::sum_all(&ops::mul(&w, &w)?)?.backward()?;
    /// assert_eq!(w.grad().unwrap()[[0]], 12.0); // 6 + 6, accumulated
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn backward(&self) -> Result<()> {
        let shape = self.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(AutogradError::Backward(format!(
                "backward() without a gradient needs a one-element output, found shape {shape:?}; use backward_with(gradient)"
            )));
        }
        self.backward_with(Tensor::ones(ndarray::IxDyn(&shape)))
    }

    /// Back-propagates from any `Var` with an explicit upstream gradient of
    /// the same shape (the vector of a vector-Jacobian product).
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let x = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    /// let y = ops::mul(&x, &x)?;
    /// y.backward_with(ndarray::arr1(&[1.0f32, 10.0]).into_dyn())?;
    /// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[2.0f32, 40.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn backward_with(&self, gradient: Tensor) -> Result<()> {
        let shape = self.shape();
        if gradient.shape() != shape.as_slice() {
            return Err(AutogradError::Backward(format!(
                "the upstream gradient has shape {:?} but the output has shape {shape:?}",
                gradient.shape()
            )));
        }
        if !self.requires_grad() {
            return Err(AutogradError::Backward(
                "the output does not depend on any parameter (or was computed under no_grad)".into(),
            ));
        }
        let order = topological_order(self);
        let mut grads: HashMap<usize, Tensor> = HashMap::new();
        grads.insert(self.id(), gradient);
        for var in order.iter().rev() {
            let Some(grad) = grads.remove(&var.id()) else {
                continue;
            };
            if var.is_leaf() {
                accumulate_leaf(var, grad);
                continue;
            }
            let grad_fn = var.node.grad_fn.lock().take().ok_or_else(|| {
                AutogradError::Backward(
                    "this graph was already consumed by an earlier backward(); run the forward pass again"
                        .into(),
                )
            })?;
            let parent_grads = (grad_fn.backward)(&grad)?;
            debug_assert_eq!(parent_grads.len(), grad_fn.parents.len(), "op {}", grad_fn.name);
            for (parent, pgrad) in grad_fn.parents.iter().zip(parent_grads) {
                let Some(pgrad) = pgrad else { continue };
                if !parent.requires_grad() {
                    continue;
                }
                let pshape = parent.shape();
                if pgrad.shape() != pshape.as_slice() {
                    return Err(AutogradError::Backward(format!(
                        "op {} returned a gradient of shape {:?} for an input of shape {pshape:?}",
                        grad_fn.name,
                        pgrad.shape()
                    )));
                }
                match grads.get_mut(&parent.id()) {
                    Some(acc) => *acc += &pgrad,
                    None => {
                        grads.insert(parent.id(), pgrad);
                    }
                }
            }
        }
        Ok(())
    }
}

fn accumulate_leaf(var: &Var, grad: Tensor) {
    let mut slot = var.node.grad.lock();
    match slot.as_mut() {
        Some(acc) => *acc += &grad,
        None => *slot = Some(grad),
    }
}

/// Nodes reachable from `root` through recorded ops, each after all of its
/// parents (iterative depth-first search, so deep graphs cannot overflow).
fn topological_order(root: &Var) -> Vec<Var> {
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    let mut stack: Vec<(Var, bool)> = vec![(root.clone(), false)];
    while let Some((var, children_done)) = stack.pop() {
        if children_done {
            order.push(var);
            continue;
        }
        if !visited.insert(var.id()) {
            continue;
        }
        let parents: Vec<Var> = var
            .node
            .grad_fn
            .lock()
            .as_ref()
            .map(|g| g.parents.iter().filter(|p| p.requires_grad()).cloned().collect())
            .unwrap_or_default();
        stack.push((var, true));
        for p in parents {
            if !visited.contains(&p.id()) {
                stack.push((p, false));
            }
        }
    }
    order
}
