//! An image folder: one subfolder per class, PNG or JPEG files inside, as torchvision's
//! `ImageFolder` and Keras' `image_dataset_from_directory`.
//!
//! ```text
//! root/cat/001.png
//! root/cat/002.jpg
//! root/dog/001.png
//! ```
//!
//! Classes are the subfolder names in sorted order (or a given list); label `i` is class `i`.
//! Files ending in `.png`, `.jpg` or `.jpeg` (any case) are read, in sorted order; other files,
//! hidden entries and deeper folders are ignored. Images are decoded in parallel, converted to
//! RGB (or grayscale) and returned NHWC `(n, h, w, 3 or 1)`, scaled to `[0, 1]` by default.
//! All images must have the same size unless [`ImageFolder::resize`] is set. An image that cannot
//! be decoded, a size mismatch, a subfolder not in the given class list, or a listed class
//! without a folder is an error naming the file or folder.

use std::path::{Path, PathBuf};

use ndarray::{Array1, ArrayD, IxDyn};
use rayon::prelude::*;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io;

/// An image file and its label (the index of its class).
pub(crate) type LabelledFile = (PathBuf, usize);

/// The largest `height * width` accepted by [`ImageFolder::resize`]: 512 MiB (the image
/// crate's default allocation limit) over 16 bytes, the largest pixel (RGBA f32).
pub const MAX_RESIZE_PIXELS: u64 = (512 << 20) / 16;

/// Builder of an image-folder load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFolder {
    pub(crate) root: PathBuf,
    pub(crate) size: Option<(u32, u32)>,
    pub(crate) grayscale: bool,
    pub(crate) scale: bool,
    classes: Option<Vec<String>>,
}

/// A loaded image folder.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageFolderData {
    /// `x` `(n, h, w, c)`, `y` `(n,)` class indices.
    pub dataset: Dataset,
    /// Class names; label `i` is `classes[i]`.
    pub classes: Vec<String>,
    /// The file of each sample.
    pub paths: Vec<PathBuf>,
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

impl ImageFolder {
    /// Reads `root`: RGB, original size, scaled to `[0, 1]`, classes from the subfolders.
    pub fn new(root: impl AsRef<Path>) -> Self {
        ImageFolder {
            root: root.as_ref().to_path_buf(),
            size: None,
            grayscale: false,
            scale: true,
            classes: None,
        }
    }

    /// Resize every image to `height` x `width` (bilinear).
    ///
    /// Both sides must be at least 1, and `height * width` at most [`MAX_RESIZE_PIXELS`] (what
    /// the image crate's 512 MiB allocation limit allows for any pixel type); the builder
    /// cannot fail, so a size outside these bounds is refused by [`ImageFolder::load`], naming
    /// the argument.
    ///
    /// ```
    /// use neurite_data::ImageFolder;
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = ImageFolder::new(dir.path()).resize(0, 0).load().unwrap_err();
    /// assert!(e.to_string().contains("resize(0, 0)"));
    /// ```
    pub fn resize(mut self, height: u32, width: u32) -> Self {
        self.size = Some((height, width));
        self
    }

    /// One grayscale channel instead of RGB.
    pub fn grayscale(mut self, gray: bool) -> Self {
        self.grayscale = gray;
        self
    }

    /// Divide pixels by 255 (default true).
    pub fn scale(mut self, scale: bool) -> Self {
        self.scale = scale;
        self
    }

    /// Use this class list (label `i` = `classes[i]`): a subfolder not in it, or a class
    /// without a subfolder, is an error.
    pub fn classes<S: Into<String>>(mut self, classes: impl IntoIterator<Item = S>) -> Self {
        self.classes = Some(classes.into_iter().map(Into::into).collect());
        self
    }

    /// Loads the images.
    ///
    /// Errors (each naming the file, folder or argument): a `resize` size of 0 or too large, a
    /// missing root or one that is not a directory, a class folder whose name is not UTF-8, no
    /// class folder, no image, an image that cannot be decoded, images of different sizes
    /// without `resize`, a class list that does not match the folders, and memory for the
    /// images that cannot be allocated.
    pub fn load(&self) -> Result<ImageFolderData> {
        let (classes, files) = self.scan()?;
        let root = &self.root;
        let channels = if self.grayscale { 1 } else { 3 };
        let decoded: Vec<Result<(u32, u32, Vec<u8>)>> =
            files.par_iter().map(|(p, _)| self.decode(p)).collect();
        let mut size: Option<(u32, u32, &Path)> = None;
        let mut pixels = Vec::new();
        for ((p, _), d) in files.iter().zip(decoded) {
            let (h, w, px) = d?;
            match size {
                None => {
                    size = Some((h, w, p));
                    let total = px.len().checked_mul(files.len());
                    let ok = total
                        .is_some_and(|t| t <= isize::MAX as usize / 4 && pixels.try_reserve_exact(t).is_ok());
                    if !ok {
                        return Err(DataError::format(
                            root,
                            format!(
                                "{} images of {h}x{w}x{channels} cannot be allocated (use \
                                 ImageFolder::resize to load them smaller)",
                                files.len()
                            ),
                        ));
                    }
                }
                Some((h0, w0, first)) if (h, w) != (h0, w0) => {
                    return Err(DataError::format(
                        p,
                        format!(
                            "image is {h}x{w} but {} is {h0}x{w0}; use ImageFolder::resize to load images of different sizes",
                            first.display()
                        ),
                    ));
                }
                _ => {}
            }
            pixels.extend_from_slice(&px);
        }
        let (h, w, _) = size.expect("at least one image");
        let n = files.len();
        let x = ArrayD::from_shape_vec(
            IxDyn(&[n, h as usize, w as usize, channels]),
            io::u8_to_f32(&pixels, self.scale, root)?,
        )
        .map_err(|e| DataError::shape(e.to_string()))?;
        let y = Array1::from_iter(files.iter().map(|(_, l)| *l as f32));
        Ok(ImageFolderData {
            dataset: Dataset::new(x, y)?,
            classes,
            paths: files.into_iter().map(|(p, _)| p).collect(),
        })
    }

    /// Checks the settings and lists the classes and the image files with their labels (no
    /// image is read).
    pub(crate) fn scan(&self) -> Result<(Vec<String>, Vec<LabelledFile>)> {
        if let Some((h, w)) = self.size {
            if h == 0 || w == 0 || h as u64 * w as u64 > MAX_RESIZE_PIXELS {
                return Err(DataError::arg(format!(
                    "ImageFolder::resize({h}, {w}) for {}: height and width must be at least 1 and \
                     height * width at most {MAX_RESIZE_PIXELS} pixels",
                    self.root.display()
                )));
            }
        }
        let root = &self.root;
        let dirs: Vec<PathBuf> = list_dir(root)?
            .into_iter()
            .filter(|p| p.is_dir() && !hidden(p))
            .collect();
        let mut found: Vec<String> = Vec::with_capacity(dirs.len());
        for d in &dirs {
            let Some(name) = d.file_name() else { continue };
            let Some(name) = name.to_str() else {
                return Err(DataError::format(
                    d,
                    "class folder name is not valid UTF-8: class names must be text (rename it)",
                ));
            };
            found.push(name.to_string());
        }
        let classes = match &self.classes {
            None => found.clone(),
            Some(list) => {
                if let Some((i, dup)) = list.iter().enumerate().find(|(i, c)| list[..*i].contains(c)) {
                    return Err(DataError::arg(format!(
                        "ImageFolder::classes for {}: class {dup:?} is listed twice (again at \
                         position {i}); each class must appear once",
                        root.display()
                    )));
                }
                if let Some(bad) = found.iter().find(|f| !list.contains(f)) {
                    return Err(DataError::format(
                        root.join(bad),
                        format!("unknown class folder {bad:?}; the class list is {list:?}"),
                    ));
                }
                if let Some(missing) = list.iter().find(|c| !found.contains(c)) {
                    return Err(DataError::format(
                        root,
                        format!("class {missing:?} of the class list has no folder"),
                    ));
                }
                list.clone()
            }
        };
        if classes.is_empty() {
            return Err(DataError::format(
                root,
                "no class subfolders: expected root/<class>/<image>.png",
            ));
        }
        let mut files: Vec<(PathBuf, usize)> = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let d = root.join(class);
            for f in list_dir(&d)? {
                if f.is_file() && !hidden(&f) && is_image(&f) {
                    files.push((f, label));
                }
            }
        }
        if files.is_empty() {
            return Err(DataError::format(
                root,
                "no .png/.jpg/.jpeg images in the class folders",
            ));
        }
        Ok((classes, files))
    }

    /// Decodes one file to `(h, w, HWC u8 pixels)`.
    pub(crate) fn decode(&self, path: &Path) -> Result<(u32, u32, Vec<u8>)> {
        let bytes = io::read_file(path)?;
        let img = image::load_from_memory(&bytes)
            .map_err(|e| DataError::format(path, format!("cannot decode image: {e}")))?;
        let img = match self.size {
            Some((h, w)) if (img.height(), img.width()) != (h, w) => {
                img.resize_exact(w, h, image::imageops::FilterType::Triangle)
            }
            _ => img,
        };
        let (w, h) = (img.width(), img.height());
        let px = if self.grayscale {
            img.to_luma8().into_raw()
        } else {
            img.to_rgb8().into_raw()
        };
        Ok((h, w, px))
    }
}
