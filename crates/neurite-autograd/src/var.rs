//! `Var`: a value in the computation graph, with its gradient and the op that made it.

use crate::error::{AutogradError, Result};
use crate::no_grad::is_grad_enabled;
use crate::value_ref::{ValueMut, ValueRef};
use neurite_tensor::Tensor;
use parking_lot::{Mutex, RwLock};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);

/// Number of graph nodes (`Var`s with distinct identity) alive in the
/// process right now. Used to check that graphs are freed after backward.
///
/// ```
/// let before = neurite_autograd::live_nodes();
/// let v = neurite_autograd::Var::scalar(1.0);
/// assert!(neurite_autograd::live_nodes() >= before + 1 || before > 0);
/// drop(v);
/// ```
pub fn live_nodes() -> usize {
    LIVE_NODES.load(Ordering::Relaxed)
}

/// The backward function of an op: maps the gradient of the op's output to
/// one optional gradient per parent (in the order the parents were given;
/// `None` for a parent that gets no gradient).
///
/// ```
/// let double: neurite_autograd::BackwardFn = Box::new(|g| Ok(vec![Some(g * 2.0)]));
/// assert_eq!(double(&ndarray::arr1(&[1.0f32]).into_dyn())?[0].as_ref().unwrap()[[0]], 2.0);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub type BackwardFn = Box<dyn FnOnce(&Tensor) -> Result<Vec<Option<Tensor>>> + Send>;

/// The backward function of an op that reads its own output (sigmoid, tanh,
/// exp, softmax, ...): called with the output's gradient and the output's
/// value, returns one optional gradient per parent like [`BackwardFn`].
/// See [`Var::from_op_with_output`].
///
/// ```
/// // d tanh / dx = 1 - y^2, from the output y.
/// let f: neurite_autograd::BackwardWithOutputFn = Box::new(|g, y| Ok(vec![Some(g * &y.mapv(|y| 1.0 - y * y))]));
/// let out = f(&ndarray::arr1(&[1.0f32]).into_dyn(), &ndarray::arr1(&[0.5f32]).into_dyn())?;
/// assert_eq!(out[0].as_ref().unwrap()[[0]], 0.75);
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
pub type BackwardWithOutputFn = Box<dyn FnOnce(&Tensor, &Tensor) -> Result<Vec<Option<Tensor>>> + Send>;

pub(crate) struct GradFn {
    pub(crate) name: &'static str,
    pub(crate) parents: Vec<Var>,
    pub(crate) backward: BackwardFn,
    /// Shapes at the forward pass of the op's output and of each parent's
    /// value: the backward closure was written for these, so the backward
    /// pass refuses to run it if `set_value`/`value_mut` changed one since.
    pub(crate) output_shape: Vec<usize>,
    pub(crate) parent_shapes: Vec<Vec<usize>>,
}

impl GradFn {
    fn new(name: &'static str, parents: Vec<Var>, backward: BackwardFn, value: &Tensor) -> GradFn {
        // `read_recursive`: the caller may still hold a read guard of a parent.
        let parent_shapes = parents
            .iter()
            .map(|p| p.node.value.read_recursive().shape().to_vec())
            .collect();
        GradFn {
            name,
            parents,
            backward,
            output_shape: value.shape().to_vec(),
            parent_shapes,
        }
    }
}

pub(crate) struct Node {
    pub(crate) id: usize,
    /// Id of the last backward pass that visited this node (0: none yet);
    /// replaces a visited-set in the topological sort.
    pub(crate) mark: AtomicUsize,
    pub(crate) value: RwLock<Tensor>,
    /// Leaves: the accumulated gradient. Op results: the gradient collected
    /// from consumers during a backward pass (always taken by the pass).
    pub(crate) grad: Mutex<Option<Tensor>>,
    pub(crate) requires_grad: bool,
    pub(crate) is_leaf: bool,
    pub(crate) grad_fn: Mutex<Option<GradFn>>,
}

impl Drop for Node {
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
        // Drop long parent chains iteratively so that very deep graphs
        // (10,000 chained ops) cannot overflow the stack.
        let mut pending: Vec<GradFn> = self.grad_fn.get_mut().take().into_iter().collect();
        while let Some(gf) = pending.pop() {
            let GradFn {
                parents, backward, ..
            } = gf;
            // The closure may hold clones of the parents: drop it first so
            // that `parents` holds the last references and the walk below
            // (not a recursive drop) frees them.
            drop(backward);
            for parent in parents {
                if let Ok(mut node) = Arc::try_unwrap(parent.node) {
                    if let Some(g) = node.grad_fn.get_mut().take() {
                        pending.push(g);
                    }
                }
            }
        }
    }
}

/// A node of the computation graph: a tensor value, an optional gradient,
/// and (for results of ops) the op that produced it.
///
/// Cloning a `Var` is cheap (a reference count): clones share value and
/// gradient. `Var` is `Send + Sync`: a model can be moved to or shared with
/// another thread; values sit behind a read-write lock and gradients behind
/// a mutex, so concurrent backward passes over separate graphs that share
/// parameters accumulate correctly (the graphs must not share op results:
/// a backward pass consumes the results it walks through).
///
/// ```
/// use neurite_autograd::{ops, Var};
/// let x = Var::parameter(ndarray::arr1(&[1.0f32, 2.0, 3.0]).into_dyn());
/// let y = ops::sum_all(&ops::mul(&x, &x)?)?; // y = sum(x^2)
/// y.backward()?;
/// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[2.0f32, 4.0, 6.0]).into_dyn());
/// # Ok::<(), neurite_autograd::AutogradError>(())
/// ```
#[derive(Clone)]
pub struct Var {
    pub(crate) node: Arc<Node>,
}

impl Var {
    fn new_node(value: Tensor, requires_grad: bool, is_leaf: bool, grad_fn: Option<GradFn>) -> Var {
        LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        Var {
            node: Arc::new(Node {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                mark: AtomicUsize::new(0),
                value: RwLock::new(value),
                grad: Mutex::new(None),
                requires_grad,
                is_leaf,
                grad_fn: Mutex::new(grad_fn),
            }),
        }
    }

    /// A constant: takes part in computations but never gets a gradient.
    ///
    /// ```
    /// let c = neurite_autograd::Var::constant(ndarray::arr1(&[1.0f32]).into_dyn());
    /// assert!(!c.requires_grad());
    /// ```
    pub fn constant(value: Tensor) -> Var {
        Self::new_node(value, false, true, None)
    }

    /// A trainable leaf (a parameter): gradients of a backward pass
    /// accumulate into it until [`Var::zero_grad`].
    ///
    /// ```
    /// let w = neurite_autograd::Var::parameter(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])));
    /// assert!(w.requires_grad() && w.is_leaf());
    /// ```
    pub fn parameter(value: Tensor) -> Var {
        Self::new_node(value, true, true, None)
    }

    /// A constant from any ndarray array of `f32`.
    ///
    /// ```
    /// let v = neurite_autograd::Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
    /// assert_eq!(v.shape(), vec![1, 2]);
    /// ```
    pub fn from_array<D: ndarray::Dimension>(array: ndarray::Array<f32, D>) -> Var {
        Self::constant(array.into_dyn())
    }

    /// A 0-dimensional constant.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(2.5).item().unwrap(), 2.5);
    /// ```
    pub fn scalar(value: f32) -> Var {
        Self::constant(ndarray::arr0(value).into_dyn())
    }

    /// The result of an op: `value` computed by the forward pass, `parents`
    /// the op's inputs, and `backward` the function that turns the output's
    /// gradient into the parents' gradients. This is how every op of
    /// [`crate::ops`] is written, and how users add their own.
    ///
    /// If graph recording is off ([`crate::no_grad`]) or no parent requires
    /// a gradient, the result is a constant and `backward` is dropped at once.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// // y = 3x, written as a custom op.
    /// let x = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
    /// let y = Var::from_op(x.value().mapv(|v| 3.0 * v), "triple", &[&x], Box::new(|g| Ok(vec![Some(g * 3.0)])));
    /// neurite_autograd::ops::sum_all(&y)?.backward()?;
    /// assert_eq!(x.grad().unwrap(), ndarray::arr1(&[3.0f32, 3.0]).into_dyn());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn from_op(value: Tensor, name: &'static str, parents: &[&Var], backward: BackwardFn) -> Var {
        let requires_grad = is_grad_enabled() && parents.iter().any(|p| p.requires_grad());
        if !requires_grad {
            return Self::new_node(value, false, true, None);
        }
        let parents = parents.iter().map(|p| (*p).clone()).collect();
        let grad_fn = GradFn::new(name, parents, backward, &value);
        Self::new_node(value, true, false, Some(grad_fn))
    }

    /// Like [`Var::from_op`], for ops whose backward is cheaper from their
    /// *output* (`sigmoid' = y (1 - y)`, `exp' = y`, softmax, ...): the
    /// backward function receives the output value as its second argument,
    /// read from the result node itself, so no copy of the output is kept.
    /// (The closure holds only a weak reference to the result, so no
    /// reference cycle is created.) Do not modify the result's value in place
    /// between forward and backward.
    ///
    /// ```
    /// use neurite_autograd::Var;
    /// // y = e^x, with dy/dx = y.
    /// let x = Var::parameter(ndarray::arr1(&[0.0f32, 1.0]).into_dyn());
    /// let y = Var::from_op_with_output(
    ///     x.value().mapv(f32::exp),
    ///     "my_exp",
    ///     &[&x],
    ///     Box::new(|g, y| Ok(vec![Some(g * y)])),
    /// );
    /// neurite_autograd::ops::sum_all(&y)?.backward()?;
    /// assert_eq!(x.grad().unwrap()[[1]], 1f32.exp());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn from_op_with_output(
        value: Tensor,
        name: &'static str,
        parents: &[&Var],
        backward: BackwardWithOutputFn,
    ) -> Var {
        let requires_grad = is_grad_enabled() && parents.iter().any(|p| p.requires_grad());
        if !requires_grad {
            return Self::new_node(value, false, true, None);
        }
        let parents: Vec<Var> = parents.iter().map(|p| (*p).clone()).collect();
        LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        let node = Arc::new_cyclic(|weak: &Weak<Node>| {
            let weak = weak.clone();
            let backward: BackwardFn = Box::new(move |g| {
                let node = weak.upgrade().ok_or_else(|| {
                    AutogradError::Backward(format!("op {name}: its output was freed before backward"))
                })?;
                let out = node.value.read();
                backward(g, &out)
            });
            let grad_fn = GradFn::new(name, parents, backward, &value);
            Node {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                mark: AtomicUsize::new(0),
                value: RwLock::new(value),
                grad: Mutex::new(None),
                requires_grad: true,
                is_leaf: false,
                grad_fn: Mutex::new(Some(grad_fn)),
            }
        });
        Var { node }
    }

    /// Read access to the value. Do not hold it across a call to
    /// [`Var::value_mut`] on the same `Var` (that would deadlock).
    ///
    /// ```
    /// let v = neurite_autograd::Var::from_array(ndarray::arr1(&[1.0f32, 2.0]));
    /// assert_eq!(v.value().sum(), 3.0);
    /// ```
    pub fn value(&self) -> ValueRef<'_> {
        ValueRef::new(self.node.value.read())
    }

    /// Write access to the value, for optimizers updating parameters in place.
    ///
    /// ```
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// *w.value_mut() *= 2.0;
    /// assert_eq!(w.value()[[0]], 2.0);
    /// ```
    pub fn value_mut(&self) -> ValueMut<'_> {
        ValueMut::new(self.node.value.write())
    }

    /// Replaces the value (same or different shape).
    ///
    /// ```
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// w.set_value(ndarray::arr1(&[4.0f32, 5.0]).into_dyn());
    /// assert_eq!(w.shape(), vec![2]);
    /// ```
    pub fn set_value(&self, value: Tensor) {
        *self.node.value.write() = value;
    }

    /// A copy of the value.
    ///
    /// ```
    /// let v = neurite_autograd::Var::scalar(1.5);
    /// assert_eq!(v.to_tensor(), ndarray::arr0(1.5f32).into_dyn());
    /// ```
    pub fn to_tensor(&self) -> Tensor {
        self.node.value.read().clone()
    }

    /// The value of a one-element `Var` as a number.
    ///
    /// ```
    /// assert!(neurite_autograd::Var::constant(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2]))).item().is_err());
    /// ```
    pub fn item(&self) -> Result<f32> {
        let v = self.value();
        if v.len() != 1 {
            return Err(AutogradError::NotOneElement {
                what: "item()",
                shape: v.shape().to_vec(),
            });
        }
        Ok(*v.iter().next().expect("one element"))
    }

    /// The shape of the value.
    ///
    /// ```
    /// let v = neurite_autograd::Var::from_array(ndarray::Array2::<f32>::zeros((2, 3)));
    /// assert_eq!(v.shape(), vec![2, 3]);
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        self.value().shape().to_vec()
    }

    /// Number of axes of the value.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::scalar(1.0).ndim(), 0);
    /// ```
    pub fn ndim(&self) -> usize {
        self.value().ndim()
    }

    /// Number of elements of the value.
    ///
    /// ```
    /// assert_eq!(neurite_autograd::Var::from_array(ndarray::Array2::<f32>::zeros((2, 3))).len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        self.value().len()
    }

    /// Whether the value has no elements.
    ///
    /// ```
    /// assert!(neurite_autograd::Var::from_array(ndarray::Array1::<f32>::zeros(0)).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.value().is_empty()
    }

    /// A copy of the accumulated gradient (leaves only), if any.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// assert!(w.grad().is_none());
    /// ops::sum_all(&w)?.backward()?;
    /// assert_eq!(w.grad().unwrap()[[0]], 1.0);
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn grad(&self) -> Option<Tensor> {
        self.node.grad.lock().clone()
    }

    /// Runs `f` on the accumulated gradient without copying it.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32, 1.0]).into_dyn());
    /// ops::sum_all(&w)?.backward()?;
    /// let norm = w.with_grad(|g| g.map_or(0.0, |g| g.iter().map(|v| v * v).sum::<f32>().sqrt()));
    /// assert_eq!(norm, 2f32.sqrt());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn with_grad<T>(&self, f: impl FnOnce(Option<&Tensor>) -> T) -> T {
        f(self.node.grad.lock().as_ref())
    }

    /// Takes the accumulated gradient out, leaving none.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// ops::sum_all(&w)?.backward()?;
    /// assert!(w.take_grad().is_some() && w.grad().is_none());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn take_grad(&self) -> Option<Tensor> {
        self.node.grad.lock().take()
    }

    /// Replaces the accumulated gradient (e.g. after clipping).
    ///
    /// ```
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// w.set_grad(Some(ndarray::arr1(&[0.5f32]).into_dyn()));
    /// assert_eq!(w.grad().unwrap()[[0]], 0.5);
    /// ```
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.node.grad.lock() = grad;
    }

    /// Forgets the accumulated gradient.
    ///
    /// ```
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// w.set_grad(Some(ndarray::arr1(&[0.5f32]).into_dyn()));
    /// w.zero_grad();
    /// assert!(w.grad().is_none());
    /// ```
    pub fn zero_grad(&self) {
        *self.node.grad.lock() = None;
    }

    /// Whether gradients flow to this `Var`.
    ///
    /// ```
    /// assert!(!neurite_autograd::Var::scalar(1.0).requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.node.requires_grad
    }

    /// Whether this is a leaf (a parameter or constant), not an op result.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// assert!(!ops::neg(&w)?.is_leaf());
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn is_leaf(&self) -> bool {
        self.node.is_leaf
    }

    /// A process-unique identity (clones share it).
    ///
    /// ```
    /// let v = neurite_autograd::Var::scalar(1.0);
    /// assert_eq!(v.id(), v.clone().id());
    /// ```
    pub fn id(&self) -> usize {
        self.node.id
    }

    /// Name of the op that produced this `Var` while its graph is alive.
    ///
    /// ```
    /// use neurite_autograd::{ops, Var};
    /// let w = Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// assert_eq!(ops::neg(&w)?.op_name(), Some("neg"));
    /// # Ok::<(), neurite_autograd::AutogradError>(())
    /// ```
    pub fn op_name(&self) -> Option<&'static str> {
        self.node.grad_fn.lock().as_ref().map(|g| g.name)
    }

    /// A constant with a copy of this value, cut from the graph.
    ///
    /// ```
    /// let w = neurite_autograd::Var::parameter(ndarray::arr1(&[1.0f32]).into_dyn());
    /// assert!(!w.detach().requires_grad());
    /// ```
    pub fn detach(&self) -> Var {
        Self::constant(self.to_tensor())
    }

    /// Whether two handles refer to the same node.
    ///
    /// ```
    /// let v = neurite_autograd::Var::scalar(1.0);
    /// assert!(v.same(&v.clone()) && !v.same(&neurite_autograd::Var::scalar(1.0)));
    /// ```
    pub fn same(&self, other: &Var) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.node.id)
            .field("shape", &self.shape())
            .field("requires_grad", &self.node.requires_grad)
            .field("op", &self.op_name())
            .finish()
    }
}
