//! A picture of a model's graph as SVG (Keras'
//! `keras.utils.plot_model(model, show_shapes=True)`): one box per input and
//! per layer call, with `name (Class)` and the output shape, and an arrow
//! per connection, inputs at the top. [`layout`] places the boxes, [`svg`]
//! writes the document.

mod layout;
mod svg;

use super::graph::{Graph, Slot};
use crate::error::Result;
use crate::model::{LayerStack, Model};
use crate::summary::shape_text;
use neurite_nn::Layer;
use std::any::Any;
use std::path::Path;

/// What a picture shows: boxes in a topological order and the edges
/// between them (source index < target index).
pub(crate) struct Diagram {
    /// The model's name (the document's `<title>`).
    pub(crate) title: String,
    pub(crate) boxes: Vec<DiagramBox>,
    pub(crate) edges: Vec<(usize, usize)>,
}

/// One box: a model input or one call of a layer.
pub(crate) struct DiagramBox {
    /// `name (Class)`; a shared layer's later calls add `, call k`.
    pub(crate) label: String,
    /// The output shape, `(None, 8)`.
    pub(crate) shape: String,
    pub(crate) is_input: bool,
    /// Its tensor is one of the model's outputs.
    pub(crate) is_output: bool,
}

impl DiagramBox {
    fn new(label: String, shape: String, is_input: bool) -> Self {
        DiagramBox {
            label,
            shape,
            is_input,
            is_output: false,
        }
    }
}

impl Diagram {
    /// A graph: its inputs, then its calls in topological order; a nested
    /// graph (or any other network used as a layer) is one box.
    fn of_graph(graph: &Graph) -> Result<Diagram> {
        let mut boxes: Vec<DiagramBox> = graph
            .inputs
            .iter()
            .map(|i| {
                DiagramBox::new(
                    format!("{} (InputLayer)", i.name),
                    shape_text(Some(&i.shape)),
                    true,
                )
            })
            .collect();
        let index = |slot: Slot| match slot {
            Slot::Input(i) => i,
            Slot::Node(j) => graph.inputs.len() + j,
        };
        let mut edges = Vec::new();
        for (j, node) in graph.nodes.iter().enumerate() {
            let layer = graph.layers[node.layer].read()?;
            let mut label = format!("{} ({})", layer.name(), layer.class_name());
            if node.call_index > 0 {
                label.push_str(&format!(", call {}", node.call_index + 1));
            }
            boxes.push(DiagramBox::new(label, shape_text(Some(&node.shape)), false));
            let target = graph.inputs.len() + j;
            edges.extend(node.inputs.iter().map(|&slot| (index(slot), target)));
        }
        for &slot in &graph.outputs {
            boxes[index(slot)].is_output = true;
        }
        Ok(Diagram {
            title: graph.name().to_string(),
            boxes,
            edges,
        })
    }

    /// A chain of `layers` after an input box (when the input shape is
    /// known), shapes walked from `input_shape`; the last box is the output.
    fn of_chain(title: &str, input_shape: Option<Vec<usize>>, layers: &[&dyn Layer]) -> Diagram {
        let mut boxes = Vec::with_capacity(layers.len() + 1);
        if let Some(s) = &input_shape {
            boxes.push(DiagramBox::new(
                "input_layer (InputLayer)".into(),
                shape_text(Some(s)),
                true,
            ));
        }
        let mut shape = input_shape;
        for layer in layers {
            shape = shape.take().and_then(|s| layer.output_shape(&s).ok());
            boxes.push(DiagramBox::new(
                format!("{} ({})", layer.name(), layer.class_name()),
                shape_text(shape.as_deref()),
                false,
            ));
        }
        if let Some(last) = boxes.last_mut() {
            last.is_output = true;
        }
        let edges = (1..boxes.len()).map(|i| (i - 1, i)).collect();
        Diagram {
            title: title.to_string(),
            boxes,
            edges,
        }
    }

    /// The SVG document.
    fn to_svg(&self) -> String {
        let widths: Vec<f64> = self
            .boxes
            .iter()
            .map(|b| svg::box_width(&b.label, &b.shape))
            .collect();
        svg::render(self, &layout::layout(&widths, &self.edges))
    }
}

impl<N: Layer + 'static> Model<N> {
    /// What [`Model::to_svg`] draws.
    fn diagram(&self) -> Result<Diagram> {
        let net: &dyn Any = &self.net;
        if let Some(graph) = net.downcast_ref::<Graph>() {
            return Diagram::of_graph(graph);
        }
        let layers: Vec<&dyn Layer> = match net.downcast_ref::<LayerStack>() {
            Some(stack) => stack.layers().iter().map(|l| l.as_ref()).collect(),
            None => vec![&self.net as &dyn Layer],
        };
        Ok(Diagram::of_chain(self.net.name(), self.input_shape(), &layers))
    }

    /// A picture of the model's graph as an SVG document (Keras'
    /// `plot_model(model, show_shapes=True)`): one box per model input and
    /// per layer call, labelled `name (Class)` and with its output shape,
    /// and one arrow per connection. Inputs are at the top (green), each
    /// call one level below the deepest tensor it reads, branches side by
    /// side, outputs in orange; a connection that skips levels is drawn
    /// around the boxes it skips. A shared layer has a box per call (its
    /// later ones labelled `, call 2`, ...); a nested model is one box. A
    /// `Sequential` is a chain, with an input box when its input shape is
    /// known. The same model always gives the same text.
    ///
    /// Names longer than 60 characters are cut in the box (the whole name
    /// is in the box's tooltip); every name is XML-escaped. Errors only if
    /// a layer's lock was poisoned by a panic in another thread.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([8]);
    /// let h = Dense::new(8).activation(Activation::Relu).call(&x)?;
    /// let y = Add::new().call_many(&[&x, &h])?;
    /// let model = Model::functional(&x, &y)?;
    /// let svg = model.to_svg()?;
    /// assert!(svg.starts_with("<svg") && svg.contains("dense_1 (Dense)"));
    /// assert_eq!(svg.matches("class=\"box\"").count(), 3); // input, dense, add
    /// assert_eq!(svg.matches("class=\"edge\"").count(), 3); // x->dense, x->add, dense->add
    /// # Ok::<(), neurite::Error>(())
    /// ```
    pub fn to_svg(&self) -> Result<String> {
        Ok(self.diagram()?.to_svg())
    }

    /// Writes [`Model::to_svg`] to `path` as a whole or not at all (a
    /// temporary file beside it, synced, then renamed into place, as
    /// [`crate::History::plot`]). Errors name the file.
    ///
    /// ```
    /// use neurite::prelude::*;
    /// let x = Input::new([28, 28, 1]);
    /// let a = Conv2D::new(8, (1, 1)).call(&x)?;
    /// let b = Conv2D::new(8, (3, 3)).padding(Padding::Same).call(&x)?;
    /// let y = Concatenate::new().call_many(&[&a, &b])?;
    /// let model = Model::functional(&x, &y)?;
    /// let dir = tempfile::tempdir()?;
    /// model.plot_model(dir.path().join("model.svg"))?;
    /// assert!(std::fs::read_to_string(dir.path().join("model.svg"))?.contains("concatenate_1 (Concatenate)"));
    /// assert!(model.plot_model(dir.path()).is_err()); // a directory is in the way
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plot_model(&self, path: impl AsRef<Path>) -> Result<()> {
        Ok(neurite_data::write_atomic(
            path.as_ref(),
            self.to_svg()?.as_bytes(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

    fn count(svg: &str, what: &str) -> usize {
        svg.matches(what).count()
    }

    #[test]
    fn a_sequential_model_is_a_chain_with_its_input() {
        let model = Sequential::new()
            .add(Dense::new(4).input_dim(3))
            .add(Dense::new(2));
        let svg = model.to_svg().unwrap();
        assert_eq!(count(&svg, "class=\"box\""), 3, "{svg}");
        assert_eq!(count(&svg, "class=\"edge\""), 2);
        assert!(
            svg.contains("data-from=\"0\" data-to=\"1\"") && svg.contains("data-from=\"1\" data-to=\"2\"")
        );
        assert!(svg.contains(">(None, 4)<") && svg.contains(">(None, 2)<"));
        // No input shape: no input box, shapes unknown.
        let unknown = Sequential::new().add(Dense::new(4)).to_svg().unwrap();
        assert_eq!(count(&unknown, "class=\"box\""), 1);
        assert!(unknown.contains(">?<"));
    }

    #[test]
    fn a_shared_layer_has_a_box_per_call() {
        let d = SharedLayer::new(Dense::new(3).with_name("enc"));
        let x = Input::new([3]);
        let h = d.call(&x).unwrap();
        let h2 = SharedLayer::new(Dense::new(3)).call(&h).unwrap();
        let z = Add::new().call_many(&[&x, &h2]).unwrap();
        let w = d.call(&z).unwrap();
        let svg = Model::functional(&x, &w).unwrap().to_svg().unwrap();
        assert!(
            svg.contains(">enc (Dense)<") && svg.contains(">enc (Dense), call 2<"),
            "{svg}"
        );
        assert_eq!(count(&svg, "class=\"box\""), 5);
        // x->enc, enc->dense, x->add, dense->add, add->enc
        assert_eq!(count(&svg, "class=\"edge\""), 5);
    }

    #[test]
    fn a_nested_model_is_one_box() {
        let inner_in = Input::new([4]);
        let inner_out = Dense::new(4).call(&inner_in).unwrap();
        let mut block = Graph::new(&[&inner_in], &[&inner_out]).unwrap();
        block.set_name("block".into());
        let x = Input::new([4]);
        let y = block.call(&x).unwrap();
        let y = Dense::new(1).call(&y).unwrap();
        let svg = Model::functional(&x, &y).unwrap().to_svg().unwrap();
        assert!(svg.contains(">block (Functional)<"), "{svg}");
        assert_eq!(count(&svg, "class=\"box\""), 3);
    }

    #[test]
    fn outputs_are_marked() {
        let x = Input::new([4]);
        let y = Dense::new(2).call(&x).unwrap();
        let svg = Model::functional(&x, &y).unwrap().to_svg().unwrap();
        assert_eq!(count(&svg, "stroke-width=\"2\""), 1, "one output box");
        // A model whose output is its input: one box, an input and an output.
        let svg = Model::functional(&x, &x).unwrap().to_svg().unwrap();
        assert_eq!(count(&svg, "class=\"box\""), 1);
        assert_eq!(count(&svg, "class=\"edge\""), 0);
        assert_eq!(count(&svg, "stroke-width=\"2\""), 1);
    }
}
