//! Running a [`Graph`]: every call once, in topological order, all outputs
//! in one pass, each intermediate value dropped once its last reader has run.

use super::graph::{Graph, Slot};
use neurite_autograd::Var;
use neurite_nn::mask::{Mask, Masked};
use neurite_nn::{ForwardContext, NnError};

impl Graph {
    /// Runs the graph on one batch per input (in the order of
    /// [`Graph::input_names`]) and returns one batch per output (in the order
    /// of [`Graph::output_names`]), computing every call once even when
    /// several layers or outputs read it.
    ///
    /// A call whose only consumer comes next runs fused with it where the pair
    /// has a fused kernel ([`neurite_nn::Layer::forward_fused`], e.g.
    /// `Conv2D(relu)` + `MaxPooling2D`, as in a `Sequential`). The graph holds
    /// each intermediate value only until its last reader has run: under
    /// `no_grad` (inference) its memory is freed then; while training, the
    /// autograd graph keeps what the backward pass needs and frees it as the
    /// gradients are used.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let (a, b) = (Input::named("a", [3]), Input::named("b", [2]));
    /// let h = Concatenate::new().call_many(&[&a, &b])?;
    /// let y = Dense::new(4).call(&h)?;
    /// let z = Dense::new(1).call(&h)?;
    /// let mut g = Graph::new(&[&a, &b], &[&y, &z])?;
    /// g.build_multi(&[vec![3], vec![2]], &mut rng_from_seed(0))?;
    /// let xs = [Var::from_array(ndarray::Array2::<f32>::ones((5, 3))), Var::from_array(ndarray::Array2::<f32>::ones((5, 2)))];
    /// let outs = no_grad(|| g.forward_many(&xs, &mut ForwardContext::inference()))?;
    /// assert_eq!((outs[0].shape(), outs[1].shape()), (vec![5, 4], vec![5, 1]));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn forward_many(&self, xs: &[Var], ctx: &mut ForwardContext) -> neurite_nn::Result<Vec<Var>> {
        Ok(self
            .run_counting(xs, None, ctx)?
            .0
            .into_iter()
            .map(|(y, _)| y)
            .collect())
    }

    /// [`Graph::forward_many`] with each output's mask: masks travel with
    /// the values from the layers that make them (`Embedding(mask_zero=true)`,
    /// `Masking`) through every call ([`neurite_nn::Layer::forward_multi_masked`]),
    /// as Keras' `_keras_mask`. `masks` gives the inputs' masks (`None`: no
    /// input has one; else one entry per input).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let ids = Input::new([3]);
    /// let h = Embedding::new(5, 2).mask_zero(true).call(&ids)?;
    /// let y = LSTM::new(4).return_sequences(true).call(&h)?;
    /// let mut g = Graph::new(&[&ids], &[&y])?;
    /// g.build(&[3], &mut rng_from_seed(0))?;
    /// let x = Var::from_array(ndarray::arr2(&[[2.0f32, 1.0, 0.0]]));
    /// let outs = no_grad(|| g.forward_many_masked(&[x], None, &mut ForwardContext::inference()))?;
    /// assert_eq!(outs[0].1, Some(ndarray::arr2(&[[1.0f32, 1.0, 0.0]]).into_dyn()));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn forward_many_masked(
        &self,
        xs: &[Var],
        masks: Option<&[Option<Mask>]>,
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<Vec<Masked>> {
        Ok(self.run_counting(xs, masks, ctx)?.0)
    }

    /// [`Graph::forward_many_masked`], also returning the largest number of
    /// intermediate values held at once (what the early drops bound).
    pub(crate) fn run_counting(
        &self,
        xs: &[Var],
        masks: Option<&[Option<Mask>]>,
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<(Vec<Masked>, usize)> {
        self.run_tapped(xs, masks, None, ctx)
    }

    /// [`Graph::run_counting`] where node `tap.0`'s output value is replaced
    /// by `tap.1(value)` before any reader sees it (the explain module's
    /// Grad-CAM puts a gradient-collecting leaf there). No fused run covers
    /// the tapped node, so its value exists.
    pub(crate) fn run_tapped(
        &self,
        xs: &[Var],
        masks: Option<&[Option<Mask>]>,
        mut tap: Option<(usize, &mut dyn FnMut(Var) -> Var)>,
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<(Vec<Masked>, usize)> {
        if xs.len() != self.inputs.len() || masks.is_some_and(|m| m.len() != xs.len()) {
            return Err(NnError::Config {
                layer: neurite_nn::Layer::name(self).to_string(),
                message: format!(
                    "the graph has {} inputs {:?}, got {} batches{}",
                    self.inputs.len(),
                    self.input_names(),
                    xs.len(),
                    masks.map_or(String::new(), |m| format!(" and {} masks", m.len()))
                ),
            });
        }
        let mut values: Vec<Option<Masked>> = vec![None; self.nodes.len()];
        let mut unread = self.readers.clone();
        let (mut held, mut peak) = (0usize, 0usize);
        let get = |values: &[Option<Masked>], slot: Slot| -> Masked {
            match slot {
                Slot::Input(i) => (xs[i].clone(), masks.and_then(|m| m[i].clone())),
                Slot::Node(j) => values[j].clone().expect("topological order: inputs run first"),
            }
        };
        let mut i = 0;
        while i < self.nodes.len() {
            let node = &self.nodes[i];
            let (inputs, in_masks): (Vec<Var>, Vec<Option<Mask>>) =
                node.inputs.iter().map(|s| get(&values, *s)).unzip();
            let layer = self.layers[node.layer].read()?;
            let mut done = None;
            // A fused run's output carries no mask: fuse only when no mask
            // would pass through the first layer.
            let unmasked = in_masks.iter().all(Option::is_none) || !layer.supports_masking();
            // A fused run (at most three calls) never hides the tapped node's value.
            let tapped_ahead = tap.as_ref().is_some_and(|(node, _)| (i..i + 3).contains(node));
            if self.fuse[i] && unmasked && !tapped_ahead {
                // The chain of single readers after this call (at most two: conv + norm + relu).
                let chain =
                    (i + 1..self.nodes.len().min(i + 3)).take_while(|&j| j == i + 1 || self.fuse[j - 1]);
                let guards = chain
                    .map(|j| self.layers[self.nodes[j].layer].read())
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let next: Vec<&dyn neurite_nn::Layer> = guards.iter().map(|g| g.as_ref()).collect();
                if inputs.len() == 1 {
                    if let Some((ran, out)) = layer.forward_fused_chain(&next, &inputs[0], ctx) {
                        done = Some((i + ran, (out?, None)));
                    }
                } else if let Some(out) = layer.forward_multi_fused(next[0], &inputs, ctx) {
                    done = Some((i + 1, (out?, None)));
                }
            }
            let (last, mut out) = match done {
                Some(fused) => fused,
                None => (i, Self::run(layer.as_ref(), &inputs, &in_masks, ctx)?),
            };
            if let Some((_, f)) = tap.as_mut().filter(|(node, _)| *node == last) {
                out.0 = f(out.0);
            }
            drop(inputs);
            drop(in_masks);
            values[last] = Some(out);
            held += 1;
            peak = peak.max(held);
            // Release what this call (or fused pair) was the last to read.
            for slot in &node.inputs {
                if let Slot::Node(j) = *slot {
                    unread[j] -= 1;
                    if unread[j] == 0 && !self.is_output[j] && values[j].take().is_some() {
                        held -= 1;
                    }
                }
            }
            i = last + 1;
        }
        let outputs = self.outputs.iter().map(|s| get(&values, *s)).collect();
        Ok((outputs, peak))
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    fn batch(n: usize, d: usize) -> Var {
        Var::from_array(ndarray::Array2::<f32>::from_shape_fn((n, d), |(i, j)| {
            (i + 2 * j) as f32 / 7.0
        }))
    }

    /// A chain of 12 layers holds at most 2 values at once (the one being
    /// read and the one being made), not 12.
    #[test]
    fn a_chain_holds_at_most_two_values() {
        let x = Input::new([6]);
        let mut t = x.clone();
        for _ in 0..12 {
            t = Dense::new(6).activation(Activation::Relu).call(&t).unwrap();
        }
        let mut g = Graph::new(&[&x], &[&t]).unwrap();
        g.build(&[6], &mut rng_from_seed(1)).unwrap();
        let (outs, peak) =
            no_grad(|| g.run_counting(&[batch(3, 6)], None, &mut ForwardContext::inference())).unwrap();
        assert_eq!(outs[0].0.shape(), vec![3, 6]);
        assert!(peak <= 2, "peak {peak}");
    }

    /// A value read by a later branch is held until that read, and the
    /// outputs are held to the end; every output equals its own
    /// single-output graph's.
    #[test]
    fn branches_hold_what_later_calls_read_and_outputs_match_single_output_graphs() {
        let x = Input::new([4]);
        let trunk = Dense::new(4).activation(Activation::Relu).call(&x).unwrap();
        let mut t = trunk.clone();
        for _ in 0..5 {
            t = Dense::new(4).activation(Activation::Tanh).call(&t).unwrap();
        }
        let skip = Add::new().call_many(&[&t, &trunk]).unwrap();
        let head = Dense::new(2).call(&t).unwrap();
        let mut both = Graph::new(&[&x], &[&skip, &head]).unwrap();
        both.build(&[4], &mut rng_from_seed(3)).unwrap();
        let (outs, peak) =
            no_grad(|| both.run_counting(&[batch(5, 4)], None, &mut ForwardContext::inference())).unwrap();
        // trunk, the chain's current value, the next one, and the finished first output.
        assert!(peak <= 4, "peak {peak}");
        let skip_only = Graph::new(&[&x], &[&skip]).unwrap();
        let head_only = Graph::new(&[&x], &[&head]).unwrap();
        let run1 = |g: &Graph| {
            no_grad(|| g.forward(&batch(5, 4), &mut ForwardContext::inference()))
                .unwrap()
                .to_tensor()
        };
        assert_eq!(outs[0].0.to_tensor(), run1(&skip_only));
        assert_eq!(outs[1].0.to_tensor(), run1(&head_only));
    }
}
