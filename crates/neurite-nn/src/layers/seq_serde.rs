//! Serde helpers of the 1-d layers' Keras configs: an integer that Keras
//! writes as a one-element list (`kernel_size: [3]`), and Conv1D's padding
//! strings `"valid"` / `"same"` / `"causal"`.

/// An integer written as `[n]` and read from `n` or `[n]`.
pub(crate) mod one_int {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrList {
        Int(usize),
        List(Vec<usize>),
    }

    pub fn serialize<S: Serializer>(v: &usize, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq([*v])
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        match IntOrList::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a non-negative integer or a list of one"))?
        {
            IntOrList::Int(n) => Ok(n),
            IntOrList::List(l) if l.len() == 1 => Ok(l[0]),
            IntOrList::List(l) => Err(serde::de::Error::custom(format!(
                "expected one integer (a 1-d layer), found a list of {}",
                l.len()
            ))),
        }
    }
}

/// An optional [`one_int`] (`null` stays `None`).
pub(crate) mod opt_one_int {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.collect_seq([*n]),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::one_int")] usize);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// [`neurite_autograd::ops::Conv1dPadding`] as Keras' strings.
pub(crate) mod conv1d_padding_serde {
    use neurite_autograd::ops::Conv1dPadding;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Conv1dPadding, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match p {
            Conv1dPadding::Valid => "valid",
            Conv1dPadding::Same => "same",
            Conv1dPadding::Causal => "causal",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Conv1dPadding, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_lowercase().as_str() {
            "valid" => Ok(Conv1dPadding::Valid),
            "same" => Ok(Conv1dPadding::Same),
            "causal" => Ok(Conv1dPadding::Causal),
            other => Err(serde::de::Error::custom(format!(
                "unknown padding {other:?}; expected \"valid\", \"same\" or \"causal\""
            ))),
        }
    }
}
