//! `LayerStack`: the layer container behind `Sequential`, itself a `Layer`.

use super::sublayers;
use neurite_autograd::Var;
use neurite_nn::{ForwardContext, Layer, NnError, Parameter};
use neurite_rand::Generator;
use std::collections::HashMap;

/// An ordered stack of layers, each fed the previous one's output: the
/// network inside a [`crate::Sequential`]. It is a [`Layer`] itself, so stacks nest.
///
/// ```
/// use neurite::prelude::*;
/// let stack = LayerStack::new().with(Dense::new(4)).with(Dense::new(2));
/// assert_eq!(stack.layers().len(), 2);
/// assert_eq!(stack.layers()[1].name(), "dense_2");
/// ```
pub struct LayerStack {
    name: String,
    layers: Vec<Box<dyn Layer>>,
    counts: HashMap<String, usize>,
    trainable: bool,
    built: bool,
}

impl Default for LayerStack {
    fn default() -> Self {
        Self::new()
    }
}

/// Keras-style default name of a layer class: `Conv2D` -> `conv2d`, `MaxPooling2D` -> `max_pooling2d`.
pub(crate) fn snake_case(class_name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = class_name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl LayerStack {
    /// An empty stack.
    pub fn new() -> Self {
        LayerStack {
            name: "sequential".into(),
            layers: Vec::new(),
            counts: HashMap::new(),
            trainable: true,
            built: false,
        }
    }

    /// Appends a layer (builder style).
    pub fn with(mut self, layer: impl Layer + 'static) -> Self {
        self.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer. A layer still carrying its class's default
    /// name (`dense`) is renamed uniquely (`dense_1`, `dense_2`, ...), as Keras does.
    pub fn push(&mut self, mut layer: Box<dyn Layer>) {
        let base = snake_case(layer.class_name());
        if layer.name() == base || layer.name().is_empty() {
            let count = self.counts.entry(base.clone()).or_insert(0);
            *count += 1;
            layer.set_name(format!("{base}_{count}"));
        }
        self.built = false;
        self.layers.push(layer);
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Mutable access to the layers (e.g. to freeze one).
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }
}

impl Layer for LayerStack {
    fn class_name(&self) -> &'static str {
        "Sequential"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut Generator) -> neurite_nn::Result<()> {
        if self.layers.is_empty() {
            return Err(NnError::Config {
                layer: self.name.clone(),
                message: "the model has no layers".into(),
            });
        }
        let mut shape = input_shape.to_vec();
        for layer in &mut self.layers {
            if !layer.is_built() {
                layer.build(&shape, rng)?;
            }
            shape = layer.output_shape(&shape)?;
        }
        self.built = true;
        Ok(())
    }

    /// Every layer's parameter shapes in turn, each for the output shape of
    /// the layers before it; `None` when a layer does not declare its own.
    fn parameter_shapes(
        &self,
        input_shape: &[usize],
    ) -> neurite_nn::Result<Option<Vec<(String, Vec<usize>)>>> {
        if self.layers.is_empty() {
            return Err(NnError::Config {
                layer: self.name.clone(),
                message: "the model has no layers".into(),
            });
        }
        let mut shape = input_shape.to_vec();
        let mut all = Vec::new();
        for layer in &self.layers {
            match layer.parameter_shapes(&shape)? {
                Some(shapes) => all.extend(shapes),
                None => return Ok(None),
            }
            shape = layer.output_shape(&shape)?;
        }
        Ok(Some(all))
    }

    fn is_built(&self) -> bool {
        self.built && self.layers.iter().all(|l| l.is_built())
    }

    fn output_shape(&self, input_shape: &[usize]) -> neurite_nn::Result<Vec<usize>> {
        let mut shape = input_shape.to_vec();
        for layer in &self.layers {
            shape = layer.output_shape(&shape)?;
        }
        Ok(shape)
    }

    /// Each layer in turn; a run of adjacent layers with a fused kernel for
    /// this call ([`Layer::forward_fused_chain`], e.g. `Conv2D(relu)` +
    /// `MaxPooling2D`, or in inference `Conv2D` + `BatchNormalization` +
    /// `ReLU`) runs as one step.
    fn forward(&self, x: &Var, ctx: &mut ForwardContext) -> neurite_nn::Result<Var> {
        Ok(self.forward_masked(x, None, ctx)?.0)
    }

    /// The stack passes masks from layer to layer (see [`Layer::forward_masked`]).
    fn supports_masking(&self) -> bool {
        true
    }

    /// Runs the layers in order, each getting the mask the previous one's
    /// output carries (`Embedding(mask_zero=true)`, `Masking`, ...); returns
    /// the last output and its mask. Runs of adjacent layers with a fused
    /// kernel ([`Layer::forward_fused_chain`]) run fused when no mask reaches
    /// a layer that would pass one on; a fused run's output carries no mask.
    fn forward_masked(
        &self,
        x: &Var,
        mask: Option<&neurite_nn::mask::Mask>,
        ctx: &mut ForwardContext,
    ) -> neurite_nn::Result<neurite_nn::mask::Masked> {
        let mut h = x.clone();
        let mut m = mask.cloned();
        let mut i = 0;
        while i < self.layers.len() {
            let layer = &self.layers[i];
            let fusable = m.is_none() || !layer.supports_masking();
            let next: Vec<&dyn Layer> = self.layers[i + 1..].iter().take(2).map(|l| l.as_ref()).collect();
            let fused = if fusable {
                layer.forward_fused_chain(&next, &h, ctx)
            } else {
                None
            };
            ((h, m), i) = match fused {
                Some((ran, out)) => ((out?, None), i + 1 + ran),
                None => (layer.forward_masked(&h, m.as_ref(), ctx)?, i + 1),
            };
        }
        Ok((h, m))
    }

    fn parameters(&self) -> Vec<Parameter> {
        self.layers
            .iter()
            .flat_map(|l| {
                let trainable = self.trainable && l.trainable();
                l.parameters().into_iter().map(move |mut p| {
                    p.trainable &= trainable;
                    p
                })
            })
            .collect()
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    fn set_sublayer_trainable(&mut self, path: &str, trainable: bool) -> neurite_nn::Result<()> {
        let (first, rest) = sublayers::split_path(path);
        let names: Vec<String> = self.layers.iter().map(|l| l.name().to_string()).collect();
        match self
            .layers
            .iter_mut()
            .find(|l| l.name() == first && !first.is_empty())
        {
            Some(layer) => sublayers::set_within(layer.as_mut(), rest, trainable),
            None => Err(sublayers::no_such_layer(&self.name, path, first, &names)),
        }
    }

    fn frozen_sublayers(&self) -> Vec<String> {
        sublayers::frozen_paths(self.layers.iter().map(|l| l.as_ref()))
    }

    fn config(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "layers": self.layers.iter().map(|l| serde_json::json!({
                "class_name": l.class_name(),
                "config": l.config(),
            })).collect::<Vec<_>>(),
        })
    }

    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.layers.first().and_then(|l| l.declared_input_shape())
    }
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn keras_default_names() {
        assert_eq!(snake_case("Dense"), "dense");
        assert_eq!(snake_case("Conv2D"), "conv2d");
        assert_eq!(snake_case("MaxPooling2D"), "max_pooling2d");
        assert_eq!(snake_case("GlobalAveragePooling2D"), "global_average_pooling2d");
        assert_eq!(snake_case("LSTM"), "lstm");
        assert_eq!(snake_case("BatchNormalization"), "batch_normalization");
    }
}
