//! `GraphBuilder`: collects ONNX nodes and weights with unique value names.

use super::proto::{
    attribute_type, AttributeProto, NodeProto, TensorProto, DATA_TYPE_FLOAT, DATA_TYPE_INT64,
};
use std::collections::{HashMap, HashSet};

/// The nodes and initializers of the graph being written, in the order they are added
/// (each converter adds its nodes after those of the values it reads, so the order is topological).
#[derive(Default)]
pub(crate) struct GraphBuilder {
    pub(crate) nodes: Vec<NodeProto>,
    pub(crate) initializers: Vec<TensorProto>,
    names: HashSet<String>,
    /// Weights already written, by the key their converter gave (a shared layer's kernel once).
    weights: HashMap<String, String>,
    /// The layer whose nodes are being added (node names and doc strings carry it).
    pub(crate) layer: String,
}

/// Turns a string into a value-name fragment (ONNX names are free text, but plain ones read better).
fn clean(base: &str) -> String {
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '/' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl GraphBuilder {
    /// A value name starting with `base` that no other value has.
    pub(crate) fn fresh(&mut self, base: &str) -> String {
        let base = clean(base);
        let mut name = base.clone();
        let mut n = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// Reserves an exact name (a graph input or output); `false` if it is taken.
    pub(crate) fn reserve(&mut self, name: &str) -> bool {
        self.names.insert(name.to_string())
    }

    /// A float constant of `shape` (row-major `data`).
    pub(crate) fn constant_f32(&mut self, base: &str, shape: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let name = self.fresh(base);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: DATA_TYPE_FLOAT,
            name: name.clone(),
            raw_data: raw,
        });
        name
    }

    /// A float constant written once per `key`: later calls with the same key return the first name.
    pub(crate) fn weight(
        &mut self,
        key: &str,
        base: &str,
        make: impl FnOnce() -> (Vec<usize>, Vec<f32>),
    ) -> String {
        if let Some(name) = self.weights.get(key) {
            return name.clone();
        }
        let (shape, data) = make();
        let name = self.constant_f32(base, &shape, &data);
        self.weights.insert(key.to_string(), name.clone());
        name
    }

    /// A one-dimensional int64 constant (shapes, axes, pads).
    pub(crate) fn constant_i64(&mut self, base: &str, data: &[i64]) -> String {
        let name = self.fresh(base);
        self.initializers.push(TensorProto {
            dims: vec![data.len() as i64],
            data_type: DATA_TYPE_INT64,
            name: name.clone(),
            raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// A scalar float constant.
    pub(crate) fn scalar_f32(&mut self, base: &str, value: f32) -> String {
        self.constant_f32(base, &[], &[value])
    }

    /// Adds a node with the given outputs.
    pub(crate) fn node_with_outputs(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[String],
        attributes: Vec<AttributeProto>,
    ) {
        let name = self.fresh(&format!("{}/{op}", self.layer));
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.to_vec(),
            name,
            op_type: op.to_string(),
            attribute: attributes,
            doc_string: format!("neurite layer {}", self.layer),
            domain: String::new(),
        });
    }

    /// Adds a one-output node and returns its output's name.
    pub(crate) fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let out = self.fresh(&format!("{}/{}", self.layer, op.to_lowercase()));
        self.node_with_outputs(op, inputs, std::slice::from_ref(&out), attributes);
        out
    }

    /// `Transpose(x, perm)`.
    pub(crate) fn transpose(&mut self, x: &str, perm: &[usize]) -> String {
        self.node(
            "Transpose",
            &[x],
            vec![ints("perm", perm.iter().map(|&p| p as i64))],
        )
    }

    /// `Reshape(x, shape)` with a constant target (0 copies the input's size, -1 is inferred).
    pub(crate) fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let s = self.constant_i64("shape", shape);
        self.node("Reshape", &[x, &s], vec![])
    }

    /// `MatMul(x, w)` then `Add(bias)` when there is one.
    pub(crate) fn matmul_add(&mut self, x: &str, w: &str, bias: Option<&str>) -> String {
        let y = self.node("MatMul", &[x, w], vec![]);
        match bias {
            Some(b) => self.node("Add", &[&y, b], vec![]),
            None => y,
        }
    }
}

/// An integer attribute.
pub(crate) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: value,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

/// A float attribute.
pub(crate) fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f: value,
        r#type: attribute_type::FLOAT,
        ..Default::default()
    }
}

/// An integer-list attribute.
pub(crate) fn ints(name: &str, values: impl IntoIterator<Item = i64>) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: values.into_iter().collect(),
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

/// A string attribute.
pub(crate) fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: value.as_bytes().to_vec(),
        r#type: attribute_type::STRING,
        ..Default::default()
    }
}

/// A string-list attribute.
pub(crate) fn strings(name: &str, values: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        strings: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
        r#type: attribute_type::STRINGS,
        ..Default::default()
    }
}
