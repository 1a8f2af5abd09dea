//! Rebuilding layers from their saved configuration: Keras class name plus
//! the JSON that [`Layer::config`] returned.
//!
//! ```
//! use neurite_nn::layers::Dense;
//! use neurite_nn::{layer_from_config, Activation, Layer};
//! let d = Dense::new(3).activation(Activation::Relu);
//! let again = layer_from_config(d.class_name(), &d.config())?;
//! assert_eq!(again.config(), d.config());
//! assert!(layer_from_config("Dense2", &d.config()).is_err());
//! # Ok::<(), neurite_nn::NnError>(())
//! ```
//!
//! Layers written outside neurite join at run time: [`register_layer_class`]
//! gives a class name a constructor (`neurite::register_block::<B>()` does it
//! for a user's block), and [`layer_from_config`] consults those after the
//! built-in classes.

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::layers::{
    ActivationLayer, AveragePooling2D, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling2D,
    GlobalMaxPooling2D, MaxPooling2D, Reshape,
};
use crate::layers::{
    Add, Average, Concatenate, Cropping2D, Dot, LeakyReLU, Maximum, Minimum, Multiply, PReLU, ReLU, Subtract,
    UpSampling2D, ZeroPadding2D,
};
use crate::layers::{
    AveragePooling1D, Bidirectional, Conv1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D,
    TimeDistributed,
};
use crate::layers::{BatchNormalization, Embedding, LayerNormalization, Masking, SimpleRNN, GRU, LSTM};
use crate::layers::{Conv2DTranspose, DepthwiseConv2D, SeparableConv2D};
use crate::layers::{
    MultiHeadAttention, PositionEmbedding, TokenAndPositionEmbedding, TransformerDecoder, TransformerEncoder,
};
use serde::de::DeserializeOwned;
use std::any::TypeId;
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Class names [`layer_from_config`] knows.
///
/// ```
/// assert!(neurite_nn::registry::KNOWN_CLASSES.contains(&"Conv2D"));
/// ```
pub const KNOWN_CLASSES: &[&str] = &[
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Flatten",
    "Reshape",
    "Dropout",
    "Activation",
    "BatchNormalization",
    "LayerNormalization",
    "Embedding",
    "SimpleRNN",
    "LSTM",
    "GRU",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
    "ZeroPadding2D",
    "Cropping2D",
    "UpSampling2D",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "Conv2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "Conv1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "GlobalMaxPooling1D",
    "GlobalAveragePooling1D",
    "TimeDistributed",
    "Bidirectional",
    "MultiHeadAttention",
    "PositionEmbedding",
    "TokenAndPositionEmbedding",
    "TransformerEncoder",
    "TransformerDecoder",
    "Masking",
];

/// The config of class `class_name`: a serde error names the field path
/// (`field "units": invalid type: string "eight", expected usize`), then
/// `validate` refuses values that can never work.
fn parse<T: DeserializeOwned>(class_name: &str, config: &serde_json::Value) -> Result<T> {
    let layer = config.get("name").and_then(|n| n.as_str()).unwrap_or(class_name);
    parse_config(layer, class_name, config)
}

/// `config` deserialized as a `T`, the config of class `class_name`; an
/// error names `layer` and the path of the field that does not parse
/// (`field "units": invalid type: string "eight", expected usize`), as the
/// built-in classes' errors do. For constructors given to [`register_layer_class`].
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Cfg { units: usize }
/// let c: Cfg = neurite_nn::registry::parse_config("mine_1", "Mine", &serde_json::json!({"units": 3}))?;
/// assert_eq!(c.units, 3);
/// let e = neurite_nn::registry::parse_config::<Cfg>("mine_1", "Mine", &serde_json::json!({"units": -3}))
///     .err().expect("negative");
/// assert!(e.to_string().contains("mine_1") && e.to_string().contains("field \"units\""), "{e}");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn parse_config<T: DeserializeOwned>(
    layer: &str,
    class_name: &str,
    config: &serde_json::Value,
) -> Result<T> {
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        NnError::Config {
            layer: layer.to_string(),
            message: if path == "." {
                format!("invalid {class_name} config: {inner}")
            } else {
                format!("field \"{path}\": {inner}")
            },
        }
    })
}

/// The layer `$ty` from its parsed config, refused if `validate` finds a
/// value that can never work (after `from_config`, which normalizes some fields).
macro_rules! validated {
    ($ty:ident, $class:expr, $config:expr) => {{
        let layer = $ty::from_config(parse($class, $config)?);
        layer.config_struct().validate()?;
        Box::new(layer)
    }};
}

/// The layer of Keras class `class_name` (e.g. `"Dense"`, `"Conv2D"`,
/// `"Activation"`) configured by `config` (the JSON of [`Layer::config`]),
/// unbuilt. A class that is not built in is looked up among the classes
/// given to [`register_layer_class`]. Errors name an unknown class (listing
/// the built-in and the registered ones, and saying how to register), the
/// field of the config that does not parse (its path, e.g. `field "units":
/// invalid type: string "eight", expected usize`), or the field whose value
/// can never work (each config's `validate`, e.g. [`crate::layers::DenseConfig::validate`]).
///
/// ```
/// let l = neurite_nn::layer_from_config("Dropout", &serde_json::json!({"name": "drop", "rate": 0.5}))?;
/// assert_eq!(l.name(), "drop");
/// let err = neurite_nn::layer_from_config("Transformer", &serde_json::json!({})).err().expect("unknown class");
/// assert!(err.to_string().contains("Transformer"));
/// let err = neurite_nn::layer_from_config("Dense", &serde_json::json!({"name": "dense_1", "units": "eight"}))
///     .err().expect("not a number");
/// assert!(err.to_string().contains("dense_1") && err.to_string().contains("field \"units\""));
/// let err = neurite_nn::layer_from_config("Dropout", &serde_json::json!({"name": "drop", "rate": 2.5}))
///     .err().expect("rate out of range");
/// assert!(err.to_string().contains("drop") && err.to_string().contains("rate"));
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn layer_from_config(class_name: &str, config: &serde_json::Value) -> Result<Box<dyn Layer>> {
    Ok(match class_name {
        "Dense" => validated!(Dense, class_name, config),
        "Conv2D" => validated!(Conv2D, class_name, config),
        "MaxPooling2D" => validated!(MaxPooling2D, class_name, config),
        "AveragePooling2D" => validated!(AveragePooling2D, class_name, config),
        "GlobalAveragePooling2D" => validated!(GlobalAveragePooling2D, class_name, config),
        "GlobalMaxPooling2D" => validated!(GlobalMaxPooling2D, class_name, config),
        "Flatten" => validated!(Flatten, class_name, config),
        "Reshape" => validated!(Reshape, class_name, config),
        "Dropout" => validated!(Dropout, class_name, config),
        "Activation" => validated!(ActivationLayer, class_name, config),
        "BatchNormalization" => validated!(BatchNormalization, class_name, config),
        "LayerNormalization" => validated!(LayerNormalization, class_name, config),
        "Embedding" => validated!(Embedding, class_name, config),
        "SimpleRNN" => validated!(SimpleRNN, class_name, config),
        "LSTM" => validated!(LSTM, class_name, config),
        "GRU" => validated!(GRU, class_name, config),
        "Add" => validated!(Add, class_name, config),
        "Subtract" => validated!(Subtract, class_name, config),
        "Multiply" => validated!(Multiply, class_name, config),
        "Average" => validated!(Average, class_name, config),
        "Maximum" => validated!(Maximum, class_name, config),
        "Minimum" => validated!(Minimum, class_name, config),
        "Concatenate" => validated!(Concatenate, class_name, config),
        "Dot" => validated!(Dot, class_name, config),
        "ZeroPadding2D" => validated!(ZeroPadding2D, class_name, config),
        "Cropping2D" => validated!(Cropping2D, class_name, config),
        "UpSampling2D" => validated!(UpSampling2D, class_name, config),
        "ReLU" => validated!(ReLU, class_name, config),
        "LeakyReLU" => validated!(LeakyReLU, class_name, config),
        "PReLU" => validated!(PReLU, class_name, config),
        "Conv2DTranspose" => validated!(Conv2DTranspose, class_name, config),
        "DepthwiseConv2D" => validated!(DepthwiseConv2D, class_name, config),
        "SeparableConv2D" => validated!(SeparableConv2D, class_name, config),
        "Conv1D" => validated!(Conv1D, class_name, config),
        "MaxPooling1D" => validated!(MaxPooling1D, class_name, config),
        "AveragePooling1D" => validated!(AveragePooling1D, class_name, config),
        "GlobalMaxPooling1D" => validated!(GlobalMaxPooling1D, class_name, config),
        "GlobalAveragePooling1D" => validated!(GlobalAveragePooling1D, class_name, config),
        "TimeDistributed" => Box::new(TimeDistributed::from_config(config)?),
        "Bidirectional" => Box::new(Bidirectional::from_config(config)?),
        "MultiHeadAttention" => validated!(MultiHeadAttention, class_name, config),
        "PositionEmbedding" => validated!(PositionEmbedding, class_name, config),
        "TokenAndPositionEmbedding" => validated!(TokenAndPositionEmbedding, class_name, config),
        "TransformerEncoder" => validated!(TransformerEncoder, class_name, config),
        "Masking" => validated!(Masking, class_name, config),
        "TransformerDecoder" => validated!(TransformerDecoder, class_name, config),
        other => return registered_layer(other, config),
    })
}

/// Class names a user class may not take besides the built-in layers
/// ([`KNOWN_CLASSES`]): the umbrella's networks, which its loaders rebuild
/// themselves.
///
/// ```
/// assert!(neurite_nn::registry::RESERVED_CLASSES.contains(&"Functional"));
/// ```
pub const RESERVED_CLASSES: &[&str] = &["Sequential", "Functional", "InputLayer"];

/// What [`register_layer_class`] takes: a function rebuilding a layer of
/// one user-defined class, unbuilt, from the JSON its [`Layer::config`]
/// returned (errors naming the layer and the field, as the built-in classes').
///
/// ```
/// let flatten: neurite_nn::registry::LayerConstructor =
///     |config| neurite_nn::layer_from_config("Flatten", config);
/// assert_eq!(flatten(&serde_json::json!({"name": "f"}))?.name(), "f");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub type LayerConstructor = fn(&serde_json::Value) -> Result<Box<dyn Layer>>;

/// Who registered a class: a plain function (compared by address) or a
/// Rust type (compared by `TypeId`: a generic constructor's address may
/// differ between codegen units).
#[derive(Clone, Copy)]
enum Origin {
    Function,
    Type(TypeId, &'static str),
}

#[derive(Clone, Copy)]
struct Registration {
    constructor: LayerConstructor,
    origin: Origin,
}

impl Registration {
    /// Whether registering `other` again is the same registration (allowed).
    fn same(&self, other: &Registration) -> bool {
        match (self.origin, other.origin) {
            (Origin::Function, Origin::Function) => std::ptr::fn_addr_eq(self.constructor, other.constructor),
            (Origin::Type(a, _), Origin::Type(b, _)) => a == b,
            _ => false,
        }
    }

    fn describe(&self) -> String {
        match self.origin {
            Origin::Function => "a constructor function".to_string(),
            Origin::Type(_, name) => format!("the type {name}"),
        }
    }
}

/// The user classes, by name; every process starts with none.
static REGISTERED: RwLock<BTreeMap<String, Registration>> = RwLock::new(BTreeMap::new());

/// The registry for reading. A panic while the lock was held cannot leave
/// the map half-updated (every update is one `insert`), so a poisoned lock
/// is still read.
fn registered() -> std::sync::RwLockReadGuard<'static, BTreeMap<String, Registration>> {
    REGISTERED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Errors unless `class_name` can name a user class: an identifier
/// (`[A-Za-z_][A-Za-z0-9_]*`) that is neither a built-in layer class
/// ([`KNOWN_CLASSES`]) nor one of the [`RESERVED_CLASSES`].
///
/// ```
/// use neurite_nn::registry::check_user_class_name;
/// assert!(check_user_class_name("ResidualBlock").is_ok());
/// assert!(check_user_class_name("Dense").unwrap_err().to_string().contains("built-in"));
/// assert!(check_user_class_name("Functional").is_err());
/// assert!(check_user_class_name("my block").is_err());
/// ```
pub fn check_user_class_name(class_name: &str) -> Result<()> {
    let bad = |message: String| {
        Err(NnError::Config {
            layer: class_name.to_string(),
            message,
        })
    };
    let mut chars = class_name.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        return bad(format!(
            "a layer class name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), found {class_name:?}"
        ));
    }
    if KNOWN_CLASSES.contains(&class_name) {
        return bad(format!(
            "{class_name:?} is a built-in layer class: a user-defined class needs a name of its own"
        ));
    }
    if RESERVED_CLASSES.contains(&class_name) {
        return bad(format!(
            "{class_name:?} is reserved for neurite's models: a user-defined class needs a name of its own"
        ));
    }
    Ok(())
}

fn register(class_name: &str, registration: Registration) -> Result<()> {
    check_user_class_name(class_name)?;
    let mut map = REGISTERED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match map.get(class_name) {
        Some(existing) if existing.same(&registration) => Ok(()),
        Some(existing) => Err(NnError::Config {
            layer: class_name.to_string(),
            message: format!(
                "class {class_name:?} is already registered by {}, and {} cannot replace it: \
                 one class name rebuilds one kind of layer (rename one of the classes)",
                existing.describe(),
                registration.describe()
            ),
        }),
        None => {
            map.insert(class_name.to_string(), registration);
            Ok(())
        }
    }
}

/// Teaches [`layer_from_config`] (and so `Sequential::load` and
/// `Functional::load`) a user-defined layer class: `constructor` rebuilds a
/// layer of class `class_name` from its config. Safe to call from several
/// threads, and again with the same function (nothing changes).
///
/// Errors, changing nothing, when `class_name` is not an identifier, is a
/// built-in class or one of the [`RESERVED_CLASSES`] (a user class never
/// shadows a built-in one), or is already registered with another
/// constructor. For a generic constructor use [`register_layer_type`], which
/// recognises a repeated registration by type.
///
/// ```
/// use neurite_nn::registry::{register_layer_class, registered_classes};
/// // A user class rebuilt from its config: here, a Flatten with its own class name.
/// fn rebuild(config: &serde_json::Value) -> neurite_nn::Result<Box<dyn neurite_nn::Layer>> {
///     Ok(Box::new(MyFlatten(neurite_nn::layer_from_config("Flatten", config)?)))
/// }
/// # struct MyFlatten(Box<dyn neurite_nn::Layer>);
/// # impl neurite_nn::Layer for MyFlatten {
/// #     fn class_name(&self) -> &'static str { "MyFlatten" }
/// #     fn name(&self) -> &str { self.0.name() }
/// #     fn set_name(&mut self, name: String) { self.0.set_name(name) }
/// #     fn build(&mut self, s: &[usize], rng: &mut neurite_rand::Generator) -> neurite_nn::Result<()> { self.0.build(s, rng) }
/// #     fn is_built(&self) -> bool { self.0.is_built() }
/// #     fn output_shape(&self, s: &[usize]) -> neurite_nn::Result<Vec<usize>> { self.0.output_shape(s) }
/// #     fn forward(&self, x: &neurite_autograd::Var, ctx: &mut neurite_nn::ForwardContext) -> neurite_nn::Result<neurite_autograd::Var> { self.0.forward(x, ctx) }
/// #     fn parameters(&self) -> Vec<neurite_nn::Parameter> { vec![] }
/// #     fn trainable(&self) -> bool { true }
/// #     fn set_trainable(&mut self, _: bool) {}
/// #     fn config(&self) -> serde_json::Value { self.0.config() }
/// # }
/// register_layer_class("MyFlatten", rebuild)?;
/// register_layer_class("MyFlatten", rebuild)?; // again: nothing changes
/// assert!(registered_classes().contains(&"MyFlatten".to_string()));
/// let layer = neurite_nn::layer_from_config("MyFlatten", &serde_json::json!({"name": "flat"}))?;
/// assert_eq!((layer.class_name(), layer.name()), ("MyFlatten", "flat"));
/// // A built-in name is refused.
/// assert!(register_layer_class("Dense", rebuild).is_err());
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn register_layer_class(class_name: &str, constructor: LayerConstructor) -> Result<()> {
    register(
        class_name,
        Registration {
            constructor,
            origin: Origin::Function,
        },
    )
}

/// [`register_layer_class`] for the class of the Rust type `T`: registering
/// again for the same `T` changes nothing, for another type (or through
/// [`register_layer_class`]) is an error. Meant for generic constructors
/// such as `neurite::register_block::<B>()`, whose function address may
/// differ from one codegen unit to the next.
///
/// ```
/// use neurite_nn::registry::register_layer_type;
/// struct Marker;
/// fn rebuild(config: &serde_json::Value) -> neurite_nn::Result<Box<dyn neurite_nn::Layer>> {
///     neurite_nn::layer_from_config("Flatten", config)
/// }
/// register_layer_type::<Marker>("MarkedFlatten", rebuild)?;
/// register_layer_type::<Marker>("MarkedFlatten", rebuild)?;
/// let e = register_layer_type::<String>("MarkedFlatten", rebuild).unwrap_err().to_string();
/// assert!(e.contains("MarkedFlatten") && e.contains("Marker") && e.contains("String"), "{e}");
/// # Ok::<(), neurite_nn::NnError>(())
/// ```
pub fn register_layer_type<T: ?Sized + 'static>(
    class_name: &str,
    constructor: LayerConstructor,
) -> Result<()> {
    register(
        class_name,
        Registration {
            constructor,
            origin: Origin::Type(TypeId::of::<T>(), std::any::type_name::<T>()),
        },
    )
}

/// The user-defined classes registered so far, sorted.
///
/// ```
/// let before = neurite_nn::registry::registered_classes();
/// assert!(before.windows(2).all(|w| w[0] < w[1]));
/// ```
pub fn registered_classes() -> Vec<String> {
    registered().keys().cloned().collect()
}

/// The layer of registered class `class_name`, or the unknown-class error.
fn registered_layer(class_name: &str, config: &serde_json::Value) -> Result<Box<dyn Layer>> {
    let found = registered().get(class_name).copied();
    let Some(registration) = found else {
        let registered = registered_classes();
        return Err(NnError::Config {
            layer: class_name.to_string(),
            message: format!(
                "unknown layer class {class_name:?}; built-in classes: {}; registered classes: {}. \
                 A user-defined block or layer must be registered before a model holding it is loaded \
                 (neurite::register_block::<YourBlock>() or neurite_nn::registry::register_layer_class)",
                KNOWN_CLASSES.join(", "),
                if registered.is_empty() {
                    "none".to_string()
                } else {
                    registered.join(", ")
                }
            ),
        });
    };
    // The lock is released: a constructor may itself rebuild registered layers.
    let layer = (registration.constructor)(config)?;
    if layer.class_name() != class_name {
        return Err(NnError::Config {
            layer: layer.name().to_string(),
            message: format!(
                "the constructor registered for class {class_name:?} made a layer of class {:?}: \
                 it would be saved under another name than it was loaded by",
                layer.class_name()
            ),
        });
    }
    Ok(layer)
}

#[cfg(test)]
mod tests;
