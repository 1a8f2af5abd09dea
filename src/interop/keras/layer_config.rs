//! One layer's config between Keras 3 and neurite. Most keys are the same
//! (neurite's configs use Keras' names and defaults); what differs is how
//! objects are written: Keras 3 serializes initializers, regularizers and
//! dtype policies as `{"module", "class_name", "config", "registered_name"}`
//! dicts, neurite as snake-case names (`"glorot_uniform"`,
//! `{"l2": {"l2": 0.01}}`), and wrapped layers (`Bidirectional`,
//! `TimeDistributed`) nest `{"class_name", "config"}`.

use serde_json::{json, Map, Value};

/// Keras initializer class names and neurite's names for them.
const INITIALIZERS: &[(&str, &str)] = &[
    ("GlorotUniform", "glorot_uniform"),
    ("GlorotNormal", "glorot_normal"),
    ("HeUniform", "he_uniform"),
    ("HeNormal", "he_normal"),
    ("LecunUniform", "lecun_uniform"),
    ("LecunNormal", "lecun_normal"),
    ("Orthogonal", "orthogonal"),
    ("Zeros", "zeros"),
    ("Ones", "ones"),
    ("Constant", "constant"),
    ("RandomUniform", "random_uniform"),
    ("RandomNormal", "random_normal"),
    ("TruncatedNormal", "truncated_normal"),
];

/// The parameters neurite keeps of each parameterized initializer.
const INITIALIZER_FIELDS: &[(&str, &[&str])] = &[
    ("orthogonal", &["gain"]),
    ("constant", &["value"]),
    ("random_uniform", &["minval", "maxval"]),
    ("random_normal", &["mean", "stddev"]),
    ("truncated_normal", &["mean", "stddev"]),
];

/// Keras regularizer class names and neurite's.
const REGULARIZERS: &[(&str, &str)] = &[("L1", "l1"), ("L2", "l2"), ("L1L2", "l1_l2")];

/// Keys whose values are layers in `{"class_name", "config"}` form.
const NESTED_LAYER_KEYS: &[&str] = &["layer", "backward_layer"];

/// Keys neurite writes that Keras' constructors do not take (they would be
/// refused as unexpected keyword arguments), by class (`"*"`: every class).
const NEURITE_ONLY_KEYS: &[(&str, &[&str])] = &[("SimpleRNN", &["recurrent_activation"])];

/// A translation failure: the key (path inside the layer config) and what is wrong.
pub(crate) type KeyError = String;

/// A Keras 3 layer config as neurite reads it.
pub(crate) fn keras_to_neurite(class: &str, config: &Value) -> Result<Value, KeyError> {
    let Some(obj) = config.as_object() else {
        return Err(format!("the {class} config is not an object: {config}"));
    };
    let mut out = Map::new();
    for (key, value) in obj {
        let translated = if key == "dtype" {
            // A per-layer dtype policy: neurite computes in float32 (the model's
            // policy decides products); anything else is refused by the caller's check.
            check_float_policy(value).map_err(|e| format!("field \"dtype\": {e}"))?;
            continue;
        } else if key.ends_with("_initializer") {
            initializer_to_neurite(value).map_err(|e| format!("field \"{key}\": {e}"))?
        } else if key.ends_with("_regularizer") {
            regularizer_to_neurite(value).map_err(|e| format!("field \"{key}\": {e}"))?
        } else if key.ends_with("_constraint") {
            if !value.is_null() {
                return Err(format!(
                    "field \"{key}\": neurite has no weight constraints (found {})",
                    object_class(value).unwrap_or("a value")
                ));
            }
            continue;
        } else if NESTED_LAYER_KEYS.contains(&key.as_str()) && value.is_object() {
            let inner_class = value
                .get("class_name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("field \"{key}\": class_name is missing"))?;
            check_builtin(value).map_err(|e| format!("field \"{key}\": {e}"))?;
            let inner = keras_to_neurite(inner_class, value.get("config").unwrap_or(&Value::Null))
                .map_err(|e| format!("field \"{key}\" ({inner_class}): {e}"))?;
            json!({"class_name": inner_class, "config": inner})
        } else if key == "activation" || key == "recurrent_activation" {
            activation_to_neurite(value).map_err(|e| format!("field \"{key}\": {e}"))?
        } else {
            value.clone()
        };
        out.insert(key.clone(), translated);
    }
    Ok(Value::Object(out))
}

/// A neurite layer config as Keras 3 writes it.
pub(crate) fn neurite_to_keras(class: &str, config: &Value) -> Value {
    let Some(obj) = config.as_object() else {
        return config.clone();
    };
    let dropped: Vec<&str> = NEURITE_ONLY_KEYS
        .iter()
        .filter(|(c, _)| *c == "*" || *c == class)
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect();
    let mut out = Map::new();
    for (key, value) in obj {
        if dropped.contains(&key.as_str()) {
            continue;
        }
        let translated = if key.ends_with("_initializer") {
            initializer_to_keras(value)
        } else if key.ends_with("_regularizer") {
            regularizer_to_keras(value)
        } else if NESTED_LAYER_KEYS.contains(&key.as_str()) && value.is_object() {
            let inner_class = value
                .get("class_name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            layer_entry(
                inner_class,
                neurite_to_keras(inner_class, value.get("config").unwrap_or(&Value::Null)),
            )
        } else {
            value.clone()
        };
        out.insert(key.clone(), translated);
    }
    out.insert("dtype".into(), dtype_policy("float32"));
    Value::Object(out)
}

/// Keras' `{"module", "class_name", "config", "registered_name"}` entry of a built-in layer.
pub(crate) fn layer_entry(class: &str, config: Value) -> Value {
    json!({"module": "keras.layers", "class_name": class, "config": config, "registered_name": null})
}

/// Keras' serialized `DTypePolicy` named `name`.
pub(crate) fn dtype_policy(name: &str) -> Value {
    json!({"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": null})
}

/// The `class_name` of a serialized Keras object, if it is one.
pub(crate) fn object_class(v: &Value) -> Option<&str> {
    v.get("class_name").and_then(Value::as_str)
}

/// Refuses a custom object: Keras writes `registered_name` `"package>Class"`
/// for classes registered by user code, `null` (or the class name) for its own.
pub(crate) fn check_builtin(v: &Value) -> Result<(), String> {
    let class = object_class(v).unwrap_or("?");
    match v.get("registered_name") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(r)) if r == class => Ok(()),
        Some(r) => Err(format!(
            "{class} is a custom object (registered_name {r}): neurite can only rebuild Keras' built-in classes"
        )),
    }
}

/// A dtype (a name or a serialized policy) that must be float32.
fn check_float_policy(v: &Value) -> Result<(), String> {
    let name = match v {
        Value::Null => return Ok(()),
        Value::String(s) => s.as_str(),
        _ => v.pointer("/config/name").and_then(Value::as_str).unwrap_or("?"),
    };
    if name == "float32" {
        Ok(())
    } else {
        Err(format!(
            "dtype policy {name:?}: neurite imports float32 layers only"
        ))
    }
}

fn initializer_to_neurite(v: &Value) -> Result<Value, String> {
    let (class, config) = match v {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => return Ok(Value::String(s.clone())),
        Value::Object(_) => (
            object_class(v).ok_or("an initializer without class_name")?,
            v.get("config").cloned().unwrap_or(json!({})),
        ),
        other => return Err(format!("expected an initializer, found {other}")),
    };
    check_builtin(v)?;
    let Some((_, snake)) = INITIALIZERS.iter().find(|(k, _)| *k == class) else {
        let known: Vec<&str> = INITIALIZERS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "initializer {class} is not one neurite has (it has {})",
            known.join(", ")
        ));
    };
    match INITIALIZER_FIELDS.iter().find(|(k, _)| k == snake) {
        None => Ok(json!(snake)),
        Some((_, fields)) => {
            let mut params = Map::new();
            for f in *fields {
                let value = config
                    .get(*f)
                    .cloned()
                    .ok_or_else(|| format!("initializer {class}: config.{f} is missing"))?;
                params.insert(f.to_string(), value);
            }
            Ok(one_key(snake, params))
        }
    }
}

fn initializer_to_keras(v: &Value) -> Value {
    let (snake, params) = match v {
        Value::String(s) => (s.as_str(), json!({})),
        Value::Object(o) if o.len() == 1 => {
            let (k, p) = o.iter().next().expect("one key");
            (k.as_str(), p.clone())
        }
        _ => return v.clone(),
    };
    let Some((class, _)) = INITIALIZERS.iter().find(|(_, s)| *s == snake) else {
        return v.clone();
    };
    let mut config = params;
    if config.is_object() && !matches!(snake, "zeros" | "ones" | "constant" | "orthogonal") {
        config["seed"] = Value::Null;
    }
    if snake == "orthogonal" {
        config["seed"] = Value::Null;
    }
    json!({"module": "keras.initializers", "class_name": class, "config": config, "registered_name": null})
}

fn regularizer_to_neurite(v: &Value) -> Result<Value, String> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let class = object_class(v).ok_or_else(|| format!("expected a regularizer, found {v}"))?;
    check_builtin(v)?;
    let Some((_, snake)) = REGULARIZERS.iter().find(|(k, _)| *k == class) else {
        return Err(format!(
            "regularizer {class} is not one neurite has (it has L1, L2, L1L2)"
        ));
    };
    let config = v.get("config").cloned().unwrap_or(json!({}));
    let mut params = Map::new();
    for f in ["l1", "l2"] {
        if let Some(x) = config.get(f) {
            if snake.contains(f) {
                params.insert(f.to_string(), x.clone());
            }
        }
    }
    Ok(one_key(snake, params))
}

fn regularizer_to_keras(v: &Value) -> Value {
    let Some((snake, params)) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return v.clone();
    };
    match REGULARIZERS.iter().find(|(_, s)| s == snake) {
        Some((class, _)) => {
            json!({"module": "keras.regularizers", "class_name": class, "config": params, "registered_name": null})
        }
        None => v.clone(),
    }
}

/// Keras writes activations as names; a serialized function object (a custom one) is refused.
fn activation_to_neurite(v: &Value) -> Result<Value, String> {
    match v {
        Value::String(_) | Value::Null => Ok(v.clone()),
        Value::Object(_) => {
            check_builtin(v)?;
            match v.get("config") {
                Some(Value::String(name)) => Ok(Value::String(name.clone())),
                _ => Err(format!("activation {v} is not a Keras built-in activation name")),
            }
        }
        other => Err(format!("expected an activation name, found {other}")),
    }
}

/// `{key: {params}}`, neurite's form of a parameterized initializer or regularizer.
fn one_key(key: &str, params: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), Value::Object(params));
    Value::Object(m)
}
