//! The rows of a functional model's `summary()` with Keras 3's "Connected
//! to" column: one row per input (`InputLayer`), then one per layer in the
//! order of its first call, each listing the tensors its calls read as
//! `layer[node][tensor]`.

use super::graph::{Graph, Slot};
use crate::summary::{shape_text, SummaryRow};

impl Graph {
    /// Whether Keras prints this graph's summary without the "Connected to"
    /// column (its `sequential_like`): one input, every call reads exactly
    /// one tensor, the output of the call just before it (the first call
    /// reads the input), and no layer is called twice. A graph with no calls
    /// is a chain too.
    pub(crate) fn is_chain(&self) -> bool {
        if self.inputs.len() != 1 {
            return false;
        }
        let reads_previous = self.nodes.iter().enumerate().all(|(i, node)| {
            let previous = match i {
                0 => Slot::Input(0),
                _ => Slot::Node(i - 1),
            };
            node.inputs == [previous]
        });
        let unshared = self.nodes.iter().all(|node| node.call_index == 0);
        reads_previous && unshared
    }

    /// Keras' name of the tensor in `slot`: `layer[node][tensor]`, where
    /// `node` is which call of the layer made it (0 for the first) and
    /// `tensor` which of that call's outputs it is (always 0: a layer call
    /// has one output); an input is `name[0][0]`.
    pub(crate) fn tensor_label(&self, slot: Slot) -> String {
        match slot {
            Slot::Input(i) => format!("{}[0][0]", self.inputs[i].name),
            Slot::Node(j) => {
                let node = &self.nodes[j];
                format!("{}[{}][0]", self.layers[node.layer].name(), node.call_index)
            }
        }
    }

    /// The summary rows: each input as `name (InputLayer)` with 0
    /// parameters and nothing connected, then each layer (`name (Class)`)
    /// with the output shape of its first call, its parameter count once
    /// built (`None` before), and the inbound tensors of all its calls in
    /// call order (Keras lists a shared layer's calls one after another).
    pub(crate) fn connected_rows(&self) -> Vec<SummaryRow> {
        let mut rows: Vec<SummaryRow> = self
            .inputs
            .iter()
            .map(|input| SummaryRow {
                name: format!("{} (InputLayer)", input.name),
                shape: shape_text(Some(&input.shape)),
                params: Some(0),
                connected_to: Vec::new(),
            })
            .collect();
        for (index, layer) in self.layers.iter().enumerate() {
            let calls: Vec<_> = self.nodes.iter().filter(|n| n.layer == index).collect();
            let Some(first) = calls.first() else {
                continue;
            };
            let params = layer
                .read()
                .ok()
                .filter(|l| l.is_built())
                .map(|l| l.parameters().iter().map(|p| p.var.len()).sum());
            rows.push(SummaryRow {
                name: format!("{} ({})", layer.name(), layer.class_name()),
                shape: shape_text(Some(&first.shape)),
                params,
                connected_to: calls
                    .iter()
                    .flat_map(|call| call.inputs.iter().map(|&slot| self.tensor_label(slot)))
                    .collect(),
            });
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    fn texts(g: &Graph) -> Vec<(String, Vec<String>)> {
        g.connected_rows()
            .into_iter()
            .map(|r| (r.name, r.connected_to))
            .collect()
    }

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn residual_rows_name_every_inbound_tensor() {
        let x = Input::new([8]);
        let h = Dense::new(8).call(&x).unwrap();
        let y = Add::new().call_many(&[&x, &h]).unwrap();
        let g = Graph::new(&[&x], &[&y]).unwrap();
        assert!(!g.is_chain());
        assert_eq!(
            texts(&g),
            vec![
                ("input_layer (InputLayer)".to_string(), owned(&[])),
                ("dense_1 (Dense)".to_string(), owned(&["input_layer[0][0]"])),
                (
                    "add_1 (Add)".to_string(),
                    owned(&["input_layer[0][0]", "dense_1[0][0]"])
                ),
            ]
        );
    }

    #[test]
    fn a_shared_layer_lists_all_its_calls_with_their_node_index() {
        let x = Input::new([4]);
        let d = SharedLayer::new(Dense::new(4).with_name("enc"));
        let a = d.call(&x).unwrap();
        let b = d.call(&a).unwrap();
        let y = Subtract::new().call_many(&[&a, &b]).unwrap();
        let g = Graph::new(&[&x], &[&y]).unwrap();
        assert!(!g.is_chain(), "a shared layer is not sequential-like");
        let rows = texts(&g);
        assert_eq!(
            rows[1],
            (
                "enc (Dense)".to_string(),
                owned(&["input_layer[0][0]", "enc[0][0]"])
            )
        );
        assert_eq!(
            rows[2],
            (
                "subtract_1 (Subtract)".to_string(),
                owned(&["enc[0][0]", "enc[1][0]"])
            )
        );
    }

    #[test]
    fn chains_are_told_apart_from_branches() {
        let x = Input::new([4]);
        let h = Dense::new(3).call(&x).unwrap();
        let y = Dense::new(2).call(&h).unwrap();
        assert!(Graph::new(&[&x], &[&y]).unwrap().is_chain());
        assert!(Graph::new(&[&x], &[&x]).unwrap().is_chain(), "no calls at all");
        // Two calls on the input side by side: not a chain.
        let a = Dense::new(2).call(&x).unwrap();
        let b = Dense::new(2).call(&x).unwrap();
        let c = Concatenate::new().call_many(&[&a, &b]).unwrap();
        assert!(!Graph::new(&[&x], &[&c]).unwrap().is_chain());
    }

    #[test]
    fn unbuilt_layers_have_no_parameter_count_and_inputs_have_zero() {
        let x = Input::new([4]);
        let y = Dense::new(2).call(&x).unwrap();
        let mut model = Model::functional(&x, &y).unwrap();
        let rows = model.network().connected_rows();
        assert_eq!(rows[0].params, Some(0));
        assert_eq!(rows[1].params, None);
        model.build(&[4]).unwrap();
        assert_eq!(model.network().connected_rows()[1].params, Some(10));
    }
}
