//! Standardization: what happens to a text before it is split into tokens.

use std::fmt;
use std::sync::Arc;

/// A user's standardization function (e.g. Unicode lowercasing, or removing markup).
pub type StandardizeFn = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// How [`crate::text::TextVectorization`] standardizes each text before splitting it, as Keras'
/// `standardize` argument.
///
/// Keras' built-in modes change only ASCII characters: `"ÉTÉ"` lowercases to `"ÉtÉ"`, and only
/// the 32 ASCII punctuation characters (`!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`) are stripped, so
/// a vocabulary adapted here equals the one Keras adapts on the same texts. Use
/// [`Standardize::Custom`] for anything else, e.g. full Unicode lowercasing.
///
/// ```
/// use neurite_data::text::Standardize;
/// assert_eq!(Standardize::LowerAndStripPunctuation.apply("Hello, World! It's ÉTÉ"), "hello world its ÉtÉ");
/// assert_eq!(Standardize::Lower.apply("A.B"), "a.b");
/// let unicode = Standardize::custom(|s| s.to_lowercase());
/// assert_eq!(unicode.apply("ÉTÉ"), "été");
/// ```
#[derive(Clone, Default)]
pub enum Standardize {
    /// ASCII-lowercase, then strip ASCII punctuation (Keras' default,
    /// `"lower_and_strip_punctuation"`).
    #[default]
    LowerAndStripPunctuation,
    /// ASCII-lowercase only (`"lower"`).
    Lower,
    /// Strip ASCII punctuation only (`"strip_punctuation"`).
    StripPunctuation,
    /// Leave the text as it is (Keras' `None`).
    None,
    /// A function of the user's. A saved vectorizer records only that there was one: it is
    /// given again at load ([`crate::text::TextVectorization::load_with`]).
    Custom(StandardizeFn),
}

impl Standardize {
    /// A [`Standardize::Custom`] from a closure.
    ///
    /// ```
    /// let s = neurite_data::text::Standardize::custom(|t| t.replace("<br>", " "));
    /// assert_eq!(s.apply("a<br>b"), "a b");
    /// ```
    pub fn custom(f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Standardize::Custom(Arc::new(f))
    }

    /// `text` standardized.
    ///
    /// ```
    /// assert_eq!(neurite_data::text::Standardize::StripPunctuation.apply("Don't!"), "Dont");
    /// ```
    pub fn apply(&self, text: &str) -> String {
        match self {
            Standardize::LowerAndStripPunctuation => text
                .chars()
                .filter(|c| !c.is_ascii_punctuation())
                .map(|c| c.to_ascii_lowercase())
                .collect(),
            Standardize::Lower => text.to_ascii_lowercase(),
            Standardize::StripPunctuation => text.chars().filter(|c| !c.is_ascii_punctuation()).collect(),
            Standardize::None => text.to_string(),
            Standardize::Custom(f) => f(text),
        }
    }

    /// Keras' name of the mode (`"lower_and_strip_punctuation"`, `"lower"`,
    /// `"strip_punctuation"`, `"none"`, `"custom"`), as saved.
    ///
    /// ```
    /// assert_eq!(neurite_data::text::Standardize::default().name(), "lower_and_strip_punctuation");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Standardize::LowerAndStripPunctuation => "lower_and_strip_punctuation",
            Standardize::Lower => "lower",
            Standardize::StripPunctuation => "strip_punctuation",
            Standardize::None => "none",
            Standardize::Custom(_) => "custom",
        }
    }

    /// The built-in mode named `name` (see [`Standardize::name`]); `None` for an unknown name
    /// and for `"custom"`, which no name can rebuild.
    ///
    /// ```
    /// use neurite_data::text::Standardize;
    /// assert_eq!(Standardize::from_name("lower").map(|s| s.name()), Some("lower"));
    /// assert!(Standardize::from_name("custom").is_none());
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "lower_and_strip_punctuation" => Standardize::LowerAndStripPunctuation,
            "lower" => Standardize::Lower,
            "strip_punctuation" => Standardize::StripPunctuation,
            "none" => Standardize::None,
            _ => return None,
        })
    }
}

impl fmt::Debug for Standardize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Keras' strip regex, written out: `[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~']`.
    const KERAS_STRIPPED: &str = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'";

    proptest! {
        #[test]
        fn matches_the_keras_rules(text in "\\PC{0,40}") {
            let expected: String = text
                .chars()
                .filter(|c| !KERAS_STRIPPED.contains(*c))
                .map(|c| if c.is_ascii_uppercase() { ((c as u8) + 32) as char } else { c })
                .collect();
            prop_assert_eq!(Standardize::LowerAndStripPunctuation.apply(&text), expected);
        }

        #[test]
        fn names_round_trip(i in 0usize..4) {
            let modes = [Standardize::LowerAndStripPunctuation, Standardize::Lower, Standardize::StripPunctuation, Standardize::None];
            let again = Standardize::from_name(modes[i].name()).unwrap();
            prop_assert_eq!(again.name(), modes[i].name());
        }
    }

    #[test]
    fn non_ascii_letters_keep_their_case_as_in_keras() {
        // Keras 3.15: TextVectorization().adapt(["Hello-World it's  ok\tÉTÉ A.B"]) learns
        // ["ÉtÉ", "ok", "its", "helloworld", "ab"].
        assert_eq!(
            Standardize::default().apply("Hello-World it's  ok\tÉTÉ A.B"),
            "helloworld its  ok\tÉtÉ ab"
        );
    }
}
