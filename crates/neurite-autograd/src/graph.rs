//! Reverse-mode differentiation: topological order, gradient propagation,
//! accumulation into leaves, and freeing the graph as it is consumed.

use crate::error::{AutogradError, Result};
use crate::observer::{BackwardObserver, LeafWatch};
use crate::var::GradFn;
use crate::var::Var;
use neurite_tensor::Tensor;
use std::sync::atomic::{AtomicUsize, Ordering};

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
        self.run_backward(self.unit_gradient("backward()")?, None)
    }

    /// [`Var::backward`], telling `observer` when each parameter's gradient
    /// is complete (see [`BackwardObserver`]): the gradients are the same as
    /// `backward()`'s.
    ///
    /// ```
    /// use neurite_autograd::{ops, BackwardObserver, Var};
    /// struct Count(usize);
    /// impl BackwardObserver for Count {
    ///     fn leaf_ready(&mut self, _: &Var) -> neurite_autograd::Result<()> {
    ///         self.0 += 1;
    ///         Ok(())
    ///     }
    /// }
    /// let w = Var::parameter(ndarray::arr1(&[3.0f32]).into_dyn());
    /// let mut count = Count(0);
    /// ops::sum_all(&ops::mul(&w, &w)?)?.backward_observed(&mut count)?;
    /// assert_eq!((count.0, w.grad().unwrap()[[0]]), (1, 6.0));
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn backward_observed(&self, observer: &mut dyn BackwardObserver) -> Result<()> {
        self.run_backward(self.unit_gradient("backward_observed()")?, Some(observer))
    }

    /// The gradient of a one-element output with respect to itself.
    fn unit_gradient(&self, what: &'static str) -> Result<Tensor> {
        let shape = self.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(AutogradError::NotOneElement { what, shape });
        }
        Ok(Tensor::ones(ndarray::IxDyn(&shape)))
    }

    /// Back-propagates from any `Var` with an explicit upstream gradient of
    /// the same shape (the vector of a vector-Jacobian product).
    ///
    /// Errors (never panics) when the gradient's shape is not the output's,
    /// when the output depends on no parameter, when the graph was already
    /// consumed, when a value in the graph was given another shape (through
    /// `set_value`/`value_mut`) since the forward pass, or when a leaf's
    /// accumulated gradient (e.g. from `set_grad`) has another shape than
    /// the gradient arriving for it.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let x = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    /// let y = ops::mul(&x, &x)?;
    /// y.backward_with(ndarray::arr1(&[1.0f32, 10.0]).into_dyn())?;
    /// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[2.0f32, 40.0]).into_dyn());
    ///
    /// // Resizing an input between the forward and the backward pass is refused.
    /// let y = ops::mul(&x, &x)?;
    /// x.set_value(ndarray::arr1(&[1.0f32, 2.0, 3.0]).into_dyn());
    /// assert!(y.backward_with(ndarray::arr1(&[1.0f32, 1.0]).into_dyn()).is_err());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn backward_with(&self, gradient: Tensor) -> Result<()> {
        self.run_backward(gradient, None)
    }

    fn run_backward(&self, gradient: Tensor, observer: Option<&mut dyn BackwardObserver>) -> Result<()> {
        let shape = self.shape();
        if gradient.shape() != shape.as_slice() {
            return Err(AutogradError::Backward(format!(
                "the upstream gradient has shape {:?} but the output has shape {shape:?}",
                gradient.shape()
            )));
        }
        if !self.requires_grad() {
            return Err(AutogradError::NoParameters);
        }
        if self.is_leaf() {
            // d self / d self: the gradient itself.
            accumulate(self, gradient, "backward_with")?;
            return match observer {
                Some(observer) => LeafWatch::new(observer, &[]).root_leaf(self),
                None => Ok(()),
            };
        }
        let pass = NEXT_PASS.fetch_add(1, Ordering::Relaxed);
        let order = topological_order(self, pass);
        let mut watch = observer.map(|o| LeafWatch::new(o, &order));
        *self.node.grad.lock() = Some(gradient);
        let result = propagate(&order, watch.as_mut());
        if result.is_err() {
            // Leave no half-collected gradients behind in the op results.
            for var in &order {
                var.node.grad.lock().take();
            }
        }
        result
    }
}

/// Ids of backward passes, for the per-node visit marks (0 means "never visited").
static NEXT_PASS: AtomicUsize = AtomicUsize::new(1);

/// Runs the backward closures of `order` (op results, parents before
/// children) from the last to the first. Each op result's collected gradient
/// sits in its own `grad` slot (no map); gradients for leaves are added to
/// the leaves at once. `watch` hears of every op done.
fn propagate(order: &[Var], mut watch: Option<&mut LeafWatch<'_>>) -> Result<()> {
    for var in order.iter().rev() {
        let Some(grad) = var.node.grad.lock().take() else {
            if let Some(watch) = watch.as_mut() {
                let parents = var.node.grad_fn.lock().as_ref().map(|g| g.parents.clone());
                watch.op_done(parents.as_deref().unwrap_or_default())?;
            }
            continue;
        };
        let grad_fn = var
            .node
            .grad_fn
            .lock()
            .take()
            .ok_or(AutogradError::GraphConsumed)?;
        let GradFn {
            name,
            parents,
            backward,
            output_shape,
            parent_shapes,
        } = grad_fn;
        check_unchanged(name, var, &output_shape, &parents, &parent_shapes)?;
        let parent_grads = backward(&grad)?;
        drop(grad);
        if parent_grads.len() != parents.len() {
            return Err(AutogradError::Backward(format!(
                "op {name} returned {} gradients for {} inputs",
                parent_grads.len(),
                parents.len()
            )));
        }
        for (parent, pgrad) in parents.iter().zip(parent_grads) {
            let Some(pgrad) = pgrad else { continue };
            if !parent.requires_grad() {
                continue;
            }
            {
                let pv = parent.value();
                if pgrad.shape() != pv.shape() {
                    return Err(AutogradError::Backward(format!(
                        "op {name} returned a gradient of shape {:?} for an input of shape {:?}",
                        pgrad.shape(),
                        pv.shape()
                    )));
                }
            }
            // Leaves keep it; op results hand it on when their turn comes.
            accumulate(parent, pgrad, name)?;
        }
        if let Some(watch) = watch.as_mut() {
            watch.op_done(&parents)?;
        }
    }
    Ok(())
}

/// Errors if the value of the op's output (`var`) or of one of its
/// `parents` no longer has the shape it had in the forward pass (changed
/// through `set_value`/`value_mut`): the op's backward closure was built for
/// those shapes and would compute garbage, or panic, on others.
fn check_unchanged(
    name: &str,
    var: &Var,
    output_shape: &[usize],
    parents: &[Var],
    parent_shapes: &[Vec<usize>],
) -> Result<()> {
    let changed = |what: String, then: &[usize], now: &[usize]| {
        AutogradError::Backward(format!(
            "op {name}: {what} had shape {then:?} in the forward pass but has shape {now:?} now \
             (changed by set_value/value_mut); run the forward pass again"
        ))
    };
    {
        let now = var.value();
        if now.shape() != output_shape {
            return Err(changed("its output".into(), output_shape, now.shape()));
        }
    }
    for (i, (parent, then)) in parents.iter().zip(parent_shapes).enumerate() {
        let now = parent.value();
        if now.shape() != then.as_slice() {
            return Err(changed(format!("input {i}"), then, now.shape()));
        }
    }
    Ok(())
}

/// Adds `grad` to the gradient slot of `var` (moved in when the slot is
/// empty). Errors if the slot holds a gradient of another shape (one given
/// by `set_grad`, or left from before a `set_value` of another shape): `op`
/// names the op whose gradient arrives.
fn accumulate(var: &Var, grad: Tensor, op: &str) -> Result<()> {
    let mut slot = var.node.grad.lock();
    match slot.as_mut() {
        Some(acc) if acc.shape() != grad.shape() => Err(AutogradError::Backward(format!(
            "op {op}: a gradient of shape {:?} cannot be added to the accumulated gradient of shape {:?} \
             (set by set_grad, or from before a set_value of another shape); call zero_grad first",
            grad.shape(),
            acc.shape()
        ))),
        Some(acc) => {
            *acc += &grad;
            Ok(())
        }
        None => {
            *slot = Some(grad);
            Ok(())
        }
    }
}

/// Op results reachable from `root` through recorded ops, each after all of
/// its parents (iterative depth-first search, so deep graphs cannot
/// overflow; a node is expanded once per pass, tracked by its `mark`).
/// Leaves are left out: their gradients are accumulated as they arrive.
fn topological_order(root: &Var, pass: usize) -> Vec<Var> {
    let mut order = Vec::new();
    let mut stack: Vec<(Var, bool)> = vec![(root.clone(), false)];
    while let Some((var, children_done)) = stack.pop() {
        if children_done {
            order.push(var);
            continue;
        }
        if var.node.mark.swap(pass, Ordering::Relaxed) == pass {
            continue;
        }
        stack.push((var.clone(), true));
        if let Some(g) = var.node.grad_fn.lock().as_ref() {
            for p in &g.parents {
                if p.requires_grad() && !p.is_leaf() && p.node.mark.load(Ordering::Relaxed) != pass {
                    stack.push((p.clone(), false));
                }
            }
        }
    }
    order
}
