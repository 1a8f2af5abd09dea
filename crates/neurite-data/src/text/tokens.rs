//! Splitting a standardized text into tokens.

use std::fmt;
use std::sync::Arc;

/// A user's split function: the tokens of one standardized text.
pub type SplitFn = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// How [`crate::text::TextVectorization`] cuts a standardized text into tokens, as Keras'
/// `split` argument.
///
/// ```
/// use neurite_data::text::TokenSplit;
/// assert_eq!(TokenSplit::Whitespace.tokens(" a  b\tc\n"), ["a", "b", "c"]);
/// assert_eq!(TokenSplit::Character.tokens("床前 月"), ["床", "前", " ", "月"]);
/// assert_eq!(TokenSplit::None.tokens("a b"), ["a b"]);
/// ```
#[derive(Clone, Default)]
pub enum TokenSplit {
    /// Runs of ASCII whitespace (space, `\t`, `\n`, `\x0B`, `\x0C`, `\r`) separate tokens;
    /// leading and trailing whitespace make none (Keras' default, `"whitespace"`, which
    /// splits as TensorFlow does: `\u{3000}` or `\u{a0}` do not separate tokens).
    #[default]
    Whitespace,
    /// Every Unicode scalar value is a token, whitespace included (`"character"`): the right
    /// choice for Chinese or Japanese text, and for character-level language models.
    Character,
    /// The whole text is one token (Keras' `None`); an empty text makes none.
    None,
    /// A function of the user's (given again at load, as [`crate::text::Standardize::Custom`]).
    Custom(SplitFn),
}

/// TensorFlow's whitespace (C `isspace`): note `\x0B`, which `char::is_ascii_whitespace` leaves out.
fn is_tf_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

impl TokenSplit {
    /// A [`TokenSplit::Custom`] from a closure.
    ///
    /// ```
    /// let s = neurite_data::text::TokenSplit::custom(|t| t.split(',').map(String::from).collect());
    /// assert_eq!(s.tokens("a,b"), ["a", "b"]);
    /// ```
    pub fn custom(f: impl Fn(&str) -> Vec<String> + Send + Sync + 'static) -> Self {
        TokenSplit::Custom(Arc::new(f))
    }

    /// The tokens of `text`, in order.
    ///
    /// ```
    /// assert_eq!(neurite_data::text::TokenSplit::Whitespace.tokens("to be"), ["to", "be"]);
    /// ```
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_token(text, |t| out.push(t.to_string()));
        out
    }

    /// Calls `f` on each token of `text` without allocating it (except for custom splits).
    pub(crate) fn for_each_token(&self, text: &str, mut f: impl FnMut(&str)) {
        match self {
            TokenSplit::Whitespace => text.split(is_tf_whitespace).filter(|t| !t.is_empty()).for_each(f),
            TokenSplit::Character => {
                let mut buf = [0u8; 4];
                text.chars().for_each(|c| f(c.encode_utf8(&mut buf)))
            }
            TokenSplit::None => {
                if !text.is_empty() {
                    f(text)
                }
            }
            TokenSplit::Custom(split) => split(text).iter().for_each(|t| f(t)),
        }
    }

    /// Keras' name of the mode (`"whitespace"`, `"character"`, `"none"`, `"custom"`), as saved.
    ///
    /// ```
    /// assert_eq!(neurite_data::text::TokenSplit::Character.name(), "character");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            TokenSplit::Whitespace => "whitespace",
            TokenSplit::Character => "character",
            TokenSplit::None => "none",
            TokenSplit::Custom(_) => "custom",
        }
    }

    /// The built-in mode named `name`; `None` for an unknown name and for `"custom"`.
    ///
    /// ```
    /// use neurite_data::text::TokenSplit;
    /// assert_eq!(TokenSplit::from_name("whitespace").map(|s| s.name()), Some("whitespace"));
    /// assert!(TokenSplit::from_name("words").is_none());
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "whitespace" => TokenSplit::Whitespace,
            "character" => TokenSplit::Character,
            "none" => TokenSplit::None,
            _ => return None,
        })
    }
}

impl fmt::Debug for TokenSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn characters_concatenate_back_to_the_text(text in "\\PC{0,40}") {
            let tokens = TokenSplit::Character.tokens(&text);
            prop_assert_eq!(tokens.concat(), text.clone());
            prop_assert!(tokens.iter().all(|t| t.chars().count() == 1));
        }

        #[test]
        fn whitespace_tokens_are_the_non_space_runs(words in proptest::collection::vec("[a-zé床\u{3000}]{1,5}", 0..8), seps in proptest::collection::vec("[ \t\n\x0B\x0C\r]{1,3}", 9)) {
            let mut text = seps[0].clone();
            for (w, s) in words.iter().zip(&seps[1..]) {
                text.push_str(w);
                text.push_str(s);
            }
            prop_assert_eq!(TokenSplit::Whitespace.tokens(&text), words);
        }
    }

    #[test]
    fn splits_as_tensorflow_does() {
        // tf.strings.split(["a\x0bb\u3000c\xa0d  e\x1cf\x85g"]) (TF 2.21):
        // [b"a", b"b\u3000c\xa0d", b"e\x1cf\x85g"].
        assert_eq!(
            TokenSplit::Whitespace.tokens("a\x0Bb\u{3000}c\u{a0}d  e\x1Cf\u{85}g"),
            ["a", "b\u{3000}c\u{a0}d", "e\x1Cf\u{85}g"]
        );
        assert!(TokenSplit::None.tokens("").is_empty());
    }
}
