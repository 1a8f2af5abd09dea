//! The run-time registry of user classes: registration rules against a
//! plainly written model of them, lookups through `layer_from_config`, and
//! the errors.

use super::*;
use crate::context::ForwardContext;
use crate::layer::Parameter;
use neurite_autograd::Var;
use neurite_rand::Generator;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A user layer without weights: the identity, class `RegistryProbe`.
struct Probe {
    name: String,
}

impl Layer for Probe {
    fn class_name(&self) -> &'static str {
        "RegistryProbe"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn build(&mut self, _: &[usize], _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn is_built(&self) -> bool {
        true
    }
    fn output_shape(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }
    fn forward(&self, x: &Var, _: &mut ForwardContext) -> Result<Var> {
        Ok(x.clone())
    }
    fn parameters(&self) -> Vec<Parameter> {
        vec![]
    }
    fn trainable(&self) -> bool {
        true
    }
    fn set_trainable(&mut self, _: bool) {}
    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "name": self.name })
    }
}

#[derive(serde::Deserialize)]
struct ProbeConfig {
    name: String,
}

fn probe(config: &serde_json::Value) -> Result<Box<dyn Layer>> {
    let cfg: ProbeConfig = parse("RegistryProbe", config)?;
    Ok(Box::new(Probe { name: cfg.name }))
}

fn other_probe(config: &serde_json::Value) -> Result<Box<dyn Layer>> {
    probe(config).map(|mut l| {
        l.set_name(format!("{}_other", l.name()));
        l
    })
}

struct TypeA;
struct TypeB;

#[test]
fn a_registered_class_is_rebuilt_and_round_trips() {
    register_layer_class("RegistryProbe", probe).unwrap();
    register_layer_class("RegistryProbe", probe).unwrap();
    let layer = layer_from_config("RegistryProbe", &serde_json::json!({"name": "p_1"})).unwrap();
    assert_eq!((layer.class_name(), layer.name()), ("RegistryProbe", "p_1"));
    let again = layer_from_config(layer.class_name(), &layer.config()).unwrap();
    assert_eq!(again.config(), layer.config());
    assert!(registered_classes().contains(&"RegistryProbe".to_string()));
    // Another function under the same name is refused, and the first one stays.
    let e = register_layer_class("RegistryProbe", other_probe)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("RegistryProbe") && e.contains("already registered"),
        "{e}"
    );
    let layer = layer_from_config("RegistryProbe", &serde_json::json!({"name": "p_2"})).unwrap();
    assert_eq!(layer.name(), "p_2");
    // A bad config is the constructor's error, naming the field.
    let e = layer_from_config("RegistryProbe", &serde_json::json!({"name": 7}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("field \"name\""), "{e}");
}

#[test]
fn built_in_and_reserved_names_cannot_be_registered() {
    for name in KNOWN_CLASSES.iter().chain(RESERVED_CLASSES) {
        let e = register_layer_class(name, probe).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains("a name of its own"), "{e}");
    }
    for name in ["", "1Block", "my block", "a.b", "a/b"] {
        let e = register_layer_class(name, probe).unwrap_err().to_string();
        assert!(e.contains("identifier"), "{e}");
    }
    // Built-ins still rebuild as built-ins.
    let d = layer_from_config("Dense", &serde_json::json!({"name": "d", "units": 2})).unwrap();
    assert_eq!(d.class_name(), "Dense");
}

#[test]
fn a_constructor_making_another_class_is_refused_on_lookup() {
    register_layer_class("RegistryMislabelled", probe).unwrap();
    let e = layer_from_config("RegistryMislabelled", &serde_json::json!({"name": "m"}))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("RegistryMislabelled") && e.contains("RegistryProbe"),
        "{e}"
    );
}

#[test]
fn an_unknown_class_lists_the_built_in_and_registered_ones_and_says_how_to_register() {
    register_layer_class("RegistryListed", probe).unwrap();
    let e = layer_from_config("NeverRegistered", &serde_json::json!({}))
        .err()
        .unwrap()
        .to_string();
    for part in [
        "NeverRegistered",
        "Conv2D",
        "RegistryListed",
        "register_block",
        "register_layer_class",
    ] {
        assert!(e.contains(part), "{part} missing from: {e}");
    }
}

#[test]
fn registrations_from_many_threads_agree() {
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    if i % 2 == 0 {
                        register_layer_type::<TypeA>("RegistryRace", probe)
                    } else {
                        register_layer_type::<TypeB>("RegistryRace", probe)
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Whichever type came first owns the name; every call of that type succeeds, every other fails.
    let ok: Vec<usize> = (0..8).filter(|&i| results[i].is_ok()).collect();
    assert!(
        ok.len() == 4 && (ok.iter().all(|i| i % 2 == 0) || ok.iter().all(|i| i % 2 == 1)),
        "{ok:?}"
    );
}

/// A registration in the model the registry follows.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Key {
    Probe,
    OtherProbe,
    TypeA,
    TypeB,
}

fn do_register(name: &str, key: Key) -> Result<()> {
    match key {
        Key::Probe => register_layer_class(name, probe),
        Key::OtherProbe => register_layer_class(name, other_probe),
        Key::TypeA => register_layer_type::<TypeA>(name, probe),
        Key::TypeB => register_layer_type::<TypeB>(name, probe),
    }
}

static CASE: AtomicUsize = AtomicUsize::new(0);

proptest! {
    /// Any sequence of registrations ends as the plain rule says: a valid,
    /// non-built-in name takes its first registration, the same one again
    /// succeeds, any other fails; lookups follow.
    #[test]
    fn registrations_follow_the_plain_rules(ops in proptest::collection::vec((0usize..6, 0usize..4), 1..24)) {
        let case = CASE.fetch_add(1, Ordering::Relaxed);
        let names = [
            format!("PropA{case}"),
            format!("PropB{case}"),
            format!("PropC{case}"),
            "Conv2D".to_string(),
            "Sequential".to_string(),
            format!("bad name {case}"),
        ];
        let keys = [Key::Probe, Key::OtherProbe, Key::TypeA, Key::TypeB];
        let mut model: HashMap<String, Key> = HashMap::new();
        for (n, k) in ops {
            let (name, key) = (&names[n], keys[k]);
            let expected_ok = n < 3 && model.get(name).is_none_or(|&had| had == key);
            let got = do_register(name, key);
            prop_assert_eq!(got.is_ok(), expected_ok, "{} {:?}: {:?}", name, key, got.err());
            model.entry(name.clone()).or_insert(key);
        }
        let registered = registered_classes();
        for name in &names[..3] {
            prop_assert_eq!(registered.contains(name), model.contains_key(name));
            let got = layer_from_config(name, &serde_json::json!({"name": "x"}));
            match model.get(name) {
                None => prop_assert!(got.err().unwrap().to_string().contains("unknown layer class")),
                // Every constructor here makes class RegistryProbe, not this name.
                Some(_) => prop_assert!(got.err().unwrap().to_string().contains("made a layer of class")),
            }
        }
    }
}
