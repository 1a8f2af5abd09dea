//! A text folder: one subfolder per class, `.txt` files inside, as Keras'
//! `text_dataset_from_directory`.

use crate::error::{DataError, Result};
use ndarray::Array1;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The largest text file [`TextFolder::load`] reads: 1 GiB.
pub const MAX_TEXT_FILE_BYTES: u64 = 1 << 30;

/// Builder of a text-folder load.
///
/// ```text
/// root/sports/001.txt
/// root/sports/more/002.txt
/// root/science/003.txt
/// ```
///
/// Classes are the subfolders of `root` in sorted order (or a given list); label `i` is class
/// `i`. Inside a class folder, files ending in `.txt` (any case) are read at any depth, in
/// sorted path order, as Keras does; hidden entries and files directly under `root` are
/// ignored. Each file must be UTF-8 (a leading byte-order mark is dropped). A non-UTF-8 file,
/// a class folder without any `.txt` file, a listed class without a folder, or a root without
/// class folders is an error naming the file or folder.
///
/// ```
/// use neurite_data::text::TextFolder;
/// let dir = tempfile::tempdir()?;
/// for (class, name, text) in [("pos", "a.txt", "good"), ("neg", "b.txt", "bad"), ("pos", "c.txt", "fine")] {
///     std::fs::create_dir_all(dir.path().join(class))?;
///     std::fs::write(dir.path().join(class).join(name), text)?;
/// }
/// let data = TextFolder::new(dir.path()).load()?;
/// assert_eq!(data.classes, ["neg", "pos"]);
/// assert_eq!(data.texts, ["bad", "good", "fine"]);
/// assert_eq!(data.labels, [0, 1, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextFolder {
    root: PathBuf,
    classes: Option<Vec<String>>,
}

/// A loaded text folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextFolderData {
    /// The text of each sample.
    pub texts: Vec<String>,
    /// The class index of each sample.
    pub labels: Vec<usize>,
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

fn is_text(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if !hidden(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Every `.txt` file under `dir`, depth first in sorted order. Symbolic links to folders are
/// not followed (as Keras' `follow_links=False`), so a link cycle cannot loop.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in entries(dir)? {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| DataError::io(&path, e))?;
        if meta.is_dir() {
            text_files(&path, out)?;
        } else if is_text(&path) && (meta.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    let len = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?.len();
    if len > MAX_TEXT_FILE_BYTES {
        return Err(DataError::format(
            path,
            format!("{len} bytes is more than the {MAX_TEXT_FILE_BYTES} a text sample may hold"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        DataError::format(
            path,
            format!(
                "not UTF-8 text: invalid byte sequence at byte {}",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

impl TextFolder {
    /// Reads `root`, with classes from its subfolders.
    ///
    /// ```
    /// let folder = neurite_data::text::TextFolder::new("data/text/fortunes");
    /// # let _ = folder;
    /// ```
    pub fn new(root: impl AsRef<Path>) -> Self {
        TextFolder {
            root: root.as_ref().to_path_buf(),
            classes: None,
        }
    }

    /// Only these classes, labelled in this order (Keras' `class_names`); each needs a folder.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::create_dir(dir.path().join("a"))?;
    /// std::fs::write(dir.path().join("a/1.txt"), "x")?;
    /// let err = neurite_data::text::TextFolder::new(dir.path()).classes(["a", "b"]).load().unwrap_err();
    /// assert!(err.to_string().contains("b"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn classes<S: Into<String>>(mut self, classes: impl IntoIterator<Item = S>) -> Self {
        self.classes = Some(classes.into_iter().map(Into::into).collect());
        self
    }

    /// Reads every file (in parallel), in class order then path order.
    pub fn load(&self) -> Result<TextFolderData> {
        let (classes, files, labels) = self.scan()?;
        let texts = files
            .par_iter()
            .map(|p| read_text(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(TextFolderData {
            texts,
            labels,
            classes,
            paths: files,
        })
    }

    /// The folder's root.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The classes, and every `.txt` file with its label, without reading them (the checks of
    /// [`TextFolder::load`] on the folder layout).
    pub(crate) fn scan(&self) -> Result<(Vec<String>, Vec<PathBuf>, Vec<usize>)> {
        let root = &self.root;
        let classes = match &self.classes {
            Some(given) => {
                if given.is_empty() {
                    return Err(DataError::arg("TextFolder: the class list is empty".to_string()));
                }
                for c in given {
                    if !root.join(c).is_dir() {
                        return Err(DataError::format(
                            root.join(c),
                            format!("class {c:?} has no folder under {}", root.display()),
                        ));
                    }
                }
                given.clone()
            }
            None => {
                let found: Vec<String> = entries(root)?
                    .into_iter()
                    .filter(|p| p.is_dir())
                    .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
                    .collect();
                if found.is_empty() {
                    return Err(DataError::format(
                        root,
                        "no class folders: expected one subfolder of .txt files per class",
                    ));
                }
                found
            }
        };
        let mut files = Vec::new();
        let mut labels = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let dir = root.join(class);
            let before = files.len();
            text_files(&dir, &mut files)?;
            if files.len() == before {
                return Err(DataError::format(
                    &dir,
                    format!("class {class:?} holds no .txt file"),
                ));
            }
            labels.resize(files.len(), label);
        }
        Ok((classes, files, labels))
    }
}

impl TextFolderData {
    /// The number of samples.
    ///
    /// ```
    /// let data = neurite_data::text::TextFolderData { texts: vec!["a".into()], labels: vec![0], classes: vec!["c".into()], paths: vec!["c/a.txt".into()] };
    /// assert_eq!(data.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether there are no samples.
    ///
    /// ```
    /// let data = neurite_data::text::TextFolderData { texts: vec![], labels: vec![], classes: vec![], paths: vec![] };
    /// assert!(data.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// The labels as `f32` class indices (what sparse categorical losses read).
    ///
    /// ```
    /// let data = neurite_data::text::TextFolderData { texts: vec!["a".into(), "b".into()], labels: vec![0, 1], classes: vec!["x".into(), "y".into()], paths: vec!["x/a.txt".into(), "y/b.txt".into()] };
    /// assert_eq!(data.labels_f32().to_vec(), [0.0, 1.0]);
    /// ```
    pub fn labels_f32(&self) -> Array1<f32> {
        self.labels.iter().map(|&l| l as f32).collect()
    }

    /// The samples at `indices`, in that order.
    ///
    /// ```
    /// let data = neurite_data::text::TextFolderData { texts: vec!["a".into(), "b".into()], labels: vec![0, 1], classes: vec!["x".into(), "y".into()], paths: vec!["x/a.txt".into(), "y/b.txt".into()] };
    /// assert_eq!(data.subset(&[1]).texts, ["b"]);
    /// ```
    pub fn subset(&self, indices: &[usize]) -> TextFolderData {
        TextFolderData {
            texts: indices.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            paths: indices.iter().map(|&i| self.paths[i].clone()).collect(),
        }
    }

    /// A seeded stratified train/test split (each class keeps its proportion, as
    /// [`crate::stratified_train_test_split`]).
    ///
    /// ```
    /// let texts: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    /// let data = neurite_data::text::TextFolderData { labels: (0..10).map(|i| i % 2).collect(), paths: texts.iter().map(Into::into).collect(), texts, classes: vec!["a".into(), "b".into()] };
    /// let (train, test) = data.train_test_split(0.2, 42)?;
    /// assert_eq!((train.len(), test.len()), (8, 2));
    /// assert_eq!(test.labels.iter().filter(|&&l| l == 0).count(), 1);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn train_test_split(
        &self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(TextFolderData, TextFolderData)> {
        let (train, test) = crate::split::stratified_train_test_split(&self.labels, test_fraction, seed)?;
        Ok((self.subset(&train), self.subset(&test)))
    }
}
