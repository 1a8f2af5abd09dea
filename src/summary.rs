//! `summary()`: layers, output shapes and parameter counts, as Keras prints them.

use crate::functional::Graph;
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

/// One row of a summary table.
pub(crate) struct SummaryRow {
    /// `name (Class)`.
    pub(crate) name: String,
    /// The output shape as Keras prints it, `(None, 8)`.
    pub(crate) shape: String,
    /// The parameter count, `None` while the layer is unbuilt.
    pub(crate) params: Option<usize>,
    /// Keras' "Connected to" entries (`dense_1[0][0]`), one per inbound
    /// tensor; empty prints as `-`. Only graphs that are not chains show them.
    pub(crate) connected_to: Vec<String>,
}

/// Widths of the three columns of the sequential layout (72 characters).
const NAME_W: usize = 35;
const SHAPE_W: usize = 26;
const PARAMS_W: usize = 10;
/// Spaces between the parameter count and the "Connected to" column.
const CONNECTED_GAP: usize = 3;

fn params_text(params: Option<usize>) -> String {
    params.map(thousands).unwrap_or_else(|| "0 (unbuilt)".into())
}

/// The table of Keras' sequential layout: `Layer (type)`, `Output Shape`,
/// `Param #`, 72 characters wide (a longer entry pushes its line wider).
fn sequential_table(rows: &[SummaryRow]) -> (String, usize) {
    let width = NAME_W + SHAPE_W + PARAMS_W + 1;
    let mut out = format!(
        " {:<NAME_W$}{:<SHAPE_W$}{:>PARAMS_W$}\n",
        "Layer (type)", "Output Shape", "Param #"
    );
    out.push_str(&format!("{}\n", "=".repeat(width)));
    for row in rows {
        let (name, shape, p) = (&row.name, &row.shape, params_text(row.params));
        out.push_str(&format!(" {name:<NAME_W$}{shape:<SHAPE_W$}{p:>PARAMS_W$}\n"));
    }
    (out, width)
}

/// The widest `width(row)`, at least `at_least`.
fn column_width(rows: &[SummaryRow], at_least: usize, width: impl Fn(&SummaryRow) -> usize) -> usize {
    rows.iter().map(width).max().unwrap_or(0).max(at_least)
}

/// The table of Keras' functional layout, with the "Connected to" column:
/// one line per inbound tensor (all but the last ending in `,`), columns
/// widened to their longest entry.
fn connected_table(rows: &[SummaryRow]) -> (String, usize) {
    let name_w = column_width(rows, NAME_W, |r| r.name.chars().count() + 1);
    let shape_w = column_width(rows, SHAPE_W, |r| r.shape.chars().count() + 1);
    let params_w = column_width(rows, PARAMS_W, |r| params_text(r.params).len());
    let connected_w = column_width(rows, "Connected to".len(), |r| {
        r.connected_to
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(1)
            + 1
    });
    let width = 1 + name_w + shape_w + params_w + CONNECTED_GAP + connected_w;
    let gap = " ".repeat(CONNECTED_GAP);
    let mut out = format!(
        " {:<name_w$}{:<shape_w$}{:>params_w$}{gap}Connected to\n",
        "Layer (type)", "Output Shape", "Param #"
    );
    out.push_str(&format!("{}\n", "=".repeat(width)));
    for row in rows {
        let (name, shape, p) = (&row.name, &row.shape, params_text(row.params));
        let first = row.connected_to.first().map_or("-", String::as_str);
        let comma = if row.connected_to.len() > 1 { "," } else { "" };
        out.push_str(&format!(
            " {name:<name_w$}{shape:<shape_w$}{p:>params_w$}{gap}{first}{comma}\n"
        ));
        let blank = " ".repeat(1 + name_w + shape_w + params_w + CONNECTED_GAP);
        let rest = row.connected_to.len().saturating_sub(1);
        for (k, entry) in row.connected_to.iter().skip(1).enumerate() {
            let comma = if k + 1 < rest { "," } else { "" };
            out.push_str(&format!("{blank}{entry}{comma}\n"));
        }
    }
    (out, width)
}

impl<N: Layer + 'static> Model<N> {
    /// A Keras-style table of the layers, their output shapes and
    /// parameter counts, with the totals. Shapes are known once the model
    /// is built or its first layer declares an input shape.
    ///
    /// A functional model lists its inputs first (`input_layer
    /// (InputLayer)`), then each layer once, in the order of its first call.
    /// As in Keras 3, a functional model that is not a plain chain (it
    /// branches, merges, shares a layer or has several inputs) gets a
    /// fourth column, "Connected to": the tensors each layer's calls read,
    /// one per line, as `layer[node][tensor]` (`node` is which call of
    /// `layer` made the tensor, 0 for the first).
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let model = Sequential::new().add(Dense::new(4).input_dim(3)).add(Dense::new(1));
    /// let text = model.summary();
    /// assert!(text.contains("dense_1 (Dense)"));
    ///
    /// let x = Input::new([8]);
    /// let h = Dense::new(8).call(&x)?;
    /// let y = Add::new().call_many(&[&x, &h])?; // a residual connection
    /// let text = Model::functional(&x, &y)?.summary();
    /// assert!(text.contains("Connected to"));
    /// assert!(text.contains("input_layer[0][0],\n"));
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        let net: &dyn Any = &self.net;
        let (table, width) = if let Some(graph) = net.downcast_ref::<Graph>() {
            if graph.is_chain() {
                // Keras' sequential-like layout: the same rows, without "Connected to".
                sequential_table(&graph.connected_rows())
            } else {
                connected_table(&graph.connected_rows())
            }
        } else {
            sequential_table(&self.walked_rows())
        };
        let (trainable, non_trainable) = self.count_params();
        let line = "_".repeat(width);
        let mut out = format!("Model: \"{}\"\n{line}\n", self.net.name());
        out.push_str(&table);
        out.push_str(&format!("{}\n", "=".repeat(width)));
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

    /// The rows of a network that is not a graph: a stack's layers walked
    /// from the input shape, or the network itself as one row.
    fn walked_rows(&self) -> Vec<SummaryRow> {
        let net: &dyn Any = &self.net;
        let layers: Vec<&dyn Layer> = if let Some(stack) = net.downcast_ref::<LayerStack>() {
            stack.layers().iter().map(|l| l.as_ref()).collect()
        } else {
            vec![&self.net as &dyn Layer]
        };
        let mut shape = self.input_shape();
        layers
            .into_iter()
            .map(|layer| {
                shape = shape.take().and_then(|s| layer.output_shape(&s).ok());
                SummaryRow {
                    name: format!("{} ({})", layer.name(), layer.class_name()),
                    shape: shape_text(shape.as_deref()),
                    params: layer
                        .is_built()
                        .then(|| layer.parameters().iter().map(|p| p.var.len()).sum()),
                    connected_to: Vec::new(),
                }
            })
            .collect()
    }

    /// Prints [`Model::summary`] to standard output.
    ///
    /// ```
    /// neurite::Sequential::new().add(neurite::nn::layers::Dense::new(2).input_dim(3)).print_summary();
    /// ```
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
    fn connected_table_puts_one_inbound_tensor_per_line() {
        let row = |name: &str, params, connected: &[&str]| super::SummaryRow {
            name: name.into(),
            shape: "(None, 2)".into(),
            params,
            connected_to: connected.iter().map(|c| c.to_string()).collect(),
        };
        let (table, width) = super::connected_table(&[
            row("x (InputLayer)", Some(0), &[]),
            row("add_1 (Add)", None, &["x[0][0]", "x[0][0]", "d[1][0]"]),
        ]);
        let gap = " ".repeat(1 + 35 + 26 + 11 + 3);
        let expected = [
            format!(
                " {:<35}{:<26}{:>11}   Connected to",
                "Layer (type)", "Output Shape", "Param #"
            ),
            "=".repeat(width),
            format!(" {:<35}{:<26}{:>11}   -", "x (InputLayer)", "(None, 2)", "0"),
            format!(
                " {:<35}{:<26}{:>11}   x[0][0],",
                "add_1 (Add)", "(None, 2)", "0 (unbuilt)"
            ),
            format!("{gap}x[0][0],"),
            format!("{gap}d[1][0]"),
        ];
        assert_eq!(table, expected.join("\n") + "\n");
        assert_eq!(width, 1 + 35 + 26 + 11 + 3 + 12, "at least as wide as its header");
    }

    #[test]
    fn shapes_as_keras_prints_them() {
        assert_eq!(super::shape_text(Some(&[64])), "(None, 64)");
        assert_eq!(super::shape_text(Some(&[26, 26, 32])), "(None, 26, 26, 32)");
    }
}
