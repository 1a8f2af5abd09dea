//! Initializer statistics against Keras' formulas.

use neurite_nn::initializers::{compute_fans, Initializer};
use neurite_tensor::random::rng_from_seed;

fn stats(t: &ndarray::ArrayD<f32>) -> (f64, f64) {
    let n = t.len() as f64;
    let mean = t.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = t.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn fans_follow_keras() {
    assert_eq!(compute_fans(&[100, 64]), (100.0, 64.0));
    assert_eq!(compute_fans(&[3, 3, 32, 64]), (288.0, 576.0));
    assert_eq!(compute_fans(&[5]), (5.0, 5.0));
    assert_eq!(compute_fans(&[]), (1.0, 1.0));
}

#[test]
fn glorot_uniform_limit_and_variance() {
    let shape = [200, 300];
    let w = Initializer::GlorotUniform
        .initialize(&shape, &mut rng_from_seed(1))
        .unwrap();
    let limit = (6.0f64 / 500.0).sqrt();
    assert!(w.iter().all(|&v| (v as f64).abs() <= limit));
    let (mean, std) = stats(&w);
    assert!(mean.abs() < 0.002, "{mean}");
    // Uniform(-l, l) has std l / sqrt(3).
    assert!((std / (limit / 3f64.sqrt()) - 1.0).abs() < 0.02, "{std}");
    // Conv kernel: fans 3*3*16 and 3*3*32.
    let k = Initializer::GlorotUniform
        .initialize(&[3, 3, 16, 32], &mut rng_from_seed(2))
        .unwrap();
    let limit = (6.0f64 / (144.0 + 288.0)).sqrt();
    assert!(k.iter().all(|&v| (v as f64).abs() <= limit));
    assert!(k.iter().any(|&v| (v as f64).abs() > 0.95 * limit));
}

#[test]
fn he_and_lecun_and_glorot_normal_std() {
    let shape = [400, 250];
    let cases = [
        (Initializer::HeNormal, (2.0f64 / 400.0).sqrt()),
        (Initializer::LecunNormal, (1.0f64 / 400.0).sqrt()),
        (Initializer::GlorotNormal, (2.0f64 / 650.0).sqrt()),
        (Initializer::HeUniform, (6.0f64 / 400.0).sqrt() / 3f64.sqrt()),
        (Initializer::LecunUniform, (3.0f64 / 400.0).sqrt() / 3f64.sqrt()),
    ];
    for (init, expected_std) in cases {
        let w = init.initialize(&shape, &mut rng_from_seed(3)).unwrap();
        let (mean, std) = stats(&w);
        assert!(mean.abs() < 0.05 * expected_std, "{init:?}: mean {mean}");
        assert!(
            (std / expected_std - 1.0).abs() < 0.03,
            "{init:?}: std {std} vs {expected_std}"
        );
    }
    // Truncated normals stay within 2 (corrected) standard deviations.
    let w = Initializer::HeNormal
        .initialize(&shape, &mut rng_from_seed(4))
        .unwrap();
    let bound = 2.0 * (2.0f64 / 400.0).sqrt() / 0.879_625_661_034_239_8;
    assert!(w.iter().all(|&v| (v as f64).abs() <= bound + 1e-6));
}

fn gram(rows: usize, cols: usize, w: &[f32], by_columns: bool) -> Vec<Vec<f64>> {
    let n = if by_columns { cols } else { rows };
    let get = |i: usize, j: usize| w[i * cols + j] as f64;
    (0..n)
        .map(|a| {
            (0..n)
                .map(|b| {
                    if by_columns {
                        (0..rows).map(|i| get(i, a) * get(i, b)).sum()
                    } else {
                        (0..cols).map(|j| get(a, j) * get(b, j)).sum()
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn orthogonal_is_orthonormal() {
    for (shape, rows, cols) in [
        (vec![50, 30], 50, 30),
        (vec![30, 50], 30, 50),
        (vec![64, 64], 64, 64),
        (vec![3, 3, 4, 8], 36, 8),
    ] {
        let w = Initializer::orthogonal()
            .initialize(&shape, &mut rng_from_seed(5))
            .unwrap();
        assert_eq!(w.shape(), &shape[..]);
        let flat: Vec<f32> = w.iter().copied().collect();
        // Q^T Q = I on the short side.
        let g = gram(rows, cols, &flat, rows >= cols);
        for (a, row) in g.iter().enumerate() {
            for (b, &v) in row.iter().enumerate() {
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((v - expected).abs() < 1e-5, "{shape:?} ({a},{b}) = {v}");
            }
        }
    }
    let w = Initializer::Orthogonal { gain: 2.0 }
        .initialize(&[4, 4], &mut rng_from_seed(6))
        .unwrap();
    let norm: f32 = w
        .index_axis(ndarray::Axis(1), 0)
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt();
    assert!((norm - 2.0).abs() < 1e-5);
    assert!(Initializer::orthogonal()
        .initialize(&[5], &mut rng_from_seed(0))
        .is_err());
}

#[test]
fn constant_family_and_random_defaults() {
    let mut rng = rng_from_seed(7);
    assert!(Initializer::Zeros
        .initialize(&[3, 2], &mut rng)
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
    assert!(Initializer::Ones
        .initialize(&[3, 2], &mut rng)
        .unwrap()
        .iter()
        .all(|&v| v == 1.0));
    let c = Initializer::Constant { value: 0.25 }
        .initialize(&[4], &mut rng)
        .unwrap();
    assert!(c.iter().all(|&v| v == 0.25));
    let u = Initializer::random_uniform()
        .initialize(&[1000], &mut rng)
        .unwrap();
    assert!(u.iter().all(|&v| (-0.05..0.05).contains(&v)));
    let n = Initializer::random_normal()
        .initialize(&[20000], &mut rng)
        .unwrap();
    let (mean, std) = stats(&n);
    assert!(mean.abs() < 0.002 && (std - 0.05).abs() < 0.002, "{mean} {std}");
    assert!(Initializer::RandomUniform {
        minval: 1.0,
        maxval: 0.0
    }
    .initialize(&[2], &mut rng)
    .is_err());
}

#[test]
fn seeded_and_serializable() {
    for init in [
        Initializer::GlorotUniform,
        Initializer::HeNormal,
        Initializer::orthogonal(),
    ] {
        let a = init.initialize(&[6, 5], &mut rng_from_seed(11)).unwrap();
        let b = init.initialize(&[6, 5], &mut rng_from_seed(11)).unwrap();
        let c = init.initialize(&[6, 5], &mut rng_from_seed(12)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let json = serde_json::to_string(&init).unwrap();
        assert_eq!(serde_json::from_str::<Initializer>(&json).unwrap(), init);
    }
    assert_eq!(
        serde_json::to_value(Initializer::GlorotUniform).unwrap(),
        serde_json::json!("glorot_uniform")
    );
}
