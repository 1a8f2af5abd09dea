//! Bilinear resizing of Grad-CAM's maps to the input's size.

use ndarray::{Array1, Array2};

/// Source coordinate and weights of output index `i` when `from` values
/// are stretched to `to` (half-pixel centres, as `tf.image.resize`'s
/// bilinear without antialiasing): `(lower index, upper index, upper weight)`.
fn source(i: usize, from: usize, to: usize) -> (usize, usize, f32) {
    let scale = from as f32 / to as f32;
    let x = ((i as f32 + 0.5) * scale - 0.5).clamp(0.0, (from - 1) as f32);
    let lo = x.floor() as usize;
    let hi = (lo + 1).min(from - 1);
    (lo, hi, x - lo as f32)
}

/// `map` resized to `(height, width)` by bilinear interpolation.
pub(crate) fn bilinear(map: &Array2<f32>, height: usize, width: usize) -> Array2<f32> {
    let (h, w) = map.dim();
    Array2::from_shape_fn((height, width), |(i, j)| {
        let (y0, y1, fy) = source(i, h, height);
        let (x0, x1, fx) = source(j, w, width);
        let top = map[[y0, x0]] * (1.0 - fx) + map[[y0, x1]] * fx;
        let bottom = map[[y1, x0]] * (1.0 - fx) + map[[y1, x1]] * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// `values` resized to `len` by linear interpolation.
pub(crate) fn linear(values: &Array1<f32>, len: usize) -> Array1<f32> {
    Array1::from_shape_fn(len, |i| {
        let (a, b, f) = source(i, values.len(), len);
        values[a] * (1.0 - f) + values[b] * f
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Resizing to the same size changes nothing; a constant map stays
        /// constant; values stay within the map's range.
        #[test]
        fn identity_constant_and_bounds(h in 1usize..6, w in 1usize..6, to_h in 1usize..12, to_w in 1usize..12,
                                        seed in any::<u64>(), c in -3.0f32..3.0) {
            let map = Array2::from_shape_fn((h, w), |(i, j)| ((seed >> ((i * 7 + j) % 60)) & 15) as f32 - 7.0);
            prop_assert_eq!(bilinear(&map, h, w), map.clone());
            let constant = Array2::from_elem((h, w), c);
            prop_assert!(bilinear(&constant, to_h, to_w).iter().all(|&v| (v - c).abs() <= 1e-5 * c.abs().max(1.0)));
            let (lo, hi) = map.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            prop_assert!(bilinear(&map, to_h, to_w).iter().all(|&v| v >= lo - 1e-4 && v <= hi + 1e-4));
            let row = map.row(0).to_owned();
            prop_assert_eq!(linear(&row, w), row);
        }
    }

    #[test]
    fn doubling_interpolates_between_neighbours() {
        let map = ndarray::arr2(&[[0.0f32, 4.0]]);
        // Half-pixel centres: outputs at source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
        assert_eq!(bilinear(&map, 1, 4), ndarray::arr2(&[[0.0f32, 1.0, 3.0, 4.0]]));
    }
}
