//! Saving and loading a [`TextVectorization`]: its config and vocabulary as one JSON file.

use super::standardize::Standardize;
use super::tokens::TokenSplit;
use super::vectorization::TextVectorization;
use super::vocabulary::Vocabulary;
use crate::error::{DataError, Result};
use serde_json::{json, Value};
use std::path::Path;

/// The largest vectorizer file [`TextVectorization::load`] reads: 1 GiB.
const MAX_FILE_BYTES: u64 = 1 << 30;

impl TextVectorization {
    /// The config and vocabulary as JSON, Keras' names:
    /// `{"class_name": "TextVectorization", "config": {"max_tokens", "standardize", "split",
    /// "output_mode": "int", "output_sequence_length"}, "vocabulary": [...]}`.
    ///
    /// ```
    /// let mut tv = neurite_data::text::TextVectorization::new().max_tokens(10);
    /// tv.adapt(&["a b"])?;
    /// let json = tv.to_json();
    /// assert_eq!(json["config"]["max_tokens"], 10);
    /// assert_eq!(json["vocabulary"][2], "b");
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn to_json(&self) -> Value {
        json!({
            "class_name": "TextVectorization",
            "config": {
                "max_tokens": self.max_tokens,
                "standardize": self.standardize.name(),
                "split": self.split.name(),
                "output_mode": "int",
                "output_sequence_length": self.output_sequence_length,
            },
            "vocabulary": self.vocabulary.as_ref().map(|v| v.tokens().to_vec()),
        })
    }

    /// The vectorizer [`TextVectorization::to_json`] describes. A config that names a custom
    /// standardization or split needs it given (`Some`); `source` names the JSON's origin in
    /// errors, which also name the field that is wrong.
    ///
    /// ```
    /// use neurite_data::text::TextVectorization;
    /// let mut tv = TextVectorization::new().output_sequence_length(3);
    /// tv.set_vocabulary(["x"])?;
    /// let again = TextVectorization::from_json(&tv.to_json(), None, None, "memory")?;
    /// assert_eq!(again.call(&["x"])?, tv.call(&["x"])?);
    /// let mut bad = tv.to_json();
    /// bad["config"]["split"] = "words".into();
    /// assert!(TextVectorization::from_json(&bad, None, None, "memory").unwrap_err().to_string().contains("split"));
    /// # Ok::<(), neurite_data::DataError>(())
    /// ```
    pub fn from_json(
        value: &Value,
        standardize: Option<Standardize>,
        split: Option<TokenSplit>,
        source: impl AsRef<Path>,
    ) -> Result<Self> {
        let source = source.as_ref();
        let bad = |field: &str, why: String| DataError::format(source, format!("field \"{field}\": {why}"));
        if value.get("class_name").and_then(Value::as_str) != Some("TextVectorization") {
            return Err(bad(
                "class_name",
                format!(
                    "expected \"TextVectorization\", found {}",
                    short(value.get("class_name"))
                ),
            ));
        }
        let config = value
            .get("config")
            .filter(|c| c.is_object())
            .ok_or_else(|| bad("config", "missing or not an object".into()))?;
        let optional_count = |field: &str| -> Result<Option<usize>> {
            match config.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        bad(
                            &format!("config.{field}"),
                            format!("expected a count or null, found {}", short(Some(v))),
                        )
                    }),
            }
        };
        let mode = config.get("output_mode").and_then(Value::as_str);
        if mode != Some("int") {
            return Err(bad(
                "config.output_mode",
                format!(
                    "only \"int\" is supported, found {}",
                    short(config.get("output_mode"))
                ),
            ));
        }
        let name_of = |field: &str| -> Result<&str> {
            config.get(field).and_then(Value::as_str).ok_or_else(|| {
                bad(
                    &format!("config.{field}"),
                    format!("expected a name, found {}", short(config.get(field))),
                )
            })
        };
        let standardize = match (name_of("standardize")?, standardize) {
            (_, Some(given)) => given,
            ("custom", None) => {
                return Err(bad("config.standardize", "the file was saved with a custom function, which it cannot hold: give it again (TextVectorization::load_with)".into()))
            }
            (name, None) => Standardize::from_name(name).ok_or_else(|| {
                bad("config.standardize", format!("unknown mode {name:?}; expected lower_and_strip_punctuation, lower, strip_punctuation, none or custom"))
            })?,
        };
        let split = match (name_of("split")?, split) {
            (_, Some(given)) => given,
            ("custom", None) => {
                return Err(bad("config.split", "the file was saved with a custom function, which it cannot hold: give it again (TextVectorization::load_with)".into()))
            }
            (name, None) => TokenSplit::from_name(name).ok_or_else(|| {
                bad("config.split", format!("unknown mode {name:?}; expected whitespace, character, none or custom"))
            })?,
        };
        let mut tv = TextVectorization {
            max_tokens: optional_count("max_tokens")?,
            output_sequence_length: optional_count("output_sequence_length")?,
            standardize,
            split,
            vocabulary: None,
        };
        tv.check_config_for(source)?;
        tv.vocabulary = match value.get("vocabulary") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let tokens = items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        t.as_str().map(String::from).ok_or_else(|| {
                            bad(
                                &format!("vocabulary[{i}]"),
                                format!("expected a string, found {}", short(Some(t))),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Some(Vocabulary::from_user(tokens).map_err(|e| bad("vocabulary", e.to_string()))?)
            }
            Some(other) => {
                return Err(bad(
                    "vocabulary",
                    format!("expected a list of strings, found {}", short(Some(other))),
                ))
            }
        };
        Ok(tv)
    }

    fn check_config_for(&self, source: &Path) -> Result<()> {
        if let Some(max) = self.max_tokens {
            if max < 2 {
                return Err(DataError::format(
                    source,
                    format!("field \"config.max_tokens\": must be at least 2, found {max}"),
                ));
            }
        }
        if self.output_sequence_length == Some(0) {
            return Err(DataError::format(
                source,
                "field \"config.output_sequence_length\": must be at least 1, found 0",
            ));
        }
        Ok(())
    }

    /// Writes [`TextVectorization::to_json`] to `path`, atomically (a crash leaves the old file
    /// or the new one, never half of one).
    ///
    /// ```
    /// use neurite_data::text::TextVectorization;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("vectorizer.json");
    /// let mut tv = TextVectorization::new().output_sequence_length(4);
    /// tv.adapt(&["床前明月光"])?;
    /// tv.save(&path)?;
    /// let again = TextVectorization::load(&path)?;
    /// assert_eq!(again.vocabulary(), tv.vocabulary());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.to_json())
            .map_err(|e| DataError::format(path.as_ref(), format!("cannot encode as JSON: {e}")))?;
        crate::io::write_atomic(path.as_ref(), &bytes)
    }

    /// Reads a vectorizer [`TextVectorization::save`] wrote. Errors name the file and the field.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("v.json");
    /// std::fs::write(&path, b"{\"class_name\": \"TextVectorization\"}")?;
    /// let err = neurite_data::text::TextVectorization::load(&path).unwrap_err();
    /// assert!(err.to_string().contains("v.json") && err.to_string().contains("config"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(path, None, None)
    }

    /// [`TextVectorization::load`] for a vectorizer saved with a custom standardization or
    /// split: give the functions again (`None` keeps the saved built-in mode).
    ///
    /// ```
    /// use neurite_data::text::{Standardize, TextVectorization};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("v.json");
    /// let lower = || Standardize::custom(|s| s.to_lowercase());
    /// let mut tv = TextVectorization::new().standardize(lower());
    /// tv.adapt(&["ÉTÉ"])?;
    /// tv.save(&path)?;
    /// assert!(TextVectorization::load(&path).is_err()); // the function is not in the file
    /// let again = TextVectorization::load_with(&path, Some(lower()), None)?;
    /// assert_eq!(again.encode("été")?, [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_with(
        path: impl AsRef<Path>,
        standardize: Option<Standardize>,
        split: Option<TokenSplit>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let len = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?.len();
        if len > MAX_FILE_BYTES {
            return Err(DataError::format(
                path,
                format!("{len} bytes is more than the {MAX_FILE_BYTES} a vectorizer file may hold"),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| DataError::format(path, format!("not valid JSON: {e}")))?;
        Self::from_json(&value, standardize, split, path)
    }
}

/// A JSON value cut short for an error message.
fn short(value: Option<&Value>) -> String {
    match value {
        None => "nothing".into(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 60 {
                format!("{}...", text.chars().take(60).collect::<String>())
            } else {
                text
            }
        }
    }
}
