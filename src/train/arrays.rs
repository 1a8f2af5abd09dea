//! `Arrays`: the data `fit`, `evaluate`, `predict` and `train_on_batch` take
//! — one array, several in order, or several by input/output name.

use crate::error::{Error, Result};
use ndarray::Axis;
use neurite_tensor::Tensor;
use std::borrow::Cow;
use std::collections::HashMap;

/// One array per model input (or per output, for targets), samples along
/// axis 0: a single `&Tensor` (every single-input model), several in the
/// model's order (`[&a, &b]`, `&[&a, &b]`, `vec![&a, &b]`), or by name
/// (`[("image", &a), ("extra", &b)]`, a `Vec` of such pairs, or a
/// `&HashMap<String, Tensor>`) — Keras' arrays, lists and dicts. Inputs are
/// named by [`crate::functional::Input::named`], outputs by the layer that
/// made them.
///
/// ```
/// use neurite::Arrays;
/// use neurite::tensor::Tensor;
/// let (a, b) = (Tensor::zeros(ndarray::IxDyn(&[4, 2])), Tensor::zeros(ndarray::IxDyn(&[4, 3])));
/// let one: Arrays = (&a).into();
/// let in_order: Arrays = [&a, &b].into();
/// let by_name: Arrays = [("a", &a), ("b", &b)].into();
/// assert_eq!((one.len(), in_order.len(), by_name.len()), (1, 2, 2));
/// let mut map = std::collections::HashMap::new();
/// map.insert("a".to_string(), a.clone());
/// assert_eq!(Arrays::from(&map).len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Arrays<'a>(Kind<'a>);

#[derive(Debug, Clone)]
enum Kind<'a> {
    Ordered(Vec<Cow<'a, Tensor>>),
    Named(Vec<(Cow<'a, str>, Cow<'a, Tensor>)>),
}

impl<'a> Arrays<'a> {
    /// How many arrays.
    ///
    /// ```
    /// let t = neurite::tensor::Tensor::zeros(ndarray::IxDyn(&[2, 1]));
    /// assert_eq!(neurite::Arrays::from(vec![&t, &t, &t]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        match &self.0 {
            Kind::Ordered(v) => v.len(),
            Kind::Named(v) => v.len(),
        }
    }

    /// Whether there are no arrays.
    ///
    /// ```
    /// let none: Vec<&neurite::tensor::Tensor> = Vec::new();
    /// assert!(neurite::Arrays::from(none).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the arrays are given by name.
    ///
    /// ```
    /// let t = neurite::tensor::Tensor::zeros(ndarray::IxDyn(&[2, 1]));
    /// assert!(neurite::Arrays::from([("x", &t)]).is_named() && !neurite::Arrays::from(&t).is_named());
    /// ```
    pub fn is_named(&self) -> bool {
        matches!(self.0, Kind::Named(_))
    }

    /// The arrays in the order of `names` (the model's inputs or outputs;
    /// empty when the network does not name them, e.g. a `Sequential`, which
    /// takes arrays by order). `role` is `x`/`y` and `what` the call, for errors.
    pub(crate) fn resolve(
        self,
        names: &[String],
        count: usize,
        role: &str,
        what: &str,
    ) -> Result<Vec<Cow<'a, Tensor>>> {
        let kind = if role == "x" { "input" } else { "output" };
        match self.0 {
            Kind::Ordered(arrays) => {
                if arrays.len() != count {
                    let listed = if names.is_empty() {
                        String::new()
                    } else {
                        format!(" {names:?}")
                    };
                    return Err(Error::Input(format!(
                        "{what}: the model has {count} {kind}(s){listed}, so {role} needs {count} array(s); got {}",
                        arrays.len()
                    )));
                }
                Ok(arrays)
            }
            Kind::Named(mut pairs) => {
                if names.is_empty() {
                    return Err(Error::Input(format!(
                        "{what}: {role} is given by name ({:?}), but this model's {kind}s have no names (only functional \
                         models name them): pass the array(s) in order",
                        pairs.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>()
                    )));
                }
                for (i, (name, _)) in pairs.iter().enumerate() {
                    if !names.iter().any(|n| n == name) {
                        return Err(Error::Input(format!(
                            "{what}: {role} has an array named {name:?}, but the model has no {kind} of that name (its \
                             {kind}s: {names:?})"
                        )));
                    }
                    if pairs[..i].iter().any(|(k, _)| k == name) {
                        return Err(Error::Input(format!(
                            "{what}: {role} names {kind} {name:?} twice"
                        )));
                    }
                }
                names
                    .iter()
                    .map(|n| {
                        let at = pairs.iter().position(|(k, _)| k == n).ok_or_else(|| {
                            Error::Input(format!(
                                "{what}: {role} has no array for the {kind} {n:?} (the model's {kind}s: {names:?}; \
                                 given: {:?})",
                                pairs.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>()
                            ))
                        })?;
                        Ok(pairs.swap_remove(at).1)
                    })
                    .collect()
            }
        }
    }
}

/// The number of samples all `arrays` share; an error naming the arrays
/// whose counts differ, or an array without a batch axis.
pub(crate) fn common_samples(what: &str, arrays: &[(String, &Tensor)]) -> Result<usize> {
    let mut n = None;
    for (label, a) in arrays {
        if a.ndim() == 0 {
            return Err(Error::Input(format!(
                "{what}: {label} needs a batch axis, found a scalar"
            )));
        }
        let m = a.len_of(Axis(0));
        match n {
            None => n = Some((m, label)),
            Some((k, first)) if k != m => {
                return Err(Error::Input(format!(
                    "{what}: {first} has {k} samples (shape {:?}) but {label} has {m} (shape {:?}): every array needs \
                     the same number of samples",
                    arrays.iter().find(|(l, _)| l == first).map(|(_, t)| t.shape()).unwrap_or_default(),
                    a.shape()
                )));
            }
            _ => {}
        }
    }
    let n = n.map_or(0, |(k, _)| k);
    if n == 0 {
        return Err(Error::Input(format!(
            "{what}: no samples (shapes {:?})",
            arrays.iter().map(|(_, a)| a.shape()).collect::<Vec<_>>()
        )));
    }
    Ok(n)
}

/// `x`, `x["a"]`, `y[1]`: how errors name one of several arrays.
pub(crate) fn label(role: &str, names: &[String], i: usize, count: usize) -> String {
    match (count, names.get(i)) {
        (1, _) => role.to_string(),
        (_, Some(name)) => format!("{role}[{name:?}]"),
        _ => format!("{role}[{i}]"),
    }
}

impl<'a> From<&'a Tensor> for Arrays<'a> {
    fn from(t: &'a Tensor) -> Self {
        Arrays(Kind::Ordered(vec![Cow::Borrowed(t)]))
    }
}

impl<'a> From<Tensor> for Arrays<'a> {
    fn from(t: Tensor) -> Self {
        Arrays(Kind::Ordered(vec![Cow::Owned(t)]))
    }
}

impl<'a> From<&'a [&'a Tensor]> for Arrays<'a> {
    fn from(ts: &'a [&'a Tensor]) -> Self {
        Arrays(Kind::Ordered(ts.iter().map(|t| Cow::Borrowed(*t)).collect()))
    }
}

impl<'a, const N: usize> From<&'a [&'a Tensor; N]> for Arrays<'a> {
    fn from(ts: &'a [&'a Tensor; N]) -> Self {
        Arrays(Kind::Ordered(ts.iter().map(|t| Cow::Borrowed(*t)).collect()))
    }
}

impl<'a, const N: usize> From<[&'a Tensor; N]> for Arrays<'a> {
    fn from(ts: [&'a Tensor; N]) -> Self {
        Arrays(Kind::Ordered(ts.into_iter().map(Cow::Borrowed).collect()))
    }
}

impl<'a> From<Vec<&'a Tensor>> for Arrays<'a> {
    fn from(ts: Vec<&'a Tensor>) -> Self {
        Arrays(Kind::Ordered(ts.into_iter().map(Cow::Borrowed).collect()))
    }
}

impl<'a> From<Vec<Tensor>> for Arrays<'a> {
    fn from(ts: Vec<Tensor>) -> Self {
        Arrays(Kind::Ordered(ts.into_iter().map(Cow::Owned).collect()))
    }
}

impl<'a, const N: usize> From<[(&'a str, &'a Tensor); N]> for Arrays<'a> {
    fn from(pairs: [(&'a str, &'a Tensor); N]) -> Self {
        Arrays(Kind::Named(
            pairs
                .into_iter()
                .map(|(k, t)| (Cow::Borrowed(k), Cow::Borrowed(t)))
                .collect(),
        ))
    }
}

impl<'a> From<Vec<(&'a str, &'a Tensor)>> for Arrays<'a> {
    fn from(pairs: Vec<(&'a str, &'a Tensor)>) -> Self {
        Arrays(Kind::Named(
            pairs
                .into_iter()
                .map(|(k, t)| (Cow::Borrowed(k), Cow::Borrowed(t)))
                .collect(),
        ))
    }
}

impl<'a> From<&'a HashMap<String, Tensor>> for Arrays<'a> {
    fn from(map: &'a HashMap<String, Tensor>) -> Self {
        Arrays(Kind::Named(
            map.iter()
                .map(|(k, t)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(t)))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: usize, d: usize) -> Tensor {
        Tensor::zeros(ndarray::IxDyn(&[n, d]))
    }

    #[test]
    fn named_arrays_come_back_in_the_models_order_and_bad_names_are_refused() {
        let (a, b) = (t(3, 1), t(3, 2));
        let names = vec!["a".to_string(), "b".to_string()];
        let got = Arrays::from([("b", &b), ("a", &a)])
            .resolve(&names, 2, "x", "fit")
            .unwrap();
        assert_eq!((got[0].shape(), got[1].shape()), (&[3, 1][..], &[3, 2][..]));
        let e = |r: Result<Vec<Cow<Tensor>>>| r.unwrap_err().to_string();
        let msg = e(Arrays::from([("a", &a), ("c", &b)]).resolve(&names, 2, "x", "fit"));
        assert!(msg.contains("\"c\"") && msg.contains("[\"a\", \"b\"]"), "{msg}");
        let msg = e(Arrays::from([("a", &a)]).resolve(&names, 2, "x", "fit"));
        assert!(msg.contains("no array for the input \"b\""), "{msg}");
        let msg = e(Arrays::from([("a", &a), ("a", &a)]).resolve(&names, 2, "x", "fit"));
        assert!(msg.contains("twice"), "{msg}");
        let msg = e(Arrays::from(&a).resolve(&names, 2, "y", "evaluate"));
        assert!(msg.contains("2 output(s)") && msg.contains("got 1"), "{msg}");
        let msg = e(Arrays::from([("a", &a)]).resolve(&[], 1, "x", "fit"));
        assert!(msg.contains("no names"), "{msg}");
    }

    #[test]
    fn sample_counts_must_agree() {
        let (a, b) = (t(3, 1), t(4, 1));
        let msg = common_samples("fit", &[("x[\"a\"]".into(), &a), ("y[0]".into(), &b)])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("x[\"a\"] has 3") && msg.contains("y[0] has 4"),
            "{msg}"
        );
        assert_eq!(common_samples("fit", &[("x".into(), &a)]).unwrap(), 3);
    }
}
