//! Gradients all-reduced in buckets while the backward pass still runs:
//! a bucket of parameters (in reverse order, the order in which backward
//! completes them) is sent as soon as all its gradients are final, and the
//! sends make progress after every op of the pass.

use super::collective::{Collective, PendingSum};
use crate::error::{Error, Result};
use neurite_autograd::{BackwardObserver, Var};
use neurite_tensor::Tensor;
use std::cell::Cell;
use std::collections::HashMap;
use std::time::Instant;

/// PyTorch DDP's sizes: the first bucket (the last layers, done first) at
/// most 1 MiB so that communication starts early, the others 25 MiB.
const FIRST_BUCKET_BYTES: usize = 1 << 20;
const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

thread_local! {
    static BUCKET_BYTES: Cell<usize> = const { Cell::new(DEFAULT_BUCKET_BYTES) };
}

/// Sets the size of the gradient buckets of the following data-parallel
/// `fit` calls on this thread (every rank must set the same), as PyTorch
/// DDP's `bucket_cap_mb`: gradients travel in all-reduces of about `bytes`
/// each (a parameter is never split; the first bucket is at most 1 MiB),
/// started as soon as a bucket's gradients are final in the backward pass.
/// Smaller buckets overlap more of the communication with the backward
/// pass; larger ones pay the network's latency fewer times. Default 25 MiB.
///
/// ```
/// use neurite::distributed::{gradient_bucket_bytes, set_gradient_bucket_bytes};
/// set_gradient_bucket_bytes(256 << 10)?;
/// assert_eq!(gradient_bucket_bytes(), 256 << 10);
/// assert!(set_gradient_bucket_bytes(2).is_err()); // less than one f32
/// set_gradient_bucket_bytes(25 << 20)?;
/// # Ok::<(), neurite::Error>(())
/// ```
pub fn set_gradient_bucket_bytes(bytes: usize) -> Result<()> {
    if bytes < 4 {
        return Err(Error::Distributed(format!(
            "gradient buckets must hold at least one f32 (4 bytes), found {bytes} bytes"
        )));
    }
    BUCKET_BYTES.with(|b| b.set(bytes));
    Ok(())
}

/// The gradient bucket size of this thread's data-parallel `fit` calls, in bytes.
///
/// ```
/// assert!(neurite::distributed::gradient_bucket_bytes() >= 4);
/// ```
pub fn gradient_bucket_bytes() -> usize {
    BUCKET_BYTES.with(Cell::get)
}

/// Which parameters (indices into the trainable list) each bucket holds,
/// in sending order: the parameters from last to first, a bucket closed
/// when it reaches its size in f32 values (`first`, then `rest`).
pub(crate) fn plan_buckets(lens: &[usize], first: usize, rest: usize) -> Vec<Vec<usize>> {
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    let (mut current, mut filled) = (Vec::new(), 0usize);
    for i in (0..lens.len()).rev() {
        current.push(i);
        filled += lens[i];
        let cap = if buckets.is_empty() { first } else { rest };
        if filled >= cap {
            buckets.push(std::mem::take(&mut current));
            filled = 0;
        }
    }
    if !current.is_empty() {
        buckets.push(current);
    }
    buckets
}

struct Bucket {
    /// The scaled gradients, laid out in the bucket's parameter order; taken when sent.
    values: Option<Vec<f32>>,
    /// The summed gradients, once received.
    summed: Option<Vec<f32>>,
    /// Parameters whose gradient is not in `values` yet.
    missing: usize,
}

/// One step's gradient all-reduce (observer of its backward pass).
pub(crate) struct GradientBuckets<'c> {
    comm: &'c dyn Collective,
    vars: Vec<&'c Var>,
    /// Trainable indices of each variable id (a shared variable may be listed twice).
    indices_of: HashMap<usize, Vec<usize>>,
    /// Per trainable index: its bucket and offset in it.
    place: Vec<(usize, usize)>,
    filled: Vec<bool>,
    present: Vec<f32>,
    buckets: Vec<Bucket>,
    next_to_send: usize,
    in_flight: Vec<(usize, Box<dyn PendingSum + 'c>)>,
    scale: f32,
    /// Ops of the backward pass done so far, and when each sent bucket went out.
    ops_done: u64,
    sent_after_ops: Vec<u64>,
    /// Seconds spent inside communication calls (sending, progress, waiting).
    pub(crate) seconds_in_calls: f64,
}

impl<'c> GradientBuckets<'c> {
    /// The buckets of `vars` (the trainable variables), each rank's gradient
    /// multiplied by `scale` before the sum; `bucket_bytes` as set by
    /// [`set_gradient_bucket_bytes`].
    pub(crate) fn new(comm: &'c dyn Collective, vars: Vec<&'c Var>, scale: f32, bucket_bytes: usize) -> Self {
        let lens: Vec<usize> = vars.iter().map(|v| v.len()).collect();
        let rest = (bucket_bytes / 4).max(1);
        let plan = plan_buckets(&lens, rest.min(FIRST_BUCKET_BYTES / 4), rest);
        let mut place = vec![(0, 0); vars.len()];
        let mut buckets = Vec::with_capacity(plan.len());
        for (b, members) in plan.iter().enumerate() {
            let mut offset = 0;
            for &i in members {
                place[i] = (b, offset);
                offset += lens[i];
            }
            buckets.push(Bucket {
                values: Some(vec![0.0; offset]),
                summed: None,
                missing: members.len(),
            });
        }
        let mut indices_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, v) in vars.iter().enumerate() {
            indices_of.entry(v.id()).or_default().push(i);
        }
        GradientBuckets {
            comm,
            filled: vec![false; vars.len()],
            present: vec![0.0; vars.len()],
            vars,
            indices_of,
            place,
            buckets,
            next_to_send: 0,
            in_flight: Vec::new(),
            scale,
            ops_done: 0,
            sent_after_ops: Vec::new(),
            seconds_in_calls: 0.0,
        }
    }

    /// Copies trainable variable `i`'s gradient (scaled; zeros if it has none) into its bucket.
    fn fill(&mut self, i: usize) {
        if std::mem::replace(&mut self.filled[i], true) {
            return;
        }
        let (b, offset) = self.place[i];
        let scale = self.scale;
        let bucket = &mut self.buckets[b];
        if let Some(values) = bucket.values.as_mut() {
            let present = self.vars[i].with_grad(|g| {
                g.map(|g| {
                    for (dst, &src) in values[offset..offset + g.len()].iter_mut().zip(g.iter()) {
                        *dst = src * scale;
                    }
                })
                .is_some()
            });
            self.present[i] = if present { 1.0 } else { 0.0 };
        }
        bucket.missing -= 1;
    }

    /// Sends every complete bucket whose turn has come: buckets go out in
    /// plan order on every rank (collectives must be called in the same
    /// order everywhere), whatever order the gradients became final in.
    fn send_ready(&mut self) {
        while let Some(bucket) = self.buckets.get_mut(self.next_to_send) {
            if bucket.missing > 0 {
                break;
            }
            let values = bucket.values.take().unwrap_or_default();
            let t = Instant::now();
            let pending = self.comm.begin_sum_f32(values);
            self.seconds_in_calls += t.elapsed().as_secs_f64();
            self.in_flight.push((self.next_to_send, pending));
            self.sent_after_ops.push(self.ops_done);
            self.next_to_send += 1;
        }
    }

    /// Buckets sent while the backward pass still had at least one more op
    /// to run after the one that completed them (their all-reduce overlapped
    /// the pass). Read before [`GradientBuckets::finish`].
    pub(crate) fn sent_during_backward(&self) -> u64 {
        self.sent_after_ops
            .iter()
            .filter(|&&at| self.ops_done >= at + 2)
            .count() as u64
    }

    /// Sends what is left, waits for every sum, then sums the presence flags
    /// and the losses (`value`, `per_output`, scaled like the gradients; they
    /// become the global batch's) and sets each variable's gradient to the
    /// sum (none where no rank had one). Returns the values all-reduced.
    pub(crate) fn finish(mut self, value: &mut f32, per_output: &mut [f32]) -> Result<u64> {
        for i in 0..self.vars.len() {
            self.fill(i);
        }
        self.send_ready();
        let t = Instant::now();
        for (b, pending) in std::mem::take(&mut self.in_flight) {
            self.buckets[b].summed = Some(pending.wait());
        }
        let mut tail = std::mem::take(&mut self.present);
        tail.push(*value * self.scale);
        tail.extend(per_output.iter().map(|&l| l * self.scale));
        self.comm.sum_f32(&mut tail);
        self.seconds_in_calls += t.elapsed().as_secs_f64();
        let (present, losses) = tail.split_at(self.vars.len());
        let mut reduced = tail.len() as u64;
        for (i, var) in self.vars.iter().enumerate() {
            let (b, offset) = self.place[i];
            let summed = self.buckets[b].summed.as_deref().unwrap_or_default();
            let n = var.len();
            let shape = var.shape();
            let grad = (present[i] > 0.0)
                .then(|| {
                    let values = summed.get(offset..offset + n).ok_or_else(|| {
                        Error::Distributed(format!(
                            "the summed gradient bucket has {} values, short of {} for a parameter of shape {shape:?}",
                            summed.len(),
                            offset + n
                        ))
                    })?;
                    Tensor::from_shape_vec(ndarray::IxDyn(&shape), values.to_vec())
                        .map_err(|e| Error::Distributed(format!("gradient of shape {shape:?}: {e}")))
                })
                .transpose()?;
            var.set_grad(grad);
            reduced += n as u64;
        }
        *value = losses[0];
        per_output.copy_from_slice(&losses[1..]);
        Ok(reduced)
    }
}

impl BackwardObserver for GradientBuckets<'_> {
    fn leaf_ready(&mut self, leaf: &Var) -> neurite_autograd::Result<()> {
        let Some(indices) = self.indices_of.get(&leaf.id()).cloned() else {
            return Ok(()); // a frozen weight: not reduced
        };
        for i in indices {
            self.fill(i);
        }
        self.send_ready();
        Ok(())
    }

    fn after_op(&mut self) -> neurite_autograd::Result<()> {
        self.ops_done += 1;
        if !self.in_flight.is_empty() {
            let t = Instant::now();
            for (_, pending) in &mut self.in_flight {
                pending.progress();
            }
            self.seconds_in_calls += t.elapsed().as_secs_f64();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::plan_buckets;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn buckets_cover_every_parameter_once_last_first(
            lens in prop::collection::vec(1usize..50, 0..20),
            first in 1usize..60,
            rest in 1usize..120,
        ) {
            let plan = plan_buckets(&lens, first, rest);
            let flat: Vec<usize> = plan.iter().flatten().copied().collect();
            let expected: Vec<usize> = (0..lens.len()).rev().collect();
            prop_assert_eq!(flat, expected);
            for (b, members) in plan.iter().enumerate() {
                prop_assert!(!members.is_empty());
                let cap = if b == 0 { first } else { rest };
                let size: usize = members.iter().map(|&i| lens[i]).sum();
                // Closed as soon as it reaches its cap: without its last parameter it was below.
                let last = lens[*members.last().unwrap()];
                prop_assert!(size - last < cap);
                if b + 1 < plan.len() {
                    prop_assert!(size >= cap);
                }
            }
        }
    }
}
