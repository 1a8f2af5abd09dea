//! The context a forward pass runs in: training or inference, the random
//! stream for dropout-like layers, and the extra losses layers add
//! (regularization penalties), as Keras' `training` argument and `add_loss`.

use neurite_autograd::Var;
use neurite_rand::Generator;

/// Training/inference mode, random stream and collected extra losses of one forward pass.
///
/// ```
/// use neurite_nn::ForwardContext;
/// let mut ctx = ForwardContext::training(42);
/// assert!(ctx.is_training());
/// ctx.add_loss(neurite_autograd::Var::scalar(0.5));
/// assert_eq!(ctx.take_losses().len(), 1);
/// assert!(!ForwardContext::inference().is_training());
/// ```
#[derive(Debug)]
pub struct ForwardContext {
    training: bool,
    rng: Generator,
    losses: Vec<Var>,
}

impl ForwardContext {
    /// A training pass: dropout active, batch statistics used and moving
    /// averages updated, regularization losses collected. `seed` drives the
    /// random stream (the training loop derives it from the model seed, epoch and step).
    pub fn training(seed: u64) -> Self {
        ForwardContext {
            training: true,
            rng: Generator::seed_from_u64(seed),
            losses: Vec::new(),
        }
    }

    /// An inference pass: dropout is the identity, moving averages are used.
    pub fn inference() -> Self {
        ForwardContext {
            training: false,
            rng: Generator::seed_from_u64(0),
            losses: Vec::new(),
        }
    }

    /// Whether this is a training pass.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// The pass's random stream (dropout masks, noise layers).
    pub fn rng(&mut self) -> &mut Generator {
        &mut self.rng
    }

    /// Adds a term to the training loss (a regularization penalty, a scalar `Var`).
    pub fn add_loss(&mut self, loss: Var) {
        self.losses.push(loss);
    }

    /// Takes the extra losses collected so far.
    pub fn take_losses(&mut self) -> Vec<Var> {
        std::mem::take(&mut self.losses)
    }
}
