//! What `compile` takes for models with several outputs: a loss per output
//! ([`Losses`], with Keras' `loss_weights`) and metrics per output
//! ([`Metrics`]), each given for all outputs, by order or by output name.

use crate::error::{Error, Result};
use crate::metric::Metric;
use neurite_nn::losses::Loss;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// One value for every output, one per output in order, or values by output
/// name (Keras passes a single object, a list or a dict).
///
/// ```
/// use neurite::PerOutput;
/// let w: PerOutput<f32> = PerOutput::ByName(vec![("class".into(), 1.0), ("size".into(), 0.2)]);
/// assert_eq!(w.resolve(&["class".into(), "size".into()], "loss_weights")?, vec![Some(1.0), Some(0.2)]);
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum PerOutput<T> {
    /// The same value for every output.
    All(T),
    /// One value per output, in the model's output order.
    ByOrder(Vec<T>),
    /// Values by output name ([`crate::Model::output_names`]); outputs not named get none.
    ByName(Vec<(String, T)>),
}

impl<T: Clone> PerOutput<T> {
    /// The value of each output of a model whose outputs are `names` (for a
    /// network without output names, pass one empty name: by-name values are
    /// then refused). `None` for an output a by-name list leaves out. Errors
    /// name `what` (`loss`, `loss_weights`, `metrics`), the outputs, and the
    /// count or name that does not fit.
    ///
    /// ```
    /// use neurite::PerOutput;
    /// let names = ["a".to_string(), "b".to_string()];
    /// assert_eq!(PerOutput::All(3).resolve(&names, "x")?, vec![Some(3), Some(3)]);
    /// assert!(PerOutput::ByOrder(vec![1]).resolve(&names, "x").unwrap_err().to_string().contains("1 value"));
    /// let e = PerOutput::ByName(vec![("c".into(), 1)]).resolve(&names, "loss").unwrap_err().to_string();
    /// assert!(e.contains("\"c\"") && e.contains("[\"a\", \"b\"]"), "{e}");
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn resolve(&self, names: &[String], what: &str) -> Result<Vec<Option<T>>> {
        match self {
            PerOutput::All(v) => Ok(vec![Some(v.clone()); names.len()]),
            PerOutput::ByOrder(values) => {
                if values.len() != names.len() {
                    return Err(Error::Model(format!(
                        "compile: {what} gives {} value(s) by order, but the model has {} output(s) {names:?}",
                        values.len(),
                        names.len()
                    )));
                }
                Ok(values.iter().cloned().map(Some).collect())
            }
            PerOutput::ByName(pairs) => {
                if names.iter().any(String::is_empty) {
                    return Err(Error::Model(format!(
                        "compile: {what} is given by output name, but this model's output has no name (only \
                         functional models name their outputs): give it for all outputs or by order"
                    )));
                }
                let mut seen = HashSet::new();
                for (name, _) in pairs {
                    if !seen.insert(name.as_str()) {
                        return Err(Error::Model(format!(
                            "compile: {what} names output {name:?} twice"
                        )));
                    }
                    if !names.contains(name) {
                        return Err(Error::Model(format!(
                            "compile: {what} names output {name:?}, which the model does not have (its outputs: {names:?})"
                        )));
                    }
                }
                Ok(names
                    .iter()
                    .map(|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
                    .collect())
            }
        }
    }
}

/// The losses given to `compile`: one [`Loss`] for every output, one per
/// output (by order or name), and optionally Keras' `loss_weights` (the
/// total loss is `Σ weight_i · loss_i` plus the layers' regularization
/// penalties; a weight left out is 1). A plain `Loss` converts into
/// `Losses`, so `compile(optimizer, Loss::MeanSquaredError, &[])` is
/// unchanged.
///
/// ```
/// use neurite::prelude::*;
/// let one: Losses = Loss::MeanSquaredError.into();
/// let by_order = Losses::from([Loss::sparse_categorical_crossentropy(), Loss::MeanSquaredError]);
/// let by_name = Losses::from([("class", Loss::sparse_categorical_crossentropy()), ("size", Loss::MeanAbsoluteError)])
///     .loss_weights([("size", 0.1)]);
/// assert_ne!(one, by_order);
/// assert_eq!(by_name.weights(), Some(&neurite::PerOutput::ByName(vec![("size".into(), 0.1)])));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Losses {
    losses: PerOutput<Loss>,
    weights: Option<PerOutput<f32>>,
}

impl Losses {
    /// Losses from a [`PerOutput`] of losses, without weights.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let l = Losses::new(neurite::PerOutput::ByOrder(vec![Loss::MeanSquaredError; 2]));
    /// assert!(l.weights().is_none());
    /// ```
    pub fn new(losses: PerOutput<Loss>) -> Self {
        Losses {
            losses,
            weights: None,
        }
    }

    /// Keras' `loss_weights`: a weight per output (by order, `[1.0, 0.5]`,
    /// or by name, `[("size", 0.5)]`); outputs left out weigh 1.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let l = Losses::from(Loss::MeanSquaredError).loss_weights([2.0, 0.5]);
    /// assert_eq!(l.weights(), Some(&neurite::PerOutput::ByOrder(vec![2.0, 0.5])));
    /// ```
    pub fn loss_weights(mut self, weights: impl Into<LossWeights>) -> Self {
        self.weights = Some(weights.into().0);
        self
    }

    /// The losses as given.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// assert_eq!(Losses::from(Loss::Hinge).losses(), &neurite::PerOutput::All(Loss::Hinge));
    /// ```
    pub fn losses(&self) -> &PerOutput<Loss> {
        &self.losses
    }

    /// The loss weights as given, if any.
    ///
    /// ```
    /// assert!(neurite::Losses::from(neurite::nn::losses::Loss::Hinge).weights().is_none());
    /// ```
    pub fn weights(&self) -> Option<&PerOutput<f32>> {
        self.weights.as_ref()
    }

    /// The `compile.loss` and `compile.loss_weights` values of `config.json`:
    /// a loss object for all outputs (as before multi-output models), a
    /// list by order, an object by output name.
    pub(crate) fn to_json(&self) -> (Value, Value) {
        let loss = per_output_json(&self.losses, |l| json!(l));
        let weights = self
            .weights
            .as_ref()
            .map_or(Value::Null, |w| per_output_json(w, |v| json!(v)));
        (loss, weights)
    }

    /// What [`Losses::to_json`] wrote; errors name the field.
    pub(crate) fn from_json(loss: &Value, weights: Option<&Value>) -> std::result::Result<Self, String> {
        let one = |v: &Value, at: &str| {
            serde_json::from_value::<Loss>(v.clone()).map_err(|e| format!("compile.loss{at}: {e}"))
        };
        let losses = match loss {
            Value::Object(m) if m.get("name").is_some_and(Value::is_string) => PerOutput::All(one(loss, "")?),
            other => per_output_from_json(other, "compile.loss", |v, at| one(v, at))?,
        };
        let weights = match weights {
            None | Some(Value::Null) => None,
            Some(w) => Some(per_output_from_json(w, "compile.loss_weights", |v, at| {
                v.as_f64()
                    .map(|f| f as f32)
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| format!("compile.loss_weights{at}: expected a finite number, found {v}"))
            })?),
        };
        Ok(Losses { losses, weights })
    }
}

/// `json` of one value, a list by order, an object by name.
fn per_output_json<T>(p: &PerOutput<T>, json: impl Fn(&T) -> Value) -> Value {
    match p {
        PerOutput::All(v) => json(v),
        PerOutput::ByOrder(vs) => Value::Array(vs.iter().map(&json).collect()),
        PerOutput::ByName(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// A list (by order), an object (by name) or one value (all outputs).
fn per_output_from_json<T>(
    v: &Value,
    field: &str,
    one: impl Fn(&Value, &str) -> std::result::Result<T, String>,
) -> std::result::Result<PerOutput<T>, String> {
    Ok(match v {
        Value::Array(items) => PerOutput::ByOrder(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| one(x, &format!("[{i}]")))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Value::Object(m) => PerOutput::ByName(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), one(x, &format!(".{k}"))?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        other => PerOutput::All(one(other, "").map_err(|e| format!("{e} (in {field})"))?),
    })
}

impl From<Loss> for Losses {
    fn from(loss: Loss) -> Self {
        Losses::new(PerOutput::All(loss))
    }
}

impl<const N: usize> From<[Loss; N]> for Losses {
    fn from(losses: [Loss; N]) -> Self {
        Losses::new(PerOutput::ByOrder(losses.to_vec()))
    }
}

impl From<Vec<Loss>> for Losses {
    fn from(losses: Vec<Loss>) -> Self {
        Losses::new(PerOutput::ByOrder(losses))
    }
}

impl<const N: usize> From<[(&str, Loss); N]> for Losses {
    fn from(pairs: [(&str, Loss); N]) -> Self {
        Losses::new(PerOutput::ByName(
            pairs.iter().map(|(k, l)| (k.to_string(), *l)).collect(),
        ))
    }
}

impl From<Vec<(&str, Loss)>> for Losses {
    fn from(pairs: Vec<(&str, Loss)>) -> Self {
        Losses::new(PerOutput::ByName(
            pairs.into_iter().map(|(k, l)| (k.to_string(), l)).collect(),
        ))
    }
}

impl From<Vec<(String, Loss)>> for Losses {
    fn from(pairs: Vec<(String, Loss)>) -> Self {
        Losses::new(PerOutput::ByName(pairs))
    }
}

/// Keras' `loss_weights` ([`Losses::loss_weights`]): by order (`[1.0, 0.5]`,
/// `vec![..]`) or by output name (`[("size", 0.5)]`).
///
/// ```
/// let w: neurite::LossWeights = [("size", 0.5)].into();
/// let w2: neurite::LossWeights = vec![1.0, 0.5].into();
/// # let _ = (w, w2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LossWeights(pub PerOutput<f32>);

impl<const N: usize> From<[f32; N]> for LossWeights {
    fn from(w: [f32; N]) -> Self {
        LossWeights(PerOutput::ByOrder(w.to_vec()))
    }
}

impl From<Vec<f32>> for LossWeights {
    fn from(w: Vec<f32>) -> Self {
        LossWeights(PerOutput::ByOrder(w))
    }
}

impl<const N: usize> From<[(&str, f32); N]> for LossWeights {
    fn from(w: [(&str, f32); N]) -> Self {
        LossWeights(PerOutput::ByName(
            w.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ))
    }
}

impl From<Vec<(&str, f32)>> for LossWeights {
    fn from(w: Vec<(&str, f32)>) -> Self {
        LossWeights(PerOutput::ByName(
            w.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ))
    }
}

/// The metrics given to `compile`: the same list for every output (`&[Metric::Accuracy]`,
/// unchanged from single-output models), one list per output by order
/// (`[vec![Metric::Accuracy], vec![Metric::Mae]]`) or by output name
/// (`[("class", vec![Metric::Accuracy])]`; outputs left out get none).
///
/// ```
/// use neurite::prelude::*;
/// let all: Metrics = (&[Metric::Accuracy]).into();
/// let none: Metrics = (&[]).into();
/// let by_name: Metrics = [("class", vec![Metric::Accuracy]), ("size", vec![Metric::Mae, Metric::Mse])].into();
/// assert_ne!(all, none);
/// # let _ = by_name;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics(pub PerOutput<Vec<Metric>>);

impl Metrics {
    /// `compile.metrics` of `config.json`: a list of metrics for all outputs
    /// (as before multi-output models), a list of lists by order, an object by name.
    pub(crate) fn to_json(&self) -> Value {
        per_output_json(&self.0, |ms| json!(ms))
    }

    /// What [`Metrics::to_json`] wrote; errors name the field.
    pub(crate) fn from_json(v: &Value) -> std::result::Result<Self, String> {
        let list = |v: &Value, at: &str| {
            serde_json::from_value::<Vec<Metric>>(v.clone()).map_err(|e| format!("compile.metrics{at}: {e}"))
        };
        let by_order = v
            .as_array()
            .is_some_and(|items| !items.is_empty() && items.iter().all(Value::is_array));
        Ok(Metrics(match v {
            Value::Array(_) if !by_order => PerOutput::All(list(v, "")?),
            Value::Array(_) | Value::Object(_) => per_output_from_json(v, "compile.metrics", list)?,
            other => {
                return Err(format!(
                    "compile.metrics: expected a list or an object, found {other}"
                ))
            }
        }))
    }

    /// Every metric named, each checked (`TopKAccuracy(0)` is refused).
    pub(crate) fn check(&self) -> Result<()> {
        let lists: Vec<&Vec<Metric>> = match &self.0 {
            PerOutput::All(m) => vec![m],
            PerOutput::ByOrder(ms) => ms.iter().collect(),
            PerOutput::ByName(pairs) => pairs.iter().map(|(_, m)| m).collect(),
        };
        for list in lists {
            let mut names = HashSet::new();
            for m in list {
                let name = m.accumulator()?.name().to_string();
                if !names.insert(name.clone()) {
                    return Err(Error::Model(format!(
                        "compile: two metrics both log as `{name}`; one would overwrite the other (found {list:?})"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl<const N: usize> From<&[Metric; N]> for Metrics {
    fn from(m: &[Metric; N]) -> Self {
        Metrics(PerOutput::All(m.to_vec()))
    }
}

impl From<&[Metric]> for Metrics {
    fn from(m: &[Metric]) -> Self {
        Metrics(PerOutput::All(m.to_vec()))
    }
}

impl From<&Vec<Metric>> for Metrics {
    fn from(m: &Vec<Metric>) -> Self {
        Metrics(PerOutput::All(m.clone()))
    }
}

impl From<Vec<Metric>> for Metrics {
    fn from(m: Vec<Metric>) -> Self {
        Metrics(PerOutput::All(m))
    }
}

impl<const N: usize> From<[Vec<Metric>; N]> for Metrics {
    fn from(m: [Vec<Metric>; N]) -> Self {
        Metrics(PerOutput::ByOrder(m.to_vec()))
    }
}

impl From<Vec<Vec<Metric>>> for Metrics {
    fn from(m: Vec<Vec<Metric>>) -> Self {
        Metrics(PerOutput::ByOrder(m))
    }
}

impl<const N: usize> From<[(&str, Vec<Metric>); N]> for Metrics {
    fn from(m: [(&str, Vec<Metric>); N]) -> Self {
        Metrics(PerOutput::ByName(
            m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ))
    }
}

impl From<Vec<(&str, Vec<Metric>)>> for Metrics {
    fn from(m: Vec<(&str, Vec<Metric>)>) -> Self {
        Metrics(PerOutput::ByName(
            m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ))
    }
}

/// One output's part of a compiled model: its name (empty for a network
/// without output names), loss, weight and metrics.
#[derive(Debug, Clone)]
pub(crate) struct OutputSpec {
    pub(crate) name: String,
    pub(crate) loss: Loss,
    pub(crate) weight: f32,
    pub(crate) metrics: Vec<Metric>,
}

/// Each output's loss, weight and metrics for a model whose outputs are
/// `names`; every output needs a loss, and weights must be finite.
pub(crate) fn resolve(names: &[String], losses: &Losses, metrics: &Metrics) -> Result<Vec<OutputSpec>> {
    metrics.check()?;
    let per_loss = losses.losses.resolve(names, "loss")?;
    let per_weight = match &losses.weights {
        Some(w) => w.resolve(names, "loss_weights")?,
        None => vec![None; names.len()],
    };
    let per_metrics = metrics.0.resolve(names, "metrics")?;
    let mut specs = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let loss = per_loss[i].ok_or_else(|| {
            Error::Model(format!(
                "compile: output {name:?} has no loss (losses are given by name; the model's outputs are {names:?}): \
                 every output needs one"
            ))
        })?;
        let weight = per_weight[i].unwrap_or(1.0);
        if !weight.is_finite() {
            return Err(Error::Model(format!(
                "compile: loss_weights gives output {name:?} the weight {weight}; weights must be finite"
            )));
        }
        specs.push(OutputSpec {
            name: name.clone(),
            loss,
            weight,
            metrics: per_metrics[i].clone().unwrap_or_default(),
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_and_metrics_round_trip_through_json() {
        let cases = [
            Losses::from(Loss::MeanSquaredError),
            Losses::from([Loss::MeanSquaredError, Loss::Hinge]).loss_weights([0.5, 2.0]),
            Losses::from([("a", Loss::Hinge), ("b", Loss::MeanAbsoluteError)]).loss_weights([("b", 0.25)]),
        ];
        for l in cases {
            let (loss, weights) = l.to_json();
            assert_eq!(Losses::from_json(&loss, Some(&weights)).unwrap(), l);
        }
        let metrics = [
            Metrics::from(&[Metric::Accuracy]),
            Metrics::from(&[]),
            Metrics::from([vec![Metric::Accuracy], vec![]]),
            Metrics::from([("a", vec![Metric::Mae, Metric::Mse])]),
        ];
        for m in metrics {
            assert_eq!(Metrics::from_json(&m.to_json()).unwrap(), m);
        }
    }

    #[test]
    fn resolving_fills_defaults_and_refuses_what_does_not_fit() {
        let names = vec!["a".to_string(), "b".to_string()];
        let specs = resolve(
            &names,
            &Losses::from([("b", Loss::Hinge), ("a", Loss::MeanSquaredError)]).loss_weights([("b", 3.0)]),
            &Metrics::from([("a", vec![Metric::Mae])]),
        )
        .unwrap();
        assert_eq!((specs[0].loss, specs[0].weight), (Loss::MeanSquaredError, 1.0));
        assert_eq!((specs[1].loss, specs[1].weight), (Loss::Hinge, 3.0));
        assert_eq!((specs[0].metrics.len(), specs[1].metrics.len()), (1, 0));
        let e = resolve(&names, &Losses::from([("a", Loss::Hinge)]), &Metrics::from(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"b\"") && e.contains("no loss"), "{e}");
        let e = resolve(
            &names,
            &Losses::from(Loss::Hinge).loss_weights([f32::NAN, 1.0]),
            &Metrics::from(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("finite"), "{e}");
        let e = resolve(
            &[String::new()],
            &Losses::from([("a", Loss::Hinge)]),
            &Metrics::from(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no name"), "{e}");
    }
}
