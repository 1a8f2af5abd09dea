//! Compile settings where Keras 3 stores them: `compile_config` of
//! `config.json` (`optimizer` as a serialized Keras object, `loss` a name or
//! an object, `metrics` a list of names), to neurite's optimizer, loss and
//! metrics, and back.

use super::layer_config::check_builtin;
use super::names::to_snake_case;
use crate::metric::Metric;
use neurite_nn::losses::Loss;
use neurite_optim::Optimizer;
use serde_json::{json, Map, Value};

/// Keras' metric names (and aliases) and neurite's metrics.
const METRICS: &[(&str, Metric)] = &[
    ("accuracy", Metric::Accuracy),
    ("acc", Metric::Accuracy),
    ("binary_accuracy", Metric::BinaryAccuracy),
    ("categorical_accuracy", Metric::CategoricalAccuracy),
    ("sparse_categorical_accuracy", Metric::SparseCategoricalAccuracy),
    ("mse", Metric::Mse),
    ("mean_squared_error", Metric::Mse),
    ("mae", Metric::Mae),
    ("mean_absolute_error", Metric::Mae),
    ("root_mean_squared_error", Metric::Rmse),
    ("mape", Metric::Mape),
    ("mean_absolute_percentage_error", Metric::Mape),
    ("r2_score", Metric::R2),
    ("auc", Metric::Auc),
];

/// neurite's optimizer names and Keras 3's classes.
const OPTIMIZER_CLASSES: &[(&str, &str)] = &[
    ("sgd", "SGD"),
    ("adam", "Adam"),
    ("adamw", "AdamW"),
    ("rmsprop", "RMSprop"),
    ("adagrad", "Adagrad"),
    ("adamax", "Adamax"),
    ("nadam", "Nadam"),
];

/// Keras' loss names (and aliases) and neurite's `Loss` names.
const LOSS_ALIASES: &[(&str, &str)] = &[
    ("mse", "mean_squared_error"),
    ("mae", "mean_absolute_error"),
    ("kld", "kl_divergence"),
    ("kullback_leibler_divergence", "kl_divergence"),
];

/// The compile settings of a Keras `compile_config`.
pub(crate) struct Settings {
    pub(crate) optimizer: Box<dyn Optimizer>,
    pub(crate) loss: Loss,
    pub(crate) metrics: Vec<Metric>,
}

/// `compile_config` translated, `None` when the model was saved uncompiled.
pub(crate) fn from_keras(compile: Option<&Value>) -> Result<Option<Settings>, String> {
    // Keras writes a compile_config without an optimizer for a model never compiled.
    let Some(compile) = compile.filter(|c| c.get("optimizer").is_some_and(|o| !o.is_null())) else {
        return Ok(None);
    };
    let optimizer = optimizer(
        compile
            .get("optimizer")
            .ok_or("compile_config.optimizer is missing")?,
    )?;
    let loss = loss(compile.get("loss").unwrap_or(&Value::Null))?;
    if compile.get("loss_weights").is_some_and(|w| !w.is_null()) {
        return Err("compile_config.loss_weights: neurite imports one loss for the model".into());
    }
    let metrics = match compile.get("metrics") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(metric).collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "compile_config.metrics: expected a list of metric names, found {other}"
            ))
        }
    };
    Ok(Some(Settings {
        optimizer,
        loss,
        metrics,
    }))
}

fn optimizer(v: &Value) -> Result<Box<dyn Optimizer>, String> {
    let (class, config) = match v {
        Value::String(s) => (s.clone(), json!({})),
        Value::Object(_) => {
            check_builtin(v).map_err(|e| format!("compile_config.optimizer: {e}"))?;
            let class = v
                .get("class_name")
                .and_then(Value::as_str)
                .ok_or("compile_config.optimizer: class_name is missing")?;
            (class.to_string(), v.get("config").cloned().unwrap_or(json!({})))
        }
        other => {
            return Err(format!(
                "compile_config.optimizer: expected an optimizer, found {other}"
            ))
        }
    };
    let mut map: Map<String, Value> = config.as_object().cloned().unwrap_or_default();
    map.remove("name");
    // Keras writes every option; the unset ones (null) are neurite's defaults too.
    map.retain(|_, v| !v.is_null());
    map.insert("name".into(), json!(class));
    neurite_optim::optimizer_from_config(&Value::Object(map))
        .map_err(|e| format!("compile_config.optimizer ({class}): {e}"))
}

fn loss(v: &Value) -> Result<Loss, String> {
    let (name, mut params) = match v {
        Value::String(s) => (s.clone(), Map::new()),
        Value::Object(_) => {
            check_builtin(v).map_err(|e| format!("compile_config.loss: {e}"))?;
            let class = v
                .get("class_name")
                .and_then(Value::as_str)
                .ok_or("compile_config.loss: class_name is missing")?;
            let cfg = v
                .get("config")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            (to_snake_case(class), cfg)
        }
        other => {
            return Err(format!(
                "compile_config.loss: expected one loss (a name or a Keras loss object), found {other}"
            ))
        }
    };
    let name = LOSS_ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map_or(name.clone(), |(_, n)| n.to_string());
    for k in ["name", "reduction", "dtype"] {
        params.remove(k);
    }
    params.insert("name".into(), json!(name));
    serde_json::from_value(Value::Object(params)).map_err(|e| format!("compile_config.loss {name:?}: {e}"))
}

fn metric(v: &Value) -> Result<Metric, String> {
    let name = match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => v
            .get("class_name")
            .and_then(Value::as_str)
            .map(to_snake_case)
            .ok_or_else(|| format!("compile_config.metrics: {v} is not a metric"))?,
        other => return Err(format!("compile_config.metrics: {other} is not a metric name")),
    };
    METRICS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, m)| m.clone())
        .ok_or_else(|| {
            let known: Vec<&str> = METRICS.iter().map(|(k, _)| *k).collect();
            format!(
                "compile_config.metrics: {name:?} is not a metric neurite has (it has {})",
                known.join(", ")
            )
        })
}

/// neurite's compile settings (`config.json`'s `compile` of `Model::config_json`) as Keras' `compile_config`.
pub(crate) fn to_keras(compile: &Value) -> Result<Value, String> {
    if compile.is_null() {
        return Ok(Value::Null);
    }
    let opt = compile.get("optimizer").cloned().unwrap_or(Value::Null);
    let name = opt
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("adam")
        .to_lowercase();
    let class = OPTIMIZER_CLASSES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .ok_or_else(|| format!("optimizer {name:?} has no Keras class neurite knows"))?;
    let mut config: Map<String, Value> = opt.as_object().cloned().unwrap_or_default();
    // neurite-only options Keras' constructors would refuse: written only at their
    // neutral values (and then left out), otherwise the settings cannot be exported.
    for key in ["pytorch_epsilon", "l1", "l2"] {
        let neutral = |v: &Value| v.is_null() || v == &json!(false) || v.as_f64() == Some(0.0);
        if let Some(v) = config.remove(key).filter(|v| !neutral(v)) {
            return Err(format!("optimizer option {key} = {v} has no Keras equivalent"));
        }
    }
    if let Some(lr) = config.get_mut("learning_rate").filter(|v| v.is_object()) {
        // A schedule: Keras' serialized-object form.
        if let Some(obj) = lr.as_object_mut() {
            obj.entry("module").or_insert(json!("keras.optimizers.schedules"));
            obj.entry("registered_name").or_insert(Value::Null);
        }
    }
    config.insert("name".into(), json!(name));
    let optimizer =
        json!({"module": "keras.optimizers", "class_name": class, "config": config, "registered_name": null});
    let loss = match compile.get("loss") {
        Some(Value::Object(l)) => {
            let name = l.get("name").and_then(Value::as_str).unwrap_or_default();
            let params: Vec<&String> = l.keys().filter(|k| *k != "name").collect();
            if params.is_empty() || l.get("from_logits") == Some(&json!(false)) && params.len() == 1 {
                json!(name)
            } else {
                let class: String = name
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next().map_or(String::new(), |f| {
                            f.to_uppercase().collect::<String>() + c.as_str()
                        })
                    })
                    .collect();
                let mut cfg = l.clone();
                cfg.remove("name");
                json!({"module": "keras.losses", "class_name": class, "config": cfg, "registered_name": null})
            }
        }
        Some(other) => {
            return Err(format!(
                "loss {other}: only one loss for the whole model is exported"
            ))
        }
        None => Value::Null,
    };
    let metrics: Vec<Value> = match compile.get("metrics") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|m| {
                let parsed: Metric =
                    serde_json::from_value(m.clone()).map_err(|e| format!("metric {m}: {e}"))?;
                METRICS
                    .iter()
                    .find(|(_, k)| *k == parsed)
                    .map(|(name, _)| json!(name))
                    .ok_or_else(|| format!("metric {parsed:?} has no Keras name neurite knows"))
            })
            .collect::<Result<_, String>>()?,
        _ => Vec::new(),
    };
    Ok(json!({
        "optimizer": optimizer,
        "loss": loss,
        "loss_weights": null,
        "metrics": if metrics.is_empty() { Value::Null } else { json!(metrics) },
        "weighted_metrics": null,
        "run_eagerly": false,
        "steps_per_execution": 1,
        "jit_compile": false,
    }))
}
