//! Watching a backward pass: which parameter's gradient is complete, and
//! when. Data-parallel training uses it to send a gradient to the other
//! processes while the rest of the backward pass still runs.

use crate::error::Result;
use crate::var::Var;
use std::collections::HashMap;

/// Told about a backward pass as it runs ([`Var::backward_observed`]).
///
/// ```
/// use neurite_autograd::{ops, BackwardObserver, Var};
/// struct Ready(Vec<usize>);
/// impl BackwardObserver for Ready {
///     fn leaf_ready(&mut self, leaf: &Var) -> neurite_autograd::Result<()> {
///         self.0.push(leaf.id());
///         Ok(())
///     }
/// }
/// let w1 = Var::parameter(ndarray::arr1(&[2.0f32]).into_dyn());
/// let w2 = Var::parameter(ndarray::arr1(&[3.0f32]).into_dyn());
/// let h = ops::mul(&w1, &w1)?; // the first op: w1's gradient is complete only after it
/// let loss = ops::sum_all(&ops::mul(&h, &w2)?)?;
/// let mut ready = Ready(Vec::new());
/// loss.backward_observed(&mut ready)?;
/// assert_eq!(ready.0, vec![w2.id(), w1.id()]); // w2 first: its last use is the last op
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub trait BackwardObserver {
    /// `leaf` (a parameter the loss depends on) has its complete gradient of
    /// this pass: no op left in the pass adds to it. Called once per leaf,
    /// in the order the pass completes them (about the reverse of the
    /// forward order). A leaf whose ops all sent no gradient is reported too,
    /// with no gradient added.
    fn leaf_ready(&mut self, leaf: &Var) -> Result<()>;

    /// Called after each op's backward step (to make progress on work that
    /// runs beside the pass, such as communication). Does nothing by default.
    fn after_op(&mut self) -> Result<()> {
        Ok(())
    }
}

/// For one pass: how many op inputs in the pass each leaf still is.
pub(crate) struct LeafWatch<'o> {
    observer: &'o mut dyn BackwardObserver,
    remaining: HashMap<usize, (usize, Var)>,
}

impl<'o> LeafWatch<'o> {
    /// Counts the leaf inputs of the ops of `order` (one count per use).
    pub(crate) fn new(observer: &'o mut dyn BackwardObserver, order: &[Var]) -> Self {
        let mut remaining: HashMap<usize, (usize, Var)> = HashMap::new();
        for var in order {
            if let Some(g) = var.node.grad_fn.lock().as_ref() {
                for p in g.parents.iter().filter(|p| p.is_leaf() && p.requires_grad()) {
                    remaining.entry(p.id()).or_insert_with(|| (0, p.clone())).0 += 1;
                }
            }
        }
        LeafWatch { observer, remaining }
    }

    /// One op of the pass is done (its inputs are `parents`): leaves with no
    /// use left are reported, then [`BackwardObserver::after_op`].
    pub(crate) fn op_done(&mut self, parents: &[Var]) -> Result<()> {
        for p in parents.iter().filter(|p| p.is_leaf() && p.requires_grad()) {
            let done = match self.remaining.get_mut(&p.id()) {
                Some((count, _)) => {
                    *count -= 1;
                    *count == 0
                }
                None => false,
            };
            if done {
                if let Some((_, leaf)) = self.remaining.remove(&p.id()) {
                    self.observer.leaf_ready(&leaf)?;
                }
            }
        }
        self.observer.after_op()
    }

    /// The pass reached a leaf root directly (`backward_with` on a parameter).
    pub(crate) fn root_leaf(&mut self, leaf: &Var) -> Result<()> {
        self.observer.leaf_ready(leaf)
    }
}
