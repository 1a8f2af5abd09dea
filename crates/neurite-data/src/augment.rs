//! Image augmentation on NHWC `f32` images.
//!
//! An [`Augment`] transforms **one** `(height, width, channels)` image in place, drawing its
//! random numbers from the [`Generator`] it is handed. Batches are augmented image by image, in
//! parallel, each image with its own generator derived from `(seed, epoch, sample index)`
//! ([`sample_rng`]); so the result is the same whatever the thread count or timing, and the
//! augmentation of a sample does not depend on the batch it lands in. Every augmentation keeps
//! the image shape; labels are never touched.
//!
//! ```
//! use ndarray::Array4;
//! use neurite_data::augment::{Augment, Fill, Pipeline, RandomCrop, RandomFlip};
//!
//! let pipeline = Pipeline::new()
//!     .then(RandomFlip::horizontal())
//!     .then(RandomCrop::new(4).fill(Fill::Reflect));
//! let mut batch = Array4::<f32>::zeros((8, 32, 32, 3));
//! pipeline.apply_batch(&mut batch, 42); // same seed, same result
//! assert_eq!(batch.dim(), (8, 32, 32, 3));
//! ```

use ndarray::{Array3, ArrayViewMut3, ArrayViewMut4, Axis};
use neurite_rand::Generator;
use rand::Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::rng::{rng_for, STREAM_AUGMENT};

/// The random generator for augmenting sample `index` in `epoch` under `seed`.
/// [`crate::DataLoader`] uses exactly this, with the sample's index in the dataset.
pub fn sample_rng(seed: u64, epoch: u64, index: u64) -> Generator {
    rng_for(seed, &[STREAM_AUGMENT, epoch, index])
}

/// An image augmentation: transforms one HWC image in place.
///
/// Implementations must draw all their randomness from `rng` (so a seed reproduces them) and
/// keep the image shape. They must not panic on any image size, including 1x1.
pub trait Augment: Send + Sync {
    /// Augments one `(height, width, channels)` image in place.
    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator);

    /// Checks the settings: one that can never work (a NaN angle, a probability outside
    /// `[0, 1]`, a cutout of size 0, ...) is an error naming the augmentation and the field.
    /// [`crate::DataLoader::augment`] calls it, so a bad setting is refused where the
    /// augmentation is handed over rather than silently doing nothing. `apply` itself never
    /// panics, whatever the settings. The default accepts everything.
    ///
    /// ```
    /// use neurite_data::augment::{Augment, RandomRotation};
    /// assert!(RandomRotation::new(15.0).validate().is_ok());
    /// let e = RandomRotation::new(f32::NAN).validate().unwrap_err();
    /// assert!(e.to_string().contains("max_degrees"));
    /// ```
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Augments every image of an NHWC batch, in parallel; image `i` uses
    /// `sample_rng(seed, 0, i)`.
    fn apply_batch(&self, batch: &mut ndarray::Array4<f32>, seed: u64) {
        let n = batch.len_of(Axis(0)) as u64;
        let ids: Vec<u64> = (0..n).collect();
        augment_batch(self, batch.view_mut(), seed, 0, &ids);
    }
}

/// Augments image `i` of `batch` with `sample_rng(seed, epoch, ids[i])`, in parallel.
pub(crate) fn augment_batch<A: Augment + ?Sized>(
    aug: &A,
    mut batch: ArrayViewMut4<'_, f32>,
    seed: u64,
    epoch: u64,
    ids: &[u64],
) {
    let (n, h, w, c) = batch.dim();
    assert_eq!(n, ids.len(), "one id per image");
    let per = h * w * c;
    if n == 0 {
        return;
    }
    if per > 0 {
        if let Some(buf) = batch.as_slice_mut() {
            buf.par_chunks_mut(per)
                .zip(ids.par_iter())
                .with_min_len(4)
                .for_each(|(chunk, &id)| {
                    let mut rng = sample_rng(seed, epoch, id);
                    let view = ArrayViewMut3::from_shape((h, w, c), chunk).expect("chunk shape");
                    aug.apply(view, &mut rng);
                });
            return;
        }
    }
    for (img, &id) in batch.axis_iter_mut(Axis(0)).zip(ids) {
        let mut rng = sample_rng(seed, epoch, id);
        aug.apply(img, &mut rng);
    }
}

/// Runs `f` on the image as a contiguous `(h, w, c)` buffer (copying only if the view is not
/// contiguous).
fn with_buf(mut image: ArrayViewMut3<'_, f32>, f: impl FnOnce(&mut [f32], usize, usize, usize)) {
    let (h, w, c) = image.dim();
    if let Some(buf) = image.as_slice_mut() {
        f(buf, h, w, c);
        return;
    }
    let mut tmp: Array3<f32> = image.to_owned();
    f(tmp.as_slice_mut().expect("owned is contiguous"), h, w, c);
    image.assign(&tmp);
}

/// Uniform `f32` in `[lo, hi]` (never panics; `lo` when the range is empty or reversed).
fn uniform(rng: &mut Generator, lo: f32, hi: f32) -> f32 {
    let u: f32 = rng.random();
    if hi > lo {
        lo + (hi - lo) * u
    } else {
        lo
    }
}

/// A probability in `[0, 1]`, or an error naming `who.field`.
fn check_probability(who: &str, field: &str, p: f32) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(DataError::arg(format!(
            "{who}: {field} must be a probability in [0, 1], got {p}"
        )))
    }
}

/// A finite value `>= 0`, or an error naming `who.field`.
fn check_non_negative(who: &str, field: &str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(DataError::arg(format!(
            "{who}: {field} must be finite and >= 0, got {v}"
        )))
    }
}

/// A finite constant fill.
fn check_fill(who: &str, fill: Fill) -> Result<()> {
    match fill {
        Fill::Constant(v) if !v.is_finite() => Err(DataError::arg(format!(
            "{who}: Fill::Constant must be finite, got {v}"
        ))),
        _ => Ok(()),
    }
}

/// Uniform integer in `[-m, m]` (`m` capped so that `2m` cannot overflow; shifting by more
/// than the image is already all fill, or periodic for reflect).
fn uniform_shift(rng: &mut Generator, m: usize) -> isize {
    let m = (m as u64).min(isize::MAX as u64 / 2);
    let r = rng.random_range(0..=2 * m);
    r as isize - m as isize
}

/// A Bernoulli draw with probability `p` (always consumes one number).
fn chance(rng: &mut Generator, p: f32) -> bool {
    rng.random::<f32>() < p
}

/// What a geometric augmentation puts where the source image has no pixel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Zeros.
    Zero,
    /// A constant value.
    Constant(f32),
    /// Mirror the image at its border without repeating the edge pixel (numpy's `reflect`,
    /// `dcb|abcd|cba`).
    Reflect,
    /// Repeat the edge pixel (`aaa|abcd|ddd`).
    Edge,
}

impl Fill {
    /// Maps a source coordinate to an in-image one, `None` for constant fills out of range.
    #[inline]
    fn index(self, i: isize, n: usize) -> Option<usize> {
        if i >= 0 && (i as usize) < n {
            return Some(i as usize);
        }
        match self {
            Fill::Zero | Fill::Constant(_) => None,
            Fill::Edge => Some(if i < 0 { 0 } else { n - 1 }),
            Fill::Reflect => {
                if n == 1 {
                    return Some(0);
                }
                let period = 2 * (n as isize - 1);
                let r = i.rem_euclid(period);
                Some(if r >= n as isize {
                    (period - r) as usize
                } else {
                    r as usize
                })
            }
        }
    }

    fn value(self) -> f32 {
        match self {
            Fill::Constant(v) => v,
            _ => 0.0,
        }
    }
}

/// Mirrors an HWC image left-right.
pub fn flip_horizontal(image: ArrayViewMut3<'_, f32>) {
    with_buf(image, |buf, h, w, c| {
        if w < 2 || c == 0 {
            return;
        }
        for row in buf.chunks_exact_mut(w * c).take(h) {
            if c == 1 {
                row.reverse();
                continue;
            }
            let (left, right) = row.split_at_mut((w / 2) * c);
            let right_len = right.len();
            for x in 0..w / 2 {
                // Pixel x (left half) <-> pixel w-1-x, which sits at the end of `right`.
                let b = right_len - (x + 1) * c;
                left[x * c..(x + 1) * c].swap_with_slice(&mut right[b..b + c]);
            }
        }
    });
}

/// Mirrors an HWC image top-bottom.
pub fn flip_vertical(image: ArrayViewMut3<'_, f32>) {
    with_buf(image, |buf, h, w, c| {
        let rl = w * c;
        if rl == 0 {
            return;
        }
        for y in 0..h / 2 {
            let (top, bottom) = buf.split_at_mut((h - 1 - y) * rl);
            top[y * rl..(y + 1) * rl].swap_with_slice(&mut bottom[..rl]);
        }
    });
}

/// Shifts an HWC image: output pixel `(y, x)` is source pixel `(y + dy, x + dx)`, pixels from
/// outside the image given by `fill`.
pub fn shift(image: ArrayViewMut3<'_, f32>, dy: isize, dx: isize, fill: Fill) {
    with_buf(image, |buf, h, w, c| shift_buf(buf, h, w, c, dy, dx, fill));
}

fn shift_buf(buf: &mut [f32], h: usize, w: usize, c: usize, dy: isize, dx: isize, fill: Fill) {
    if (dy == 0 && dx == 0) || buf.is_empty() {
        return;
    }
    let src = buf.to_vec();
    let v = fill.value();
    let rl = w * c;
    // Output columns whose source column x + dx lies inside the image: one contiguous span,
    // copied in one go; only the columns outside it go through the fill rule.
    // Saturating: any shift, `isize::MIN` included, is accepted (a shift past the image is
    // all fill, or periodic for reflect).
    let lo = dx.saturating_neg().clamp(0, w as isize) as usize;
    let hi = (w as isize).saturating_sub(dx).clamp(lo as isize, w as isize) as usize;
    for y in 0..h {
        let out_row = &mut buf[y * rl..(y + 1) * rl];
        let Some(sy) = fill.index((y as isize).saturating_add(dy), h) else {
            out_row.fill(v);
            continue;
        };
        let src_row = &src[sy * rl..(sy + 1) * rl];
        if hi > lo {
            let s0 = (lo as isize + dx) as usize;
            out_row[lo * c..hi * c].copy_from_slice(&src_row[s0 * c..(s0 + hi - lo) * c]);
        }
        for x in (0..lo).chain(hi..w) {
            let out_px = &mut out_row[x * c..(x + 1) * c];
            match fill.index((x as isize).saturating_add(dx), w) {
                Some(sx) => out_px.copy_from_slice(&src_row[sx * c..(sx + 1) * c]),
                None => out_px.fill(v),
            }
        }
    }
}

/// Rotates an HWC image by `degrees` (counter-clockwise) about its centre, bilinear
/// interpolation, pixels from outside the image given by `fill`.
pub fn rotate(image: ArrayViewMut3<'_, f32>, degrees: f32, fill: Fill) {
    with_buf(image, |buf, h, w, c| rotate_buf(buf, h, w, c, degrees, fill));
}

fn rotate_buf(buf: &mut [f32], h: usize, w: usize, c: usize, degrees: f32, fill: Fill) {
    if degrees == 0.0 || buf.is_empty() || !degrees.is_finite() {
        return;
    }
    let src = buf.to_vec();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let cy = (h as f32 - 1.0) / 2.0;
    let cx = (w as f32 - 1.0) / 2.0;
    let v = fill.value();
    let tap = |yy: isize, xx: isize, ch: usize| -> f32 {
        match (fill.index(yy, h), fill.index(xx, w)) {
            (Some(a), Some(b)) => src[(a * w + b) * c + ch],
            _ => v,
        }
    };
    for y in 0..h {
        for x in 0..w {
            let (ox, oy) = (x as f32 - cx, y as f32 - cy);
            // Inverse rotation: where does output pixel (y, x) come from?
            let sx = cos * ox - sin * oy + cx;
            let sy = sin * ox + cos * oy + cy;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for ch in 0..c {
                let top = tap(y0, x0, ch) * (1.0 - fx) + tap(y0, x0 + 1, ch) * fx;
                let bot = tap(y0 + 1, x0, ch) * (1.0 - fx) + tap(y0 + 1, x0 + 1, ch) * fx;
                buf[(y * w + x) * c + ch] = top * (1.0 - fy) + bot * fy;
            }
        }
    }
}

/// Random horizontal and/or vertical flip, each with probability `p` (default 0.5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomFlip {
    /// Flip left-right.
    pub horizontal: bool,
    /// Flip top-bottom.
    pub vertical: bool,
    /// Probability of each enabled flip.
    pub p: f32,
}

impl RandomFlip {
    /// Left-right flip with probability 0.5.
    pub fn horizontal() -> Self {
        RandomFlip {
            horizontal: true,
            vertical: false,
            p: 0.5,
        }
    }

    /// Top-bottom flip with probability 0.5.
    pub fn vertical() -> Self {
        RandomFlip {
            horizontal: false,
            vertical: true,
            p: 0.5,
        }
    }

    /// Both flips, each independently with probability 0.5.
    pub fn both() -> Self {
        RandomFlip {
            horizontal: true,
            vertical: true,
            p: 0.5,
        }
    }

    /// Sets the probability of each flip.
    pub fn probability(mut self, p: f32) -> Self {
        self.p = p;
        self
    }
}

impl Augment for RandomFlip {
    fn validate(&self) -> Result<()> {
        check_probability("RandomFlip", "p", self.p)
    }

    fn apply(&self, mut image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        if self.horizontal && chance(rng, self.p) {
            flip_horizontal(image.view_mut());
        }
        if self.vertical && chance(rng, self.p) {
            flip_vertical(image.view_mut());
        }
    }
}

/// Random crop of the original size from the image padded by `padding` pixels on each side
/// (the classic CIFAR "pad 4, crop 32"), i.e. a random shift by up to `padding` pixels each
/// way. Zero padding by default; [`Fill::Reflect`] for reflect padding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomCrop {
    /// Pixels of padding on each side.
    pub padding: usize,
    /// How the padding is filled.
    pub fill: Fill,
}

impl RandomCrop {
    /// Pad by `padding` with zeros, crop back to the original size.
    pub fn new(padding: usize) -> Self {
        RandomCrop {
            padding,
            fill: Fill::Zero,
        }
    }

    /// Sets the padding mode.
    pub fn fill(mut self, fill: Fill) -> Self {
        self.fill = fill;
        self
    }
}

impl Augment for RandomCrop {
    fn validate(&self) -> Result<()> {
        check_fill("RandomCrop", self.fill)
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        let dy = uniform_shift(rng, self.padding);
        let dx = uniform_shift(rng, self.padding);
        shift(image, dy, dx, self.fill);
    }
}

/// Random translation by up to `height_factor * height` rows and `width_factor * width`
/// columns (rounded) in either direction, as Keras' `RandomTranslation`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomTranslation {
    /// Largest vertical shift as a fraction of the height.
    pub height_factor: f32,
    /// Largest horizontal shift as a fraction of the width.
    pub width_factor: f32,
    /// What fills the uncovered area (default zeros).
    pub fill: Fill,
}

impl RandomTranslation {
    /// Shifts up to the given fractions of the image size, zero fill.
    pub fn new(height_factor: f32, width_factor: f32) -> Self {
        RandomTranslation {
            height_factor,
            width_factor,
            fill: Fill::Zero,
        }
    }

    /// Sets the fill.
    pub fn fill(mut self, fill: Fill) -> Self {
        self.fill = fill;
        self
    }
}

fn max_shift(factor: f32, n: usize) -> usize {
    let m = (factor.abs() * n as f32).round();
    if m.is_finite() {
        (m as usize).min(n)
    } else {
        0
    }
}

impl Augment for RandomTranslation {
    /// Keras' rule: each factor finite, with absolute value at most 1.
    fn validate(&self) -> Result<()> {
        for (field, f) in [
            ("height_factor", self.height_factor),
            ("width_factor", self.width_factor),
        ] {
            if !(f.is_finite() && f.abs() <= 1.0) {
                return Err(DataError::arg(format!(
                    "RandomTranslation: {field} must be in [-1, 1], got {f}"
                )));
            }
        }
        check_fill("RandomTranslation", self.fill)
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        let (h, w, _) = image.dim();
        let dy = uniform_shift(rng, max_shift(self.height_factor, h));
        let dx = uniform_shift(rng, max_shift(self.width_factor, w));
        shift(image, dy, dx, self.fill);
    }
}

/// Random rotation by an angle uniform in `[-max_degrees, max_degrees]`, bilinear, zero fill
/// by default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomRotation {
    /// Largest rotation in degrees.
    pub max_degrees: f32,
    /// What fills the corners.
    pub fill: Fill,
}

impl RandomRotation {
    /// Rotations up to `max_degrees` either way, zero fill.
    pub fn new(max_degrees: f32) -> Self {
        RandomRotation {
            max_degrees,
            fill: Fill::Zero,
        }
    }

    /// Sets the fill.
    pub fn fill(mut self, fill: Fill) -> Self {
        self.fill = fill;
        self
    }
}

impl Augment for RandomRotation {
    fn validate(&self) -> Result<()> {
        if !self.max_degrees.is_finite() {
            return Err(DataError::arg(format!(
                "RandomRotation: max_degrees must be finite, got {}",
                self.max_degrees
            )));
        }
        check_fill("RandomRotation", self.fill)
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        let m = self.max_degrees.abs();
        let deg = uniform(rng, -m, m);
        rotate(image, deg, self.fill);
    }
}

/// Brightness and contrast jitter: adds `delta ~ U[-brightness, brightness]` to every value,
/// then scales each channel's deviation from its mean by `factor ~ U[1 - contrast, 1 + contrast]`.
/// Optionally clips the result (e.g. to `(0, 1)` for images scaled to `[0, 1]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColorJitter {
    /// Largest brightness offset.
    pub brightness: f32,
    /// Largest relative contrast change.
    pub contrast: f32,
    /// Clip to `(lo, hi)` afterwards.
    pub clip: Option<(f32, f32)>,
}

impl ColorJitter {
    /// Brightness offset up to `brightness`, contrast factor within `1 ± contrast`, no clipping.
    pub fn new(brightness: f32, contrast: f32) -> Self {
        ColorJitter {
            brightness,
            contrast,
            clip: None,
        }
    }

    /// Clip results to `[lo, hi]`.
    pub fn clip(mut self, lo: f32, hi: f32) -> Self {
        self.clip = Some((lo, hi));
        self
    }
}

impl Augment for ColorJitter {
    fn validate(&self) -> Result<()> {
        check_non_negative("ColorJitter", "brightness", self.brightness)?;
        check_non_negative("ColorJitter", "contrast", self.contrast)?;
        if let Some((lo, hi)) = self.clip {
            if lo.is_nan() || hi.is_nan() || lo > hi {
                return Err(DataError::arg(format!(
                    "ColorJitter: clip range ({lo}, {hi}) must have lo <= hi"
                )));
            }
        }
        Ok(())
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        let b = self.brightness.abs();
        let delta = uniform(rng, -b, b);
        let k = self.contrast.abs();
        let factor = uniform(rng, (1.0 - k).max(0.0), 1.0 + k);
        let clip = self.clip;
        with_buf(image, |buf, _h, _w, c| {
            if c == 0 || buf.is_empty() {
                return;
            }
            let mut mean = vec![0f64; c];
            for px in buf.chunks_exact(c) {
                for (m, &v) in mean.iter_mut().zip(px) {
                    *m += (v + delta) as f64;
                }
            }
            let npx = (buf.len() / c) as f64;
            let mean: Vec<f32> = mean.iter().map(|m| (m / npx) as f32).collect();
            for px in buf.chunks_exact_mut(c) {
                for (v, &m) in px.iter_mut().zip(&mean) {
                    let mut t = (*v + delta - m) * factor + m;
                    if let Some((lo, hi)) = clip {
                        t = t.max(lo).min(hi);
                    }
                    *v = t;
                }
            }
        });
    }
}

/// Adds gaussian noise with standard deviation `std` to every value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaussianNoise {
    /// Standard deviation of the noise.
    pub std: f32,
}

impl GaussianNoise {
    /// Noise of standard deviation `std`.
    pub fn new(std: f32) -> Self {
        GaussianNoise { std }
    }
}

impl Augment for GaussianNoise {
    fn validate(&self) -> Result<()> {
        check_non_negative("GaussianNoise", "std", self.std)
    }

    fn apply(&self, mut image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        // Iterate in logical (row-major) order so the noise does not depend on memory layout.
        for v in image.iter_mut() {
            let z: f32 = rng.sample(StandardNormal);
            *v += z * self.std;
        }
    }
}

/// Random erasing (Zhong et al. 2017, as torchvision's `RandomErasing`): with probability `p`,
/// sets a random rectangle of area `scale` (fraction of the image) and aspect ratio `ratio` to
/// `value` in all channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomErasing {
    /// Probability of erasing.
    pub p: f32,
    /// Range of the erased area as a fraction of the image area.
    pub scale: (f32, f32),
    /// Range of the erased rectangle's aspect ratio (height / width).
    pub ratio: (f32, f32),
    /// The value written.
    pub value: f32,
}

impl Default for RandomErasing {
    fn default() -> Self {
        RandomErasing {
            p: 0.5,
            scale: (0.02, 0.33),
            ratio: (0.3, 3.3),
            value: 0.0,
        }
    }
}

impl RandomErasing {
    /// torchvision's defaults: p 0.5, scale (0.02, 0.33), ratio (0.3, 3.3), value 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the probability.
    pub fn probability(mut self, p: f32) -> Self {
        self.p = p;
        self
    }

    /// Sets the value written into the rectangle.
    pub fn value(mut self, v: f32) -> Self {
        self.value = v;
        self
    }
}

/// Sets rows `ys` x columns `xs` of an HWC buffer of width `w`, `c` channels, to `v`.
fn fill_rect(buf: &mut [f32], w: usize, c: usize, ys: (usize, usize), xs: (usize, usize), v: f32) {
    let ((y0, y1), (x0, x1)) = (ys, xs);
    for y in y0..y1 {
        buf[(y * w + x0) * c..(y * w + x1) * c].fill(v);
    }
}

impl Augment for RandomErasing {
    /// torchvision's rules: `p` in `[0, 1]`, `scale` within `[0, 1]` and `ratio` positive,
    /// each as `(min, max)`.
    fn validate(&self) -> Result<()> {
        check_probability("RandomErasing", "p", self.p)?;
        let (s0, s1) = self.scale;
        if !(0.0..=1.0).contains(&s0) || !(0.0..=1.0).contains(&s1) || s0 > s1 {
            return Err(DataError::arg(format!(
                "RandomErasing: scale ({s0}, {s1}) must be (min, max) within [0, 1]"
            )));
        }
        let (r0, r1) = self.ratio;
        if !(r0.is_finite() && r1.is_finite() && r0 > 0.0 && r0 <= r1) {
            return Err(DataError::arg(format!(
                "RandomErasing: ratio ({r0}, {r1}) must be (min, max), finite and > 0"
            )));
        }
        Ok(())
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        if !chance(rng, self.p) {
            return;
        }
        let (h, w, _) = image.dim();
        let area = (h * w) as f32;
        let (r0, r1) = (self.ratio.0.max(1e-6).ln(), self.ratio.1.max(1e-6).ln());
        for _ in 0..10 {
            let target = area * uniform(rng, self.scale.0, self.scale.1);
            let ar = uniform(rng, r0, r1).exp();
            let eh = (target * ar).sqrt().round();
            let ew = (target / ar).sqrt().round();
            if !(eh.is_finite() && ew.is_finite()) || eh < 1.0 || ew < 1.0 {
                continue;
            }
            let (eh, ew) = (eh as usize, ew as usize);
            if eh >= h || ew >= w {
                continue;
            }
            let y0 = rng.random_range(0..=h - eh);
            let x0 = rng.random_range(0..=w - ew);
            let v = self.value;
            with_buf(image, |buf, _h, w, c| {
                fill_rect(buf, w, c, (y0, y0 + eh), (x0, x0 + ew), v)
            });
            return;
        }
    }
}

/// Cutout (DeVries & Taylor 2017): zeroes (or sets to `value`) a `size` x `size` square centred
/// on a uniformly random pixel, clipped at the border. Always applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cutout {
    /// Side of the square.
    pub size: usize,
    /// The value written.
    pub value: f32,
}

impl Cutout {
    /// A `size` x `size` zero square.
    pub fn new(size: usize) -> Self {
        Cutout { size, value: 0.0 }
    }
}

impl Augment for Cutout {
    fn validate(&self) -> Result<()> {
        if self.size == 0 {
            return Err(DataError::arg("Cutout: size must be at least 1, got 0"));
        }
        Ok(())
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        let (h, w, _) = image.dim();
        if h == 0 || w == 0 || self.size == 0 {
            return;
        }
        let cy = rng.random_range(0..h);
        let cx = rng.random_range(0..w);
        let half = self.size / 2;
        let (y0, y1) = (
            cy.saturating_sub(half),
            (cy.saturating_sub(half) + self.size).min(h),
        );
        let (x0, x1) = (
            cx.saturating_sub(half),
            (cx.saturating_sub(half) + self.size).min(w),
        );
        let v = self.value;
        with_buf(image, |buf, _h, w, c| fill_rect(buf, w, c, (y0, y1), (x0, x1), v));
    }
}

/// Applies an augmentation with probability `p`.
pub struct RandomApply {
    inner: Box<dyn Augment>,
    p: f32,
}

impl RandomApply {
    /// `inner` with probability `p`.
    pub fn new(inner: impl Augment + 'static, p: f32) -> Self {
        RandomApply {
            inner: Box::new(inner),
            p,
        }
    }
}

impl Augment for RandomApply {
    fn validate(&self) -> Result<()> {
        check_probability("RandomApply", "p", self.p)?;
        self.inner.validate()
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        if chance(rng, self.p) {
            self.inner.apply(image, rng);
        }
    }
}

/// Augmentations applied one after the other, sharing the image's random generator.
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<Box<dyn Augment>>,
}

impl Pipeline {
    /// An empty pipeline (the identity).
    pub fn new() -> Self {
        Pipeline { steps: Vec::new() }
    }

    /// Appends a step.
    pub fn then(mut self, step: impl Augment + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }

    /// Appends a boxed step.
    pub fn push(&mut self, step: Box<dyn Augment>) {
        self.steps.push(step);
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// `true` when the pipeline has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Augment for Pipeline {
    fn validate(&self) -> Result<()> {
        for (i, s) in self.steps.iter().enumerate() {
            s.validate().map_err(|e| match e {
                DataError::InvalidArgument(m) => {
                    DataError::InvalidArgument(format!("Pipeline step {i}: {m}"))
                }
                e => e,
            })?;
        }
        Ok(())
    }

    fn apply(&self, mut image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        for s in &self.steps {
            s.apply(image.view_mut(), rng);
        }
    }
}

impl<A: Augment + ?Sized> Augment for Box<A> {
    fn validate(&self) -> Result<()> {
        (**self).validate()
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        (**self).apply(image, rng)
    }
}

impl<A: Augment + ?Sized> Augment for std::sync::Arc<A> {
    fn validate(&self) -> Result<()> {
        (**self).validate()
    }

    fn apply(&self, image: ArrayViewMut3<'_, f32>, rng: &mut Generator) {
        (**self).apply(image, rng)
    }
}
