//! Keras' names for things: the snake-case class names under which
//! `model.weights.h5` stores each layer (`layers/dense`, `layers/dense_1`,
//! `layers/conv2d`), made unique by a counter as `saving_lib` does.

use std::collections::HashMap;

/// Keras' `naming.to_snake_case`: `"Conv2D"` → `"conv2d"`, `"BatchNormalization"` →
/// `"batch_normalization"`, `"LSTM"` → `"lstm"`, `"PReLU"` → `"p_re_lu"`.
///
/// ```
/// use neurite::interop::keras::to_snake_case;
/// assert_eq!(to_snake_case("Conv2D"), "conv2d");
/// assert_eq!(to_snake_case("BatchNormalization"), "batch_normalization");
/// assert_eq!(to_snake_case("SimpleRNN"), "simple_rnn");
/// assert_eq!(to_snake_case("PReLU"), "p_re_lu");
/// assert_eq!(to_snake_case("MultiHeadAttention"), "multi_head_attention");
/// ```
pub fn to_snake_case(name: &str) -> String {
    // re.sub(r"\W+", "", name)
    let chars: Vec<char> = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", ...): matches do not overlap, so
    // after one the scan resumes past its run of lower-case letters.
    let mut first = Vec::with_capacity(chars.len() + 8);
    let mut p = 0;
    while p < chars.len() {
        first.push(chars[p]);
        let matches = chars.get(p + 1).is_some_and(|c| c.is_ascii_uppercase())
            && chars.get(p + 2).is_some_and(|c| c.is_ascii_lowercase());
        if !matches {
            p += 1;
            continue;
        }
        first.push('_');
        first.push(chars[p + 1]);
        p += 2;
        while p < chars.len() && chars[p].is_ascii_lowercase() {
            first.push(chars[p]);
            p += 1;
        }
    }
    // re.sub("([a-z])([A-Z])", r"\1_\2", ...).lower()
    let mut out = String::with_capacity(first.len() + 8);
    for (j, &c) in first.iter().enumerate() {
        if j > 0 && c.is_ascii_uppercase() && first[j - 1].is_ascii_lowercase() {
            out.push('_');
        }
        out.push(c);
    }
    out.to_lowercase()
}

/// Keras' `_get_unique_name`: the first `dense` is `dense`, the next `dense_1`, `dense_2`...
#[derive(Default)]
pub(crate) struct UniqueNames {
    used: HashMap<String, usize>,
}

impl UniqueNames {
    /// The next unique name for `base`.
    pub(crate) fn next(&mut self, base: &str) -> String {
        match self.used.get_mut(base) {
            Some(n) => {
                *n += 1;
                format!("{base}_{n}")
            }
            None => {
                self.used.insert(base.to_string(), 0);
                base.to_string()
            }
        }
    }
}
