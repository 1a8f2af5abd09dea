//! Speed of MultiHeadAttention and TransformerEncoder forward + backward at
//! the issue-#17 `transformer-train` size (batch 32, sequence 100, hidden 64,
//! 2 heads of 32), and of the fused attention op against the same attention
//! composed of plain ops (permute, batched_matmul, softmax).
//!
//! Run: `cargo run -p neurite-nn --release --example attention_speed [-- ROUNDS]`

use neurite_autograd::ops::{self, AttentionOptions};
use neurite_autograd::{Tensor, Var};
use neurite_nn::layers::{MultiHeadAttention, TransformerEncoder};
use neurite_nn::{ForwardContext, Layer, Result};
use neurite_tensor::random::{normal, rng_from_seed};
use std::time::Instant;

const B: usize = 32;
const T: usize = 100;
const D: usize = 64;
const H: usize = 2;

/// Median milliseconds of `rounds` runs of `f` (after one warm-up run).
fn median_ms(rounds: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Forward, `sum(y * r)`, backward; parameters' gradients cleared after.
fn step(y: Var, r: &Tensor, params: &[Var]) -> Result<()> {
    y.backward_with(r.clone())?;
    for p in params {
        p.zero_grad();
    }
    Ok(())
}

/// The same attention as the fused op, composed of plain ops.
fn composed(q: &Var, k: &Var, v: &Var, scale: f32) -> Result<Var> {
    let (b, t, h, d) = (q.shape()[0], q.shape()[1], q.shape()[2], q.shape()[3]);
    let heads =
        |x: &Var| -> Result<Var> { Ok(ops::reshape(&ops::permute(x, &[0, 2, 1, 3])?, &[b * h, t, d])?) };
    let (qh, kh, vh) = (heads(q)?, heads(k)?, heads(v)?);
    let kt = ops::permute(&kh, &[0, 2, 1])?;
    let s = ops::mul_scalar(&ops::batched_matmul(&qh, &kt)?, scale)?;
    let p = ops::softmax(&s, 2)?;
    let o = ops::batched_matmul(&p, &vh)?;
    Ok(ops::permute(&ops::reshape(&o, &[b, h, t, d])?, &[0, 2, 1, 3])?)
}

fn main() -> Result<()> {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    // As the umbrella's fit does: keep freed buffers instead of returning them to the kernel.
    neurite_tensor::memory::tune_allocator();
    let mut rng = rng_from_seed(0);
    println!(
        "batch {B}, T {T}, hidden {D}, {H} heads of {}; median of {rounds} rounds; {} rayon threads",
        D / H,
        rayon::current_num_threads()
    );

    let x = Var::parameter(normal(&[B, T, D], 0.0, 1.0, &mut rng));
    let r = normal(&[B, T, D], 0.0, 1.0, &mut rng);

    let mut mha = MultiHeadAttention::new(H, D / H);
    mha.build_multi(&[vec![T, D], vec![T, D]], &mut rng)?;
    let params: Vec<Var> = mha.parameters().into_iter().map(|p| p.var).collect();
    let ms = median_ms(rounds, || {
        let y = mha.forward_multi(&[x.clone(), x.clone()], &mut ForwardContext::training(1))?;
        step(y, &r, &params)
    })?;
    println!("MultiHeadAttention fwd+bwd: {ms:.2} ms");
    let ms = median_ms(rounds, || {
        let y = neurite_autograd::no_grad(|| {
            mha.forward_multi(&[x.clone(), x.clone()], &mut ForwardContext::inference())
        })?;
        drop(y);
        Ok(())
    })?;
    println!("MultiHeadAttention fwd (inference): {ms:.2} ms");

    let mut enc = TransformerEncoder::new(D, H);
    enc.build(&[T, D], &mut rng)?;
    let params: Vec<Var> = enc.parameters().into_iter().map(|p| p.var).collect();
    let ms = median_ms(rounds, || {
        let y = enc.forward(&x, &mut ForwardContext::training(1))?;
        step(y, &r, &params)
    })?;
    println!("TransformerEncoder(intermediate {D}) fwd+bwd: {ms:.2} ms");

    // The attention core alone: fused op vs composed ops, on projected (B, T, H, D/H) tensors.
    let q = Var::parameter(normal(&[B, T, H, D / H], 0.0, 1.0, &mut rng));
    let k = Var::parameter(normal(&[B, T, H, D / H], 0.0, 1.0, &mut rng));
    let v = Var::parameter(normal(&[B, T, H, D / H], 0.0, 1.0, &mut rng));
    let ro = normal(&[B, T, H, D / H], 0.0, 1.0, &mut rng);
    let scale = 1.0 / ((D / H) as f32).sqrt();
    let qkv = [q.clone(), k.clone(), v.clone()];
    let fused = median_ms(rounds, || {
        let (o, _) = ops::scaled_dot_product_attention(&q, &k, &v, AttentionOptions::new(scale), None)?;
        step(o, &ro, &qkv)
    })?;
    let plain = median_ms(rounds, || step(composed(&q, &k, &v, scale)?, &ro, &qkv))?;
    let (a, _) = ops::scaled_dot_product_attention(&q, &k, &v, AttentionOptions::new(scale), None)?;
    let b = composed(&q, &k, &v, scale)?;
    let diff = a
        .to_tensor()
        .iter()
        .zip(b.to_tensor().iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    println!("attention core fwd+bwd: fused {fused:.2} ms, composed ops {plain:.2} ms (outputs differ by at most {diff:.1e})");
    Ok(())
}
