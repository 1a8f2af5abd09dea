//! `TextVectorization`: texts to padded integer sequences, as Keras' layer of that name.

use super::standardize::Standardize;
use super::tokens::TokenSplit;
use super::vocabulary::Vocabulary;
use crate::error::{DataError, Result};
use ndarray::Array2;
use rayon::prelude::*;
use std::collections::HashMap;

/// Turns texts into integer sequences, as Keras' `TextVectorization` with
/// `output_mode="int"`: standardize each text, split it into tokens, look each token up in a
/// vocabulary learned by [`TextVectorization::adapt`] (or given), and pad with 0 or truncate
/// to `output_sequence_length`.
///
/// Ids: 0 is padding, 1 is out-of-vocabulary (`"[UNK]"`), then the learned tokens by
/// decreasing count (ties by decreasing token, byte order) — Keras' order, so the same texts
/// give Keras' vocabulary. `max_tokens` counts the two reserved ids. Text is UTF-8 throughout:
/// [`TokenSplit::Character`] cuts Chinese text character by character.
///
/// ```
/// use neurite_data::text::TextVectorization;
/// let mut tv = TextVectorization::new().max_tokens(6).output_sequence_length(4);
/// tv.adapt(&["The cat sat.", "The dog sat on the mat!"])?;
/// assert_eq!(tv.vocabulary(), ["", "[UNK]", "the", "sat", "on", "mat"]);
/// let ids = tv.call(&["the cat sat on", "mat"])?;
/// assert_eq!(ids.row(0).to_vec(), [2.0, 1.0, 3.0, 4.0]); // "cat" is out of the vocabulary
/// assert_eq!(ids.row(1).to_vec(), [5.0, 0.0, 0.0, 0.0]); // padded with 0
/// # Ok::<(), neurite_data::DataError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TextVectorization {
    pub(crate) max_tokens: Option<usize>,
    pub(crate) output_sequence_length: Option<usize>,
    pub(crate) standardize: Standardize,
    pub(crate) split: TokenSplit,
    pub(crate) vocabulary: Option<Vocabulary>,
}

impl TextVectorization {
    /// Keras' defaults: no token limit, `lower_and_strip_punctuation`, whitespace split, each
    /// batch padded to its longest text. Needs [`TextVectorization::adapt`] or
    /// [`TextVectorization::set_vocabulary`] before [`TextVectorization::call`].
    ///
    /// ```
    /// let tv = neurite_data::text::TextVectorization::new();
    /// assert!(tv.call(&["a"]).is_err()); // no vocabulary yet
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `max_tokens` ids, padding and OOV included (Keras' `max_tokens`); must be at
    /// least 2, checked by `adapt`.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new().max_tokens(3);
    /// tv.adapt(&["b a a"])?;
    /// assert_eq!(tv.vocabulary(), ["", "[UNK]", "a"]);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn max_tokens(mut self, max_tokens: usize) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Every output row has `length` ids: shorter texts are padded with 0 at the end, longer
    /// ones keep their first `length` tokens (Keras' `output_sequence_length`). Must be at
    /// least 1, checked by `call`.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new().output_sequence_length(2);
    /// tv.set_vocabulary(["a"])?;
    /// assert_eq!(tv.call(&["a a a"])?.shape(), &[1, 2]);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn output_sequence_length(mut self, length: usize) -> Self {
        self.output_sequence_length = Some(length);
        self
    }

    /// The standardization (Keras' `standardize`); [`Standardize::LowerAndStripPunctuation`]
    /// by default.
    ///
    /// ```
    /// use neurite_data::text::{Standardize, TextVectorization};
    /// let tv = TextVectorization::new().standardize(Standardize::None);
    /// assert_eq!(tv.tokens("A, b"), ["A,", "b"]);
    /// ```
    pub fn standardize(mut self, standardize: Standardize) -> Self {
        self.standardize = standardize;
        self
    }

    /// The split (Keras' `split`); [`TokenSplit::Whitespace`] by default.
    ///
    /// ```
    /// use neurite_data::text::{TextVectorization, TokenSplit};
    /// let tv = TextVectorization::new().split(TokenSplit::Character);
    /// assert_eq!(tv.tokens("月光"), ["月", "光"]);
    /// ```
    pub fn split(mut self, split: TokenSplit) -> Self {
        self.split = split;
        self
    }

    /// The tokens of `text`: standardized, then split.
    ///
    /// ```
    /// let tv = neurite_data::text::TextVectorization::new();
    /// assert_eq!(tv.tokens("Hello, World!"), ["hello", "world"]);
    /// ```
    pub fn tokens(&self, text: &str) -> Vec<String> {
        self.split.tokens(&self.standardize.apply(text))
    }

    fn check_config(&self) -> Result<()> {
        if let Some(max) = self.max_tokens {
            if max < 2 {
                return Err(DataError::arg(format!(
                    "TextVectorization: max_tokens must be at least 2 (padding and OOV take ids 0 and 1), found {max}"
                )));
            }
        }
        if self.output_sequence_length == Some(0) {
            return Err(DataError::arg(
                "TextVectorization: output_sequence_length must be at least 1, found 0".to_string(),
            ));
        }
        Ok(())
    }

    /// Learns the vocabulary from `texts` (Keras' `adapt`), replacing any earlier one. Errors
    /// on an empty list, on texts that hold no token at all, and on a bad `max_tokens`.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new();
    /// tv.adapt(&["b a", "a"])?;
    /// assert_eq!(tv.vocabulary(), ["", "[UNK]", "a", "b"]);
    /// assert!(tv.adapt(&[] as &[&str]).is_err());
    /// assert!(tv.adapt(&["  ", "!!"]).is_err()); // no token in any text
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn adapt<S: AsRef<str> + Sync>(&mut self, texts: &[S]) -> Result<()> {
        self.check_config()?;
        if texts.is_empty() {
            return Err(DataError::arg(
                "TextVectorization::adapt: no texts to learn a vocabulary from".to_string(),
            ));
        }
        let counts = texts
            .par_iter()
            .fold(HashMap::new, |mut counts: HashMap<String, u64>, text| {
                let standardized = self.standardize.apply(text.as_ref());
                self.split
                    .for_each_token(&standardized, |t| match counts.get_mut(t) {
                        Some(c) => *c += 1,
                        None => {
                            counts.insert(t.to_string(), 1);
                        }
                    });
                counts
            })
            .reduce(HashMap::new, |mut a, b| {
                for (t, c) in b {
                    *a.entry(t).or_insert(0) += c;
                }
                a
            });
        if counts.is_empty() {
            return Err(DataError::arg(format!(
                "TextVectorization::adapt: the {} texts hold no token after standardizing ({:?}) and splitting ({:?})",
                texts.len(),
                self.standardize,
                self.split
            )));
        }
        self.vocabulary = Some(Vocabulary::from_counts(counts, self.max_tokens)?);
        Ok(())
    }

    /// Sets the vocabulary (Keras' `vocabulary` argument / `set_vocabulary`): the learned
    /// tokens in id order from 2, optionally preceded by `""` and `"[UNK]"` (as
    /// [`TextVectorization::vocabulary`] returns them). Repeated tokens, or a reserved token
    /// elsewhere, are errors.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new();
    /// tv.set_vocabulary(["x", "y"])?;
    /// assert_eq!(tv.call(&["x y z"])?.row(0).to_vec(), [2.0, 3.0, 1.0]);
    /// assert!(tv.set_vocabulary(["x", "x"]).is_err());
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn set_vocabulary<S: Into<String>>(&mut self, tokens: impl IntoIterator<Item = S>) -> Result<()> {
        self.vocabulary = Some(Vocabulary::from_user(
            tokens.into_iter().map(Into::into).collect(),
        )?);
        Ok(())
    }

    /// Every token by id (Keras' `get_vocabulary`): `""`, `"[UNK]"`, then the learned ones;
    /// empty before `adapt`/`set_vocabulary`.
    ///
    /// ```
    /// assert!(neurite_data::text::TextVectorization::new().vocabulary().is_empty());
    /// ```
    pub fn vocabulary(&self) -> &[String] {
        self.vocabulary.as_ref().map(Vocabulary::tokens).unwrap_or(&[])
    }

    /// The number of ids (Keras' `vocabulary_size()`): the `input_dim` an `Embedding` needs.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new();
    /// tv.adapt(&["a b c"])?;
    /// assert_eq!(tv.vocabulary_size(), 5);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn vocabulary_size(&self) -> usize {
        self.vocabulary().len()
    }

    /// The token of `id`, if there is one.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new();
    /// tv.set_vocabulary(["hi"])?;
    /// assert_eq!(tv.token(2), Some("hi"));
    /// assert_eq!(tv.token(1), Some("[UNK]"));
    /// assert_eq!(tv.token(3), None);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn token(&self, id: usize) -> Option<&str> {
        self.vocabulary().get(id).map(String::as_str)
    }

    fn vocab(&self, what: &str) -> Result<&Vocabulary> {
        self.vocabulary.as_ref().ok_or_else(|| {
            DataError::arg(format!(
                "TextVectorization::{what}: no vocabulary yet; call adapt or set_vocabulary first"
            ))
        })
    }

    /// The ids of `text`'s tokens, unpadded and untruncated.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new();
    /// tv.set_vocabulary(["a", "b"])?;
    /// assert_eq!(tv.encode("b, a! c")?, [3, 2, 1]);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let vocab = self.vocab("encode")?;
        let mut ids = Vec::new();
        self.split
            .for_each_token(&self.standardize.apply(text), |t| ids.push(vocab.id(t)));
        Ok(ids)
    }

    /// The id sequences of `texts`, one row each, as `f32` (what `Embedding` reads): padded with
    /// 0 or truncated to `output_sequence_length`, or, without one, padded to the longest text
    /// of this call (Keras). Texts are processed in parallel.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new();
    /// tv.set_vocabulary(["a", "b"])?;
    /// let ids = tv.call(&["a", "b a b"])?;
    /// assert_eq!(ids.shape(), &[2, 3]);
    /// assert_eq!(ids.row(0).to_vec(), [2.0, 0.0, 0.0]);
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn call<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Array2<f32>> {
        self.check_config()?;
        self.vocab("call")?;
        let rows: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|t| self.encode(t.as_ref()))
            .collect::<Result<_>>()?;
        let width = self
            .output_sequence_length
            .unwrap_or_else(|| rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut out = Array2::zeros((rows.len(), width));
        for (mut row, ids) in out.outer_iter_mut().zip(&rows) {
            for (o, &id) in row.iter_mut().zip(ids) {
                *o = id as f32;
            }
        }
        Ok(out)
    }
}
