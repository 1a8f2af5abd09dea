//! Augmentations: shape kept, deterministic under the seed, flips are involutions, and the
//! geometry is right on small hand-checked images.

use ndarray::{array, Array3, Array4};
use neurite_data::augment::{
    flip_horizontal, flip_vertical, rotate, sample_rng, shift, ColorJitter, Cutout, Fill, GaussianNoise,
    Pipeline, RandomApply, RandomCrop, RandomErasing, RandomFlip, RandomRotation, RandomTranslation,
};
use neurite_data::Augment;
use proptest::prelude::*;

fn all_augmentations() -> Vec<(&'static str, Box<dyn Augment>)> {
    vec![
        ("hflip", Box::new(RandomFlip::horizontal())),
        ("vflip", Box::new(RandomFlip::vertical())),
        ("crop-zero", Box::new(RandomCrop::new(3))),
        ("crop-reflect", Box::new(RandomCrop::new(3).fill(Fill::Reflect))),
        ("crop-edge", Box::new(RandomCrop::new(2).fill(Fill::Edge))),
        ("translate", Box::new(RandomTranslation::new(0.2, 0.3))),
        ("rotate", Box::new(RandomRotation::new(15.0))),
        (
            "rotate-reflect",
            Box::new(RandomRotation::new(30.0).fill(Fill::Reflect)),
        ),
        ("jitter", Box::new(ColorJitter::new(0.2, 0.3).clip(0.0, 1.0))),
        ("noise", Box::new(GaussianNoise::new(0.1))),
        ("erase", Box::new(RandomErasing::new().probability(1.0))),
        ("cutout", Box::new(Cutout::new(3))),
        (
            "apply",
            Box::new(RandomApply::new(RandomRotation::new(10.0), 0.5)),
        ),
        (
            "pipeline",
            Box::new(
                Pipeline::new()
                    .then(RandomFlip::both())
                    .then(RandomCrop::new(2).fill(Fill::Reflect))
                    .then(ColorJitter::new(0.1, 0.1))
                    .then(Cutout::new(2)),
            ),
        ),
    ]
}

fn batch(n: usize, h: usize, w: usize, c: usize, salt: u32) -> Array4<f32> {
    Array4::from_shape_fn((n, h, w, c), |(i, y, x, ch)| {
        let v = (i as u32 * 7919 + y as u32 * 131 + x as u32 * 17 + ch as u32 * 3).wrapping_add(salt) % 97;
        v as f32 / 96.0
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn every_augmentation_keeps_shape_and_is_deterministic(
        n in 1usize..6, h in 1usize..12, w in 1usize..12, c in 1usize..4,
        seed in any::<u64>(), salt in any::<u32>(),
    ) {
        for (name, aug) in all_augmentations() {
            let src = batch(n, h, w, c, salt);
            let mut a = src.clone();
            let mut b = src.clone();
            aug.apply_batch(&mut a, seed);
            aug.apply_batch(&mut b, seed);
            prop_assert_eq!(a.dim(), (n, h, w, c), "{} changed the shape", name);
            prop_assert_eq!(&a, &b, "{} is not deterministic", name);
            prop_assert!(a.iter().all(|v| v.is_finite()), "{} made a non-finite value", name);
        }
    }

    #[test]
    fn flips_applied_twice_are_the_identity(
        n in 1usize..5, h in 1usize..10, w in 1usize..10, c in 1usize..4,
        seed in any::<u64>(), salt in any::<u32>(),
    ) {
        let src = batch(n, h, w, c, salt);
        for flip in [RandomFlip::horizontal(), RandomFlip::vertical(), RandomFlip::both()] {
            let mut a = src.clone();
            flip.apply_batch(&mut a, seed);
            flip.apply_batch(&mut a, seed); // same seed: same decisions
            prop_assert_eq!(&a, &src);
        }
        for img in 0..n {
            let mut a = src.clone();
            let mut v = a.index_axis_mut(ndarray::Axis(0), img);
            flip_horizontal(v.view_mut());
            flip_horizontal(v.view_mut());
            flip_vertical(v.view_mut());
            flip_vertical(v.view_mut());
            prop_assert_eq!(&a, &src);
        }
    }

    #[test]
    fn flip_and_shift_match_a_naive_reference(
        h in 1usize..9, w in 1usize..9, c in 1usize..4,
        dy in -12isize..12, dx in -12isize..12, mode in 0usize..4, salt in any::<u32>(),
    ) {
        let src = batch(1, h, w, c, salt).index_axis(ndarray::Axis(0), 0).to_owned();
        let mut f = src.clone();
        flip_horizontal(f.view_mut());
        prop_assert_eq!(&f, &src.slice(ndarray::s![.., ..;-1, ..]));
        let mut f = src.clone();
        flip_vertical(f.view_mut());
        prop_assert_eq!(&f, &src.slice(ndarray::s![..;-1, .., ..]));
        let fill = [Fill::Zero, Fill::Constant(-1.0), Fill::Reflect, Fill::Edge][mode];
        let map = |i: isize, n: usize| -> Option<usize> {
            if (0..n as isize).contains(&i) {
                return Some(i as usize);
            }
            match fill {
                Fill::Zero | Fill::Constant(_) => None,
                Fill::Edge => Some(i.clamp(0, n as isize - 1) as usize),
                Fill::Reflect => {
                    // Mirror step by step: -1 -> 1, n -> n-2.
                    if n == 1 { return Some(0); }
                    let mut i = i;
                    while !(0..n as isize).contains(&i) {
                        i = if i < 0 { -i } else { 2 * (n as isize - 1) - i };
                    }
                    Some(i as usize)
                }
            }
        };
        let fv = if let Fill::Constant(v) = fill { v } else { 0.0 };
        let want = Array3::from_shape_fn((h, w, c), |(y, x, ch)| {
            match (map(y as isize + dy, h), map(x as isize + dx, w)) {
                (Some(a), Some(b)) => src[[a, b, ch]],
                _ => fv,
            }
        });
        let mut got = src.clone();
        shift(got.view_mut(), dy, dx, fill);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn crop_only_moves_pixels(seed in any::<u64>(), pad in 0usize..5) {
        // With zero fill, every output value is an input value or 0.
        let src = batch(3, 8, 8, 2, 1).mapv(|v| v + 1.0);
        let mut a = src.clone();
        RandomCrop::new(pad).apply_batch(&mut a, seed);
        for v in a.iter() {
            prop_assert!(*v == 0.0 || src.iter().any(|s| s == v));
        }
    }
}

#[test]
fn flips_on_a_known_image() {
    let mut img = array![[[1.0f32], [2.0], [3.0]], [[4.0], [5.0], [6.0]]];
    flip_horizontal(img.view_mut());
    assert_eq!(img, array![[[3.0f32], [2.0], [1.0]], [[6.0], [5.0], [4.0]]]);
    flip_vertical(img.view_mut());
    assert_eq!(img, array![[[6.0f32], [5.0], [4.0]], [[3.0], [2.0], [1.0]]]);
    // Non-contiguous view (every other column) works too.
    let mut wide = Array3::from_shape_fn((1, 4, 1), |(_, x, _)| x as f32);
    flip_horizontal(wide.slice_mut(ndarray::s![.., ..;2, ..]));
    assert_eq!(wide.iter().copied().collect::<Vec<_>>(), vec![2.0, 1.0, 0.0, 3.0]);
}

#[test]
fn shift_fills() {
    let row = |f: Fill, dx: isize| {
        let mut img = Array3::from_shape_fn((1, 4, 1), |(_, x, _)| (x + 1) as f32); // a b c d = 1 2 3 4
        shift(img.view_mut(), 0, dx, f);
        img.iter().copied().collect::<Vec<_>>()
    };
    assert_eq!(row(Fill::Zero, -2), vec![0.0, 0.0, 1.0, 2.0]);
    assert_eq!(row(Fill::Zero, 1), vec![2.0, 3.0, 4.0, 0.0]);
    assert_eq!(row(Fill::Reflect, -2), vec![3.0, 2.0, 1.0, 2.0]); // c b | a b
    assert_eq!(row(Fill::Reflect, 2), vec![3.0, 4.0, 3.0, 2.0]); // c d | c b
    assert_eq!(row(Fill::Edge, -2), vec![1.0, 1.0, 1.0, 2.0]);
    assert_eq!(row(Fill::Constant(9.0), 3), vec![4.0, 9.0, 9.0, 9.0]);
}

#[test]
fn rotation_by_90_degrees_on_a_square() {
    let src = Array3::from_shape_fn((3, 3, 1), |(y, x, _)| (y * 3 + x) as f32);
    let mut img = src.clone();
    rotate(img.view_mut(), 90.0, Fill::Zero);
    // Counter-clockwise: the right column becomes the top row.
    let want = array![[2.0f32, 5.0, 8.0], [1.0, 4.0, 7.0], [0.0, 3.0, 6.0]];
    for y in 0..3 {
        for x in 0..3 {
            assert!((img[[y, x, 0]] - want[[y, x]]).abs() < 1e-4, "{img:?}");
        }
    }
    let mut same = src.clone();
    rotate(same.view_mut(), 0.0, Fill::Zero);
    assert_eq!(same, src);
}

#[test]
fn erasing_and_cutout_write_a_rectangle() {
    let mut a = Array4::<f32>::ones((1, 16, 16, 3));
    Cutout::new(4).apply_batch(&mut a, 3);
    let zeros = a.iter().filter(|&&v| v == 0.0).count();
    assert!(zeros > 0 && zeros <= 16 * 3 && zeros % 3 == 0, "{zeros}");
    let mut b = Array4::<f32>::ones((1, 16, 16, 3));
    RandomErasing::new()
        .probability(1.0)
        .value(0.5)
        .apply_batch(&mut b, 3);
    let erased = b.iter().filter(|&&v| v == 0.5).count();
    assert!(erased >= 3, "{erased}");
    let mut c = Array4::<f32>::ones((1, 16, 16, 3));
    RandomErasing::new().probability(0.0).apply_batch(&mut c, 3);
    assert!(c.iter().all(|&v| v == 1.0));
}

#[test]
fn jitter_and_noise_statistics() {
    let mut rng = sample_rng(1, 0, 0);
    let mut img = Array3::<f32>::from_elem((32, 32, 3), 0.5);
    GaussianNoise::new(0.1).apply(img.view_mut(), &mut rng);
    let mean = img.mean().unwrap();
    let std = img.mapv(|v| (v - mean) * (v - mean)).mean().unwrap().sqrt();
    assert!(
        (mean - 0.5).abs() < 0.01 && (std - 0.1).abs() < 0.01,
        "{mean} {std}"
    );
    let mut flat = Array3::<f32>::from_elem((4, 4, 1), 0.5);
    ColorJitter::new(0.0, 0.5).apply(flat.view_mut(), &mut rng);
    assert!(
        flat.iter().all(|&v| (v - 0.5).abs() < 1e-6),
        "contrast keeps a flat image"
    );
    ColorJitter::new(10.0, 0.0)
        .clip(0.0, 1.0)
        .apply(flat.view_mut(), &mut rng);
    assert!(flat.iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn different_seeds_differ() {
    let src = batch(4, 16, 16, 3, 0);
    let p = Pipeline::new()
        .then(RandomCrop::new(4))
        .then(RandomRotation::new(20.0));
    let mut a = src.clone();
    let mut b = src.clone();
    p.apply_batch(&mut a, 1);
    p.apply_batch(&mut b, 2);
    assert_ne!(a, b);
}
