//! Nanoseconds per element of `dropout_multipliers` (random words, the
//! keep/drop decision and the multiplier written) at the sizes of the
//! transformer workload's masks: attention weights (32 x 2 x 100 x 100) and
//! activations (32 x 100 x 64). Run with the thread count of the benchmarks:
//!
//! ```sh
//! RAYON_NUM_THREADS=2 cargo run --release -p neurite-tensor --example dropout_speed
//! ```

use neurite_tensor::random::{dropout_multipliers, rng_from_seed};
use std::time::Instant;

fn main() {
    let mut rng = rng_from_seed(1);
    for (what, len) in [
        ("attention 32x2x100x100", 640_000),
        ("activations 32x100x64", 204_800),
    ] {
        let rounds = 200;
        let mut checksum = 0.0f32;
        for _ in 0..5 {
            checksum += dropout_multipliers(len, 0.1, &mut rng)[len / 2];
        }
        let mut per_round = Vec::with_capacity(5);
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..rounds / 5 {
                checksum += dropout_multipliers(len, 0.1, &mut rng)[len / 3];
            }
            per_round.push(t.elapsed().as_nanos() as f64 / ((rounds / 5) * len) as f64);
        }
        per_round.sort_by(f64::total_cmp);
        println!(
            "{what}: {:.3} ns per element (median of 5, range {:.3}-{:.3}; checksum {checksum})",
            per_round[2], per_round[0], per_round[4]
        );
    }
}
