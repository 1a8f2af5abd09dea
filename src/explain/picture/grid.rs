//! A grid of images and their attribution maps: one row per sample (its
//! image, then each map over it), as PNG and as SVG.

use super::colors::{color, scaled};
use super::font::{draw_text, text_width};
use super::svg::{base64, escape};
use crate::error::{Error, Result};
use crate::explain::upsample::bilinear;
use ndarray::{Array2, Array3, ArrayViewD};
use std::path::Path;

/// One row: a caption, the image `(height, width, 1 or 3)` scaled to
/// `[0, 1]`, and the maps at the image's size.
struct Row {
    caption: String,
    image: Array3<f32>,
    maps: Vec<Array2<f32>>,
}

/// Images with their attribution maps drawn over them, one row per sample
/// (Keras' Grad-CAM tutorial's superimposed pictures, several methods side
/// by side). Non-negative maps are drawn with a sequential colour map
/// scaled to the map's maximum, signed maps with a blue–white–red map
/// scaled to the largest absolute value; each map is blended half and half
/// with the grey image.
///
/// ```
/// use neurite::explain::picture::HeatmapGrid;
/// let mut grid = HeatmapGrid::new(&["saliency"]).scale(2);
/// let image = ndarray::Array3::<f32>::from_shape_fn((4, 4, 1), |(i, j, _)| (i * j) as f32).into_dyn();
/// let map = ndarray::Array2::<f32>::from_shape_fn((4, 4), |(i, _)| i as f32);
/// grid.add_row("pred 3 true 3", image.view(), vec![map])?;
/// assert!(grid.to_svg()?.contains("pred 3 true 3"));
/// assert_eq!(&grid.to_png()?[1..4], b"PNG");
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug)]
pub struct HeatmapGrid {
    headers: Vec<String>,
    rows: Vec<Row>,
    scale: u32,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row").field("caption", &self.caption).finish()
    }
}

const GAP: u32 = 6;
const FONT: u32 = 2;
/// Height of a line of caption text (5 font rows at `FONT`, plus space).
const LINE: u32 = 5 * FONT + 6;

impl HeatmapGrid {
    /// A grid whose rows hold an image and one map per header (the column
    /// titles, e.g. `["saliency", "integrated gradients", "grad-cam"]`),
    /// each input pixel drawn as 4×4 pixels.
    pub fn new(headers: &[&str]) -> Self {
        HeatmapGrid {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            scale: 4,
        }
    }

    /// Output pixels per input pixel along each side (default 4; at least 1).
    pub fn scale(mut self, scale: u32) -> Self {
        self.scale = scale.max(1);
        self
    }

    /// Adds a row: `caption` (e.g. the predicted and true class), the image
    /// (`(height, width)` or `(height, width, channels)` with 1 or 3
    /// channels, any range: drawn min-max scaled), and one map per header
    /// (resized bilinearly to the image when its size differs). Errors name
    /// a wrong map count, an image of another shape, a non-finite pixel.
    pub fn add_row(
        &mut self,
        caption: impl Into<String>,
        image: ArrayViewD<'_, f32>,
        maps: Vec<Array2<f32>>,
    ) -> Result<()> {
        let bad = |m: String| Err(Error::Input(format!("heatmap grid: {m}")));
        if maps.len() != self.headers.len() {
            return bad(format!(
                "{} maps given for the {} columns {:?}",
                maps.len(),
                self.headers.len(),
                self.headers
            ));
        }
        let image = match image.shape() {
            [h, w] => image.to_owned().into_shape_with_order((*h, *w, 1)).ok(),
            [_, _, 1] | [_, _, 3] => image.to_owned().into_dimensionality().ok(),
            _ => None,
        };
        let Some(image) = image else {
            return bad("the image must have shape (height, width) or (height, width, 1 or 3)".into());
        };
        if image.iter().any(|v| !v.is_finite()) {
            return bad("the image holds a non-finite value".into());
        }
        let (h, w, _) = image.dim();
        if h == 0 || w == 0 || maps.iter().any(|m| m.is_empty()) {
            return bad("empty image or map".into());
        }
        let (lo, hi) = image
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let image = if hi > lo {
            image.mapv(|v| (v - lo) / (hi - lo))
        } else {
            image.mapv(|_| 0.0)
        };
        let maps = maps
            .into_iter()
            .map(|m| if m.dim() == (h, w) { m } else { bilinear(&m, h, w) })
            .collect();
        self.rows.push(Row {
            caption: caption.into(),
            image,
            maps,
        });
        Ok(())
    }

    /// The panels of a row, each an RGB picture at the input's size: the
    /// image, then every map blended over it.
    fn panels(row: &Row) -> Vec<image::RgbImage> {
        let (h, w, c) = row.image.dim();
        let pixel = |i: usize, j: usize| -> [f32; 3] {
            if c == 3 {
                [row.image[[i, j, 0]], row.image[[i, j, 1]], row.image[[i, j, 2]]]
            } else {
                [row.image[[i, j, 0]]; 3]
            }
        };
        let mut panels = vec![image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
            image::Rgb(pixel(y as usize, x as usize).map(|v| (v * 255.0).round() as u8))
        })];
        for map in &row.maps {
            let (s, signed) = scaled(map);
            panels.push(image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let (i, j) = (y as usize, x as usize);
                let grey = pixel(i, j).iter().sum::<f32>() / 3.0 * 255.0;
                let heat = color(s[[i, j]], signed);
                image::Rgb(heat.map(|v| (0.5 * v as f32 + 0.5 * grey).round() as u8))
            }));
        }
        panels
    }

    /// Panel size in output pixels, and the whole picture's width and height.
    fn layout(&self) -> (u32, u32, u32, u32) {
        let (h, w) = self
            .rows
            .first()
            .map_or((1, 1), |r| (r.image.dim().0 as u32, r.image.dim().1 as u32));
        let (pw, ph) = (w * self.scale, h * self.scale);
        let columns = self.headers.len() as u32 + 1;
        let widest_text = std::iter::once("input")
            .chain(self.headers.iter().map(String::as_str))
            .map(|t| text_width(t, FONT))
            .max()
            .unwrap_or(0);
        let cell = pw.max(widest_text);
        let caption = self
            .rows
            .iter()
            .map(|r| text_width(&r.caption, FONT))
            .max()
            .unwrap_or(0);
        let width = (GAP + columns * (cell + GAP)).max(caption + 2 * GAP);
        let height = GAP + LINE + self.rows.len() as u32 * (LINE + ph + GAP);
        (cell, ph, width, height)
    }

    /// The grid as PNG bytes (captions in a 3×5 pixel font, upper-case).
    /// Errors for a grid without rows or rows of different image sizes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        self.check()?;
        let (cell, ph, width, height) = self.layout();
        let mut img = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
        let titles = std::iter::once("input").chain(self.headers.iter().map(String::as_str));
        for (k, t) in titles.enumerate() {
            draw_text(&mut img, GAP + k as u32 * (cell + GAP), GAP, t, FONT, [0, 0, 0]);
        }
        for (r, row) in self.rows.iter().enumerate() {
            let top = GAP + LINE + r as u32 * (LINE + ph + GAP);
            draw_text(&mut img, GAP, top, &row.caption, FONT, [40, 40, 40]);
            for (k, panel) in Self::panels(row).iter().enumerate() {
                let left = GAP + k as u32 * (cell + GAP);
                for (x, y, p) in panel.enumerate_pixels() {
                    for dy in 0..self.scale {
                        for dx in 0..self.scale {
                            img.put_pixel(left + x * self.scale + dx, top + LINE + y * self.scale + dy, *p);
                        }
                    }
                }
            }
        }
        encode_png(&img)
    }

    /// The grid as SVG: captions as text, every panel an embedded PNG drawn pixelated.
    pub fn to_svg(&self) -> Result<String> {
        self.check()?;
        let (cell, ph, width, height) = self.layout();
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
             font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        let titles = std::iter::once("input").chain(self.headers.iter().map(String::as_str));
        for (k, t) in titles.enumerate() {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\">{}</text>\n",
                GAP + k as u32 * (cell + GAP),
                GAP + 10,
                escape(t)
            ));
        }
        for (r, row) in self.rows.iter().enumerate() {
            let top = GAP + LINE + r as u32 * (LINE + ph + GAP);
            svg.push_str(&format!(
                "<text x=\"{GAP}\" y=\"{}\">{}</text>\n",
                top + 11,
                escape(&row.caption)
            ));
            for (k, panel) in Self::panels(row).iter().enumerate() {
                svg.push_str(&format!(
                    "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{ph}\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
                    GAP + k as u32 * (cell + GAP),
                    top + LINE,
                    panel.width() * self.scale,
                    base64(&encode_png(panel)?)
                ));
            }
        }
        svg.push_str("</svg>\n");
        Ok(svg)
    }

    fn check(&self) -> Result<()> {
        let Some(first) = self.rows.first() else {
            return Err(Error::Input("heatmap grid: no rows to draw".into()));
        };
        let size = (first.image.dim().0, first.image.dim().1);
        if let Some(r) = self
            .rows
            .iter()
            .position(|r| (r.image.dim().0, r.image.dim().1) != size)
        {
            return Err(Error::Input(format!(
                "heatmap grid: row {r}'s image is {:?}, the first row's {size:?}: every image needs one size",
                (self.rows[r].image.dim().0, self.rows[r].image.dim().1)
            )));
        }
        Ok(())
    }

    /// Writes [`HeatmapGrid::to_png`] to `path` atomically (a temporary file renamed into place).
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(neurite_data::write_atomic(path.as_ref(), &self.to_png()?)?)
    }

    /// Writes [`HeatmapGrid::to_svg`] to `path` atomically.
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(neurite_data::write_atomic(
            path.as_ref(),
            self.to_svg()?.as_bytes(),
        )?)
    }
}

fn encode_png(img: &image::RgbImage) -> Result<Vec<u8>> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| Error::Model(format!("heatmap grid: PNG encoding failed: {e}")))?;
    Ok(bytes.into_inner())
}
