//! `summary()`: layers, output shapes and parameter counts, as Keras prints them.

use crate::model::{LayerStack, Model};
use neurite_nn::Layer;
use std::any::Any;

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn shape_text(shape: Option<&[usize]>) -> String {
    match shape {
        Some(s) => {
            let dims: Vec<String> = std::iter::once("None".to_string())
                .chain(s.iter().map(|d| d.to_string()))
                .collect();
            if dims.len() == 2 {
                format!("({},)", dims.join(", ")).replace(",)", ")")
            } else {
                format!("({})", dims.join(", "))
            }
        }
        None => "?".to_string(),
    }
}

impl<N: Layer + 'static> Model<N> {
    /// A Keras-style table of the layers, their output shapes and
    /// parameter counts, with the totals. Shapes are known once the model
    /// is built or its first layer declares an input shape.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let model = Sequential::new().add(Dense::new(4).input_dim(3)).add(Dense::new(1));
    /// let text = model.summary();
    /// assert!(text.contains("dense_1 (Dense)"));
    /// ```
    pub fn summary(&self) -> String {
        let mut rows: Vec<(String, String, Option<usize>)> = Vec::new();
        let mut shape = self.input_shape();
        let net: &dyn Any = &self.net;
        // A graph lists its own rows (each layer's first call); other networks
        // are walked layer by layer from the input shape.
        let layers: Vec<&dyn Layer> = if let Some(graph) = net.downcast_ref::<crate::functional::Graph>() {
            rows = graph.summary_rows();
            Vec::new()
        } else if let Some(stack) = net.downcast_ref::<LayerStack>() {
            stack.layers().iter().map(|l| l.as_ref()).collect()
        } else {
            vec![&self.net as &dyn Layer]
        };
        for layer in layers {
            shape = shape.and_then(|s| layer.output_shape(&s).ok());
            let params = if layer.is_built() {
                Some(layer.parameters().iter().map(|p| p.var.len()).sum())
            } else {
                None
            };
            rows.push((
                format!("{} ({})", layer.name(), layer.class_name()),
                shape_text(shape.as_deref()),
                params,
            ));
        }
        let (trainable, non_trainable) = self.count_params();
        let line = "_".repeat(72);
        let mut out = format!("Model: \"{}\"\n{line}\n", self.net.name());
        out.push_str(&format!(
            " {:<35}{:<26}{:>10}\n",
            "Layer (type)", "Output Shape", "Param #"
        ));
        out.push_str(&format!("{}\n", "=".repeat(72)));
        for (name, shape, params) in rows {
            let p = params.map(thousands).unwrap_or_else(|| "0 (unbuilt)".into());
            out.push_str(&format!(" {name:<35}{shape:<26}{p:>10}\n"));
        }
        out.push_str(&format!("{}\n", "=".repeat(72)));
        out.push_str(&format!(
            "Total params: {}\n",
            thousands(trainable + non_trainable)
        ));
        out.push_str(&format!("Trainable params: {}\n", thousands(trainable)));
        out.push_str(&format!(
            "Non-trainable params: {}\n{line}\n",
            thousands(non_trainable)
        ));
        out
    }

    /// Prints [`Model::summary`] to standard output.
    pub fn print_summary(&self) {
        print!("{}", self.summary());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(93322), "93,322");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }

    #[test]
    fn shapes_as_keras_prints_them() {
        assert_eq!(super::shape_text(Some(&[64])), "(None, 64)");
        assert_eq!(super::shape_text(Some(&[26, 26, 32])), "(None, 26, 26, 32)");
    }
}
