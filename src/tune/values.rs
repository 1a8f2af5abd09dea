//! `Value` and `HyperParameters`: the values of one trial, handed to the
//! user's model-building closure, with typed getters whose errors name the
//! parameter.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One hyperparameter value: what a [`Param`](super::Param) yields.
///
/// ```
/// use neurite::tune::Value;
/// assert_eq!(Value::from("adam").to_string(), "adam");
/// assert_eq!(Value::from(64).to_string(), "64");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean choice.
    Bool(bool),
    /// An integer (an int range, or an integer choice).
    Int(i64),
    /// A float (a float range, or a float choice).
    Float(f64),
    /// A string choice (an optimizer's name, an activation...).
    Str(String),
}

impl Value {
    /// What kind of value this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
        }
    }
}

/// Floats as a table shows them: 4 significant decimals, scientific
/// notation for very small or large magnitudes.
pub(crate) fn format_float(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0');
        s.strip_suffix('.')
            .map(|s| format!("{s}.0"))
            .unwrap_or_else(|| s.to_string())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", format_float(*x)),
            Value::Str(s) => write!(f, "{s}"),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

/// The hyperparameters of one trial (keras-tuner's `HyperParameters`):
/// the value of every parameter of the search space, and the seed to
/// build the model with.
///
/// ```
/// use neurite::tune::{HyperParameters, Value};
/// let hp = HyperParameters::new(7, [("units".to_string(), Value::Int(64)), ("optimizer".to_string(), Value::from("adam"))]);
/// assert_eq!(hp.get_int("units")?, 64);
/// assert_eq!(hp.get_str("optimizer")?, "adam");
/// assert_eq!(hp.seed(), 7);
/// // A typo or a wrong type is an error naming the parameter.
/// assert!(hp.get_int("unit").unwrap_err().to_string().contains("'unit'"));
/// assert!(hp.get_float("optimizer").unwrap_err().to_string().contains("'optimizer' is a string"));
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HyperParameters {
    values: BTreeMap<String, Value>,
    seed: u64,
}

impl HyperParameters {
    /// Values by name, and the seed the model should be built with.
    pub fn new(seed: u64, values: impl IntoIterator<Item = (String, Value)>) -> Self {
        HyperParameters {
            values: values.into_iter().collect(),
            seed,
        }
    }

    /// The seed for this trial's model (derived from the search seed and
    /// the trial; per fold in cross-validation): pass it to
    /// [`Model::seed`](crate::Model::seed) so the search is reproducible.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The same values with another seed.
    pub(crate) fn with_seed(&self, seed: u64) -> Self {
        HyperParameters {
            values: self.values.clone(),
            seed,
        }
    }

    /// Every value, by name.
    pub fn values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    /// The value of `name`, if the space has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    fn lookup(&self, name: &str) -> Result<&Value> {
        self.values.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.values.keys().map(String::as_str).collect();
            Error::Input(format!(
                "tune: no hyperparameter '{name}' in this trial; the search space has: {}",
                if known.is_empty() {
                    "nothing".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    fn wrong(name: &str, wanted: &str, found: &Value) -> Error {
        Error::Input(format!(
            "tune: hyperparameter '{name}' is {} ({found}), not {wanted}",
            found.kind()
        ))
    }

    /// An int parameter's value.
    pub fn get_int(&self, name: &str) -> Result<i64> {
        match self.lookup(name)? {
            Value::Int(i) => Ok(*i),
            other => Err(Self::wrong(name, "an int", other)),
        }
    }

    /// An int parameter's value as a count (units, filters, batch size):
    /// an error naming the parameter if it is negative.
    ///
    /// ```
    /// use neurite::tune::{HyperParameters, Value};
    /// let hp = HyperParameters::new(0, [("units".to_string(), Value::Int(-3))]);
    /// assert!(hp.get_usize("units").unwrap_err().to_string().contains("'units'"));
    /// ```
    pub fn get_usize(&self, name: &str) -> Result<usize> {
        let i = self.get_int(name)?;
        usize::try_from(i).map_err(|_| {
            Error::Input(format!(
                "tune: hyperparameter '{name}' is {i}, expected a count >= 0"
            ))
        })
    }

    /// A float parameter's value (an int is accepted and converted).
    pub fn get_float(&self, name: &str) -> Result<f64> {
        match self.lookup(name)? {
            Value::Float(x) => Ok(*x),
            Value::Int(i) => Ok(*i as f64),
            other => Err(Self::wrong(name, "a float", other)),
        }
    }

    /// A float parameter's value as `f32` (learning rates, dropout rates).
    pub fn get_f32(&self, name: &str) -> Result<f32> {
        Ok(self.get_float(name)? as f32)
    }

    /// A string choice's value.
    pub fn get_str(&self, name: &str) -> Result<&str> {
        match self.lookup(name)? {
            Value::Str(s) => Ok(s),
            other => Err(Self::wrong(name, "a string", other)),
        }
    }

    /// A boolean choice's value.
    pub fn get_bool(&self, name: &str) -> Result<bool> {
        match self.lookup(name)? {
            Value::Bool(b) => Ok(*b),
            other => Err(Self::wrong(name, "a bool", other)),
        }
    }
}

impl fmt::Display for HyperParameters {
    /// `name=value` pairs, comma separated, in name order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}", parts.join(", "))
    }
}
