//! Colour maps: a sequential one for non-negative maps and a diverging one
//! for signed maps, and scaling a map for them.

use ndarray::Array2;

/// Colour stops of the sequential map (dark purple, red, orange, pale
/// yellow: an approximation of matplotlib's "inferno").
const SEQUENTIAL: [[f32; 3]; 5] = [
    [0.0, 0.0, 4.0],
    [87.0, 16.0, 110.0],
    [188.0, 55.0, 84.0],
    [249.0, 142.0, 9.0],
    [252.0, 255.0, 164.0],
];

/// Colour stops of the diverging map, -1 to 1 (blue, white, red: "coolwarm"-like).
const DIVERGING: [[f32; 3]; 3] = [[59.0, 76.0, 192.0], [245.0, 245.0, 245.0], [180.0, 4.0, 38.0]];

fn interpolate(stops: &[[f32; 3]], t: f32) -> [u8; 3] {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (stops.len() - 1) as f32;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f32;
    std::array::from_fn(|c| (stops[i][c] * (1.0 - f) + stops[i + 1][c] * f).round() as u8)
}

/// The colour of a scaled value: `t` in `[0, 1]` (sequential) or `[-1, 1]` (diverging).
pub(crate) fn color(t: f32, signed: bool) -> [u8; 3] {
    if signed {
        interpolate(&DIVERGING, (t + 1.0) / 2.0)
    } else {
        interpolate(&SEQUENTIAL, t)
    }
}

/// The map scaled for [`color`]: divided by its largest absolute value,
/// and whether it has negative values (then it is drawn diverging).
/// Non-finite values become 0; an all-zero map stays 0.
pub(crate) fn scaled(map: &Array2<f32>) -> (Array2<f32>, bool) {
    let clean = map.mapv(|v| if v.is_finite() { v } else { 0.0 });
    let signed = clean.iter().any(|&v| v < 0.0);
    let top = clean.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
    let scaled = if top > 0.0 { clean / top } else { clean };
    (scaled, signed)
}
