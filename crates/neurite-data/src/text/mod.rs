//! Text: a Keras-style `TextVectorization` (standardize, split, vocabulary, integer
//! sequences) and a loader for a folder of `.txt` files per class (Keras'
//! `text_dataset_from_directory` layout).
//!
//! ```
//! use neurite_data::text::{TextFolder, TextVectorization};
//! let dir = tempfile::tempdir()?;
//! for (class, i, text) in [("pos", 0, "A fine day."), ("neg", 1, "A bad day!"), ("pos", 2, "Fine, fine.")] {
//!     std::fs::create_dir_all(dir.path().join(class))?;
//!     std::fs::write(dir.path().join(class).join(format!("{i}.txt")), text)?;
//! }
//! let data = TextFolder::new(dir.path()).load()?;
//! let mut vectorizer = TextVectorization::new().max_tokens(20_000).output_sequence_length(5);
//! vectorizer.adapt(&data.texts)?;
//! let x = vectorizer.call(&data.texts)?; // (3, 5) token ids as f32, 0 = padding
//! assert_eq!(x.shape(), &[3, 5]);
//! assert_eq!(vectorizer.vocabulary()[2], "fine"); // the most frequent token
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod folder;
mod persist;
mod standardize;
mod tokens;
mod vectorization;
mod vocabulary;

pub use folder::{TextFolder, TextFolderData, MAX_TEXT_FILE_BYTES};
pub use standardize::{Standardize, StandardizeFn};
pub use tokens::{SplitFn, TokenSplit};
pub use vectorization::TextVectorization;
pub use vocabulary::{MAX_VOCABULARY, OOV_TOKEN, PADDING_TOKEN};
