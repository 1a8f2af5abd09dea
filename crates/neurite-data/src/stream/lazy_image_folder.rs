//! [`LazyImageFolder`]: an image folder whose images are decoded when a batch asks for them.

use std::path::PathBuf;

use ndarray::{Array1, ArrayD, IxDyn};
use rayon::prelude::*;

use super::indexed::{check_indices, IndexedSource};
use crate::error::{DataError, Result};
use crate::image_folder::ImageFolder;
use crate::io;
use crate::loader::Batch;

/// The images of an [`ImageFolder`] (one subfolder per class), listed when opened and decoded
/// batch by batch (in parallel) when gathered: memory holds the file list and a batch, not
/// the images. Same classes, order, labels, resizing, grayscale and scaling as
/// [`ImageFolder::load`], so a batch equals the same rows of the eagerly loaded data set. Without
/// [`ImageFolder::resize`], every image must have the size of the first one: one that differs
/// is an error naming it when it is read.
///
/// ```no_run
/// use neurite_data::{stream::{IndexedSource, LazyImageFolder}, ImageFolder};
/// let folder = LazyImageFolder::open(ImageFolder::new("photos/train").resize(64, 64)).unwrap();
/// println!("{} images of classes {:?}", folder.len(), folder.classes());
/// let batch = folder.gather(&[0, 1, 2]).unwrap();
/// assert_eq!(batch.x.shape(), &[3, 64, 64, 3]);
/// ```
#[derive(Debug, Clone)]
pub struct LazyImageFolder {
    folder: ImageFolder,
    classes: Vec<String>,
    files: Vec<(PathBuf, usize)>,
    /// Height, width, channels of every image.
    hwc: (usize, usize, usize),
}

impl LazyImageFolder {
    /// Lists the folder (the same checks as [`ImageFolder::load`]) and learns the image size
    /// from the resize setting or the first image.
    pub fn open(folder: ImageFolder) -> Result<Self> {
        let (classes, files) = folder.scan()?;
        let channels = if folder.grayscale { 1 } else { 3 };
        let (h, w) = match folder.size {
            Some((h, w)) => (h, w),
            None => {
                let (h, w, _) = folder.decode(&files[0].0)?;
                (h, w)
            }
        };
        Ok(LazyImageFolder {
            folder,
            classes,
            files,
            hwc: (h as usize, w as usize, channels),
        })
    }

    /// Class names; label `i` is class `i`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The image files, in sample order.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.iter().map(|(p, _)| p)
    }
}

impl IndexedSource for LazyImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn x_sample_shape(&self) -> Vec<usize> {
        vec![self.hwc.0, self.hwc.1, self.hwc.2]
    }

    fn y_sample_shape(&self) -> Vec<usize> {
        Vec::new()
    }

    fn gather(&self, indices: &[usize]) -> Result<Batch> {
        check_indices(indices, self.files.len(), &self.folder.root.display().to_string())?;
        let (h, w, c) = self.hwc;
        let decoded: Vec<Result<Vec<u8>>> = indices
            .par_iter()
            .map(|&i| {
                let path = &self.files[i].0;
                let (ih, iw, px) = self.folder.decode(path)?;
                if (ih as usize, iw as usize) != (h, w) {
                    return Err(DataError::format(
                        path,
                        format!(
                            "image is {ih}x{iw} but the folder's images are {h}x{w} (the size of {}); use \
                             ImageFolder::resize to read images of different sizes",
                            self.files[0].0.display()
                        ),
                    ));
                }
                Ok(px)
            })
            .collect();
        let mut pixels = Vec::with_capacity(indices.len() * h * w * c);
        for px in decoded {
            pixels.extend_from_slice(&px?);
        }
        let x = ArrayD::from_shape_vec(
            IxDyn(&[indices.len(), h, w, c]),
            io::u8_to_f32(&pixels, self.folder.scale, &self.folder.root)?,
        )
        .map_err(|e| DataError::shape(e.to_string()))?;
        let y = Array1::from_iter(indices.iter().map(|&i| self.files[i].1 as f32)).into_dyn();
        Ok(Batch {
            x,
            y,
            indices: indices.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &std::path::Path, w: u32, h: u32, seed: u8) {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([seed, (x * 7) as u8, (y * 13) as u8]));
        img.save(path).unwrap();
    }

    #[test]
    fn batches_equal_the_eager_loader_and_odd_sizes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (class, n) in [("cat", 3u8), ("dog", 2)] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for i in 0..n {
                write_png(&dir.path().join(class).join(format!("{i}.png")), 4, 3, i * 40 + n);
            }
        }
        let folder = ImageFolder::new(dir.path());
        let eager = folder.load().unwrap();
        let lazy = LazyImageFolder::open(folder.clone()).unwrap();
        assert_eq!((lazy.len(), lazy.classes()), (5, &eager.classes[..]));
        let idx = [4, 0, 2];
        assert_eq!(
            lazy.gather(&idx).unwrap(),
            IndexedSource::gather(&eager.dataset, &idx).unwrap()
        );
        let gray = LazyImageFolder::open(folder.clone().grayscale(true).resize(2, 2)).unwrap();
        assert_eq!(gray.gather(&[1]).unwrap().x.shape(), &[1, 2, 2, 1]);

        write_png(&dir.path().join("dog").join("9.png"), 5, 5, 0);
        let lazy = LazyImageFolder::open(folder).unwrap();
        let e = lazy.gather(&[5]).unwrap_err().to_string();
        assert!(e.contains("9.png") && e.contains("5x5"), "{e}");
    }
}
