//! [`LazyTextFolder`]: a folder of `.txt` files per class, read and vectorized when a batch
//! asks for them.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array1;
use rayon::prelude::*;

use super::indexed::{check_indices, IndexedSource};
use crate::error::{DataError, Result};
use crate::loader::Batch;
use crate::text::folder::read_text;
use crate::text::{TextFolder, TextVectorization};

/// The texts of a [`TextFolder`] (one subfolder of `.txt` files per class, Keras'
/// `text_dataset_from_directory` layout), listed when opened and read, then turned into token
/// ids by a [`TextVectorization`], batch by batch (in parallel) when gathered: memory holds the
/// file list and a batch, not the texts. Same classes, order and labels as
/// [`TextFolder::load`], so a batch equals the vectorizer's output for the same rows of the
/// eagerly loaded texts.
///
/// The vectorizer needs a vocabulary ([`TextVectorization::adapt`], on texts from
/// [`LazyTextFolder::read`] for instance) and a fixed `output_sequence_length`, so that every
/// batch has the same width.
///
/// ```
/// use neurite_data::stream::{IndexedSource, LazyTextFolder};
/// use neurite_data::text::{TextFolder, TextVectorization};
/// let dir = tempfile::tempdir().unwrap();
/// for (class, text) in [("neg", "a dull film"), ("pos", "a fine film")] {
///     std::fs::create_dir(dir.path().join(class)).unwrap();
///     std::fs::write(dir.path().join(class).join("1.txt"), text).unwrap();
/// }
/// let folder = LazyTextFolder::open(TextFolder::new(dir.path()))?;
/// let mut vectorizer = TextVectorization::new().output_sequence_length(4);
/// vectorizer.adapt(&folder.read(&[0, 1])?)?; // the vocabulary from (some of) the texts
/// let folder = folder.vectorizer(vectorizer)?;
/// let batch = folder.gather(&[1])?;
/// assert_eq!(batch.x.shape(), &[1, 4]);
/// assert_eq!(batch.y.as_slice().unwrap(), &[1.0]); // class "pos"
/// # Ok::<(), neurite_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LazyTextFolder {
    root: PathBuf,
    classes: Vec<String>,
    files: Vec<PathBuf>,
    labels: Vec<usize>,
    vectorizer: Option<Arc<TextVectorization>>,
}

impl LazyTextFolder {
    /// Lists the folder, with the checks of [`TextFolder::load`] on its layout (a class
    /// folder without `.txt` files, no class folder, a named class missing), reading no text.
    pub fn open(folder: TextFolder) -> Result<Self> {
        let (classes, files, labels) = folder.scan()?;
        Ok(LazyTextFolder {
            root: folder.root().to_path_buf(),
            classes,
            files,
            labels,
            vectorizer: None,
        })
    }

    /// Sets the vectorizer that turns the texts into token ids. Errors when it has no
    /// vocabulary yet or no `output_sequence_length`.
    pub fn vectorizer(mut self, vectorizer: TextVectorization) -> Result<Self> {
        if vectorizer.output_sequence_length.is_none() {
            return Err(DataError::arg(format!(
                "LazyTextFolder {}: the vectorizer needs an output_sequence_length, so that every batch has \
                 the same width",
                self.root.display()
            )));
        }
        // Checks the configuration and the vocabulary as a call would.
        vectorizer.call(&[""])?;
        self.vectorizer = Some(Arc::new(vectorizer));
        Ok(self)
    }

    /// Class names; label `i` is class `i`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The text files, in sample order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.files
    }

    /// The class label of every sample, in sample order.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The texts of the samples `indices`, read now (UTF-8 checked, a byte-order mark dropped,
    /// as [`TextFolder::load`]): for adapting a vectorizer on a sample of the data.
    pub fn read(&self, indices: &[usize]) -> Result<Vec<String>> {
        check_indices(indices, self.files.len(), &self.root.display().to_string())?;
        indices.par_iter().map(|&i| read_text(&self.files[i])).collect()
    }

    /// The samples `indices`, in that order, as a folder of their own (same classes and
    /// vectorizer).
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        check_indices(indices, self.files.len(), &self.root.display().to_string())?;
        Ok(LazyTextFolder {
            root: self.root.clone(),
            classes: self.classes.clone(),
            files: indices.iter().map(|&i| self.files[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            vectorizer: self.vectorizer.clone(),
        })
    }

    /// A seeded stratified train/test split, the same split as
    /// [`crate::text::TextFolderData::train_test_split`] with the same seed.
    pub fn train_test_split(&self, test_fraction: f64, seed: u64) -> Result<(Self, Self)> {
        let (train, test) = crate::split::stratified_train_test_split(&self.labels, test_fraction, seed)?;
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    fn the_vectorizer(&self) -> Result<&TextVectorization> {
        self.vectorizer.as_deref().ok_or_else(|| {
            DataError::arg(format!(
                "LazyTextFolder {}: no vectorizer yet; give one with LazyTextFolder::vectorizer",
                self.root.display()
            ))
        })
    }
}

impl IndexedSource for LazyTextFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn x_sample_shape(&self) -> Vec<usize> {
        let width = self
            .vectorizer
            .as_ref()
            .and_then(|v| v.output_sequence_length)
            .unwrap_or(0);
        vec![width]
    }

    fn y_sample_shape(&self) -> Vec<usize> {
        Vec::new()
    }

    fn gather(&self, indices: &[usize]) -> Result<Batch> {
        let vectorizer = self.the_vectorizer()?;
        let texts = self.read(indices)?;
        let x = vectorizer.call(&texts)?.into_dyn();
        let y = Array1::from_iter(indices.iter().map(|&i| self.labels[i] as f32)).into_dyn();
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
    use proptest::prelude::*;

    fn folder(texts: &[(&str, &str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (class, name, text) in texts {
            let path = dir.path().join(class).join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const TEXTS: &[(&str, &str, &str)] = &[
        ("neg", "1.txt", "A dull, slow film."),
        ("neg", "2.txt", "\u{feff}Dull acting; dull plot"),
        ("pos", "1.txt", "a fine film"),
        ("pos", "sub/2.txt", "Fine, fine acting!"),
        ("pos", "3.txt", "good"),
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Any batch equals the vectorizer's output on the eagerly loaded texts of the same rows.
        #[test]
        fn batches_equal_the_eager_folder(indices in proptest::collection::vec(0usize..5, 1..8), width in 1usize..6) {
            let dir = folder(TEXTS);
            let eager = TextFolder::new(dir.path()).load().unwrap();
            let mut vectorizer = TextVectorization::new().output_sequence_length(width);
            vectorizer.adapt(&eager.texts).unwrap();
            let lazy = LazyTextFolder::open(TextFolder::new(dir.path())).unwrap().vectorizer(vectorizer.clone()).unwrap();
            prop_assert_eq!(lazy.classes(), &eager.classes[..]);
            prop_assert_eq!(lazy.paths(), &eager.paths[..]);
            let batch = lazy.gather(&indices).unwrap();
            let rows = eager.subset(&indices);
            prop_assert_eq!(batch.x, vectorizer.call(&rows.texts).unwrap().into_dyn());
            prop_assert_eq!(batch.y.iter().map(|&v| v as usize).collect::<Vec<_>>(), rows.labels);
            prop_assert_eq!(lazy.x_sample_shape(), vec![width]);
        }
    }

    #[test]
    fn the_split_is_the_eager_split() {
        let dir = folder(TEXTS);
        let eager = TextFolder::new(dir.path()).load().unwrap();
        let lazy = LazyTextFolder::open(TextFolder::new(dir.path())).unwrap();
        let (a, b) = eager.train_test_split(0.4, 7).unwrap();
        let (c, d) = lazy.train_test_split(0.4, 7).unwrap();
        assert_eq!((c.paths(), d.paths()), (&a.paths[..], &b.paths[..]));
        assert_eq!(c.read(&[0]).unwrap()[0], a.texts[0]);
    }

    #[test]
    fn mistakes_are_errors() {
        let dir = folder(TEXTS);
        let lazy = LazyTextFolder::open(TextFolder::new(dir.path())).unwrap();
        let e = lazy.gather(&[0]).unwrap_err().to_string();
        assert!(e.contains("no vectorizer"), "{e}");
        let e = lazy
            .clone()
            .vectorizer(TextVectorization::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("output_sequence_length"), "{e}");
        let e = lazy
            .clone()
            .vectorizer(TextVectorization::new().output_sequence_length(3))
            .unwrap_err()
            .to_string();
        assert!(!e.is_empty());
        assert!(lazy.read(&[5]).unwrap_err().to_string().contains("out of range"));
        std::fs::write(dir.path().join("pos").join("3.txt"), [0xffu8, 0xfe, 0x00]).unwrap();
        let i = lazy
            .paths()
            .iter()
            .position(|p| p.ends_with("pos/3.txt"))
            .unwrap();
        let e = lazy.read(&[i]).unwrap_err().to_string();
        assert!(e.contains("3.txt") && e.contains("UTF-8"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        std::fs::create_dir(empty.path().join("c")).unwrap();
        assert!(LazyTextFolder::open(TextFolder::new(empty.path())).is_err());
    }
}
