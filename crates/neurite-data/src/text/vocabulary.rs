//! The vocabulary of a [`crate::text::TextVectorization`]: index 0 is padding, 1 is
//! out-of-vocabulary, then the learned tokens.

use crate::error::{DataError, Result};
use std::collections::HashMap;

/// The padding token, index 0 (Keras' mask token).
pub const PADDING_TOKEN: &str = "";
/// The out-of-vocabulary token, index 1 (Keras' OOV token).
pub const OOV_TOKEN: &str = "[UNK]";
/// Ids are returned as `f32` (what `Embedding` reads), exact up to 2^24: the largest vocabulary.
pub const MAX_VOCABULARY: usize = 1 << 24;

/// Token ↔ id table, padding and OOV included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Vocabulary {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        Self::from_learned(Vec::new()).expect("two reserved tokens fit")
    }
}

impl Vocabulary {
    /// Padding, OOV, then `learned` (distinct, neither reserved token).
    fn from_learned(learned: Vec<String>) -> Result<Self> {
        let total = learned.len() + 2;
        if total > MAX_VOCABULARY {
            return Err(DataError::arg(format!(
                "TextVectorization: a vocabulary of {total} tokens is more than the {MAX_VOCABULARY} whose ids f32 holds exactly"
            )));
        }
        let mut tokens = Vec::with_capacity(total);
        tokens.push(PADDING_TOKEN.to_string());
        tokens.push(OOV_TOKEN.to_string());
        tokens.extend(learned);
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Ok(Vocabulary { tokens, ids })
    }

    /// The vocabulary a user gives: the learned tokens, optionally preceded by padding and
    /// OOV (as [`Vocabulary::tokens`] returns them). Refuses repeats and reserved tokens
    /// elsewhere, naming them.
    pub(crate) fn from_user(tokens: Vec<String>) -> Result<Self> {
        let learned = if tokens.len() >= 2 && tokens[0] == PADDING_TOKEN && tokens[1] == OOV_TOKEN {
            tokens[2..].to_vec()
        } else {
            tokens
        };
        let mut seen = std::collections::HashSet::new();
        for (i, t) in learned.iter().enumerate() {
            if t == PADDING_TOKEN || t == OOV_TOKEN {
                return Err(DataError::arg(format!(
                    "TextVectorization: vocabulary entry {i} is the reserved token {t:?}; the padding \"\" and OOV \"[UNK]\" tokens may only come first, in that order"
                )));
            }
            if !seen.insert(t.as_str()) {
                return Err(DataError::arg(format!(
                    "TextVectorization: the vocabulary holds {t:?} twice (entry {i}); tokens must be distinct"
                )));
            }
        }
        Self::from_learned(learned)
    }

    /// The vocabulary learned from token counts as Keras learns it: by decreasing count, ties
    /// by decreasing token (byte order), at most `max_tokens` in all (padding and OOV included).
    pub(crate) fn from_counts(counts: HashMap<String, u64>, max_tokens: Option<usize>) -> Result<Self> {
        let mut learned: Vec<(String, u64)> = counts
            .into_iter()
            .filter(|(t, _)| t != PADDING_TOKEN && t != OOV_TOKEN)
            .collect();
        learned.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        if let Some(max) = max_tokens {
            learned.truncate(max.saturating_sub(2));
        }
        Self::from_learned(learned.into_iter().map(|(t, _)| t).collect())
    }

    /// Every token, by id.
    pub(crate) fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The id of `token` (1, OOV, when unknown).
    pub(crate) fn id(&self, token: &str) -> u32 {
        self.ids.get(token).copied().unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn learned_order_is_keras_order(counts in proptest::collection::hash_map("[a-c]{0,3}", 1u64..5, 0..20), max in proptest::option::of(2usize..12)) {
            let vocab = Vocabulary::from_counts(counts.clone(), max).unwrap();
            // Reference: numpy's lexsort((tokens, counts))[::-1], i.e. a stable sort by
            // (count, token) ascending, reversed.
            let mut reference: Vec<(u64, String)> = counts.iter().filter(|(t, _)| !t.is_empty()).map(|(t, c)| (*c, t.clone())).collect();
            reference.sort();
            reference.reverse();
            if let Some(m) = max { reference.truncate(m - 2); }
            let expected: Vec<String> = reference.into_iter().map(|(_, t)| t).collect();
            prop_assert_eq!(&vocab.tokens()[2..], &expected[..]);
            for (i, t) in vocab.tokens().iter().enumerate() {
                prop_assert_eq!(vocab.id(t), i as u32);
            }
        }
    }

    #[test]
    fn user_vocabularies() {
        let v = Vocabulary::from_user(vec!["x".into(), "y".into()]).unwrap();
        assert_eq!(v.tokens(), ["", "[UNK]", "x", "y"]);
        let again = Vocabulary::from_user(v.tokens().to_vec()).unwrap();
        assert_eq!(again, v);
        assert_eq!(v.id("z"), 1);
        let dup = Vocabulary::from_user(vec!["x".into(), "x".into()])
            .unwrap_err()
            .to_string();
        assert!(dup.contains("\"x\" twice"), "{dup}");
        let reserved = Vocabulary::from_user(vec!["x".into(), "".into()])
            .unwrap_err()
            .to_string();
        assert!(reserved.contains("reserved"), "{reserved}");
    }
}
