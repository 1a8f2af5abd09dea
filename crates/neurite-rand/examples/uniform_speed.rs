//! Nanoseconds per value of the generator's bulk uniform draws, of its raw
//! ChaCha8 words (`fill_bytes`) and of one-by-one `next_u32` calls: what a
//! dropout mask costs per element.
//!
//! ```sh
//! cargo run --release -p neurite-rand --example uniform_speed
//! ```

use neurite_rand::rand::RngCore;
use neurite_rand::Generator;
use std::time::Instant;

const VALUES: usize = 1 << 20;
const ROUNDS: usize = 20;

fn per_value(start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64 / (ROUNDS * VALUES) as f64
}

fn main() {
    let mut g = Generator::seed_from_u64(1);
    let mut out = vec![0.0f32; VALUES];
    for _ in 0..3 {
        g.fill_uniform_f32(&mut out);
    }
    let t = Instant::now();
    for _ in 0..ROUNDS {
        g.fill_uniform_f32(&mut out);
    }
    println!("fill_uniform_f32: {:.2} ns per value", per_value(t));
    let mut bytes = vec![0u8; 4 * VALUES];
    let t = Instant::now();
    for _ in 0..ROUNDS {
        g.fill_bytes(&mut bytes);
    }
    println!("fill_bytes:       {:.2} ns per 32-bit word", per_value(t));
    let t = Instant::now();
    let mut sum = 0u32;
    for _ in 0..ROUNDS * VALUES {
        sum = sum.wrapping_add(g.next_u32());
    }
    println!(
        "next_u32:         {:.2} ns per word (checksum {sum})",
        per_value(t)
    );
}
