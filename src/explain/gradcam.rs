//! Grad-CAM: where in a convolutional layer's feature maps the evidence for
//! the target lies.

use super::attribution::Attribution;
use super::gradients::{batches, prepare, KeepWeightGrads};
use super::target::Target;
use super::upsample;
use crate::error::{Error, Result};
use crate::functional::Graph;
use crate::model::{LayerStack, Model};
use ndarray::{Array1, Array2, Axis, Slice};
use neurite_autograd::{no_grad, Var};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::Tensor;
use std::any::Any;

/// Grad-CAM (Selvaraju et al. 2017), Keras' recipe: the feature maps `A`
/// of the layer named `layer` and the gradients `G` of the target with
/// respect to them; each channel's weight is the mean of its gradients over
/// the spatial axes, the map is `ReLU(Σ_k weight_k · A_k)`, bilinearly
/// upsampled to the input's height and width (half-pixel centres, as
/// `tf.image.resize`). The maps are not normalised (Keras' recipe divides
/// by the maximum; the pictures do).
///
/// Works on `Sequential` and functional models whose named layer outputs
/// `(height, width, channels)` feature maps (or `(steps, channels)` for
/// 1-D convolutions: maps of the input's length). The values are
/// `(samples, height, width)` (`(samples, steps)`); the map keeps the
/// layer's size when the input has fewer axes than the map.
///
/// ```
/// use neurite::prelude::*;
/// use neurite::explain::{GradCam, Target};
/// let mut model = Sequential::new()
///     .add(Conv2D::new(4, (3, 3)).activation(Activation::Relu).input_shape([8, 8, 1]))
///     .add(MaxPooling2D::new((2, 2)))
///     .add(Flatten::new())
///     .add(Dense::new(3).activation(Activation::Softmax));
/// model.build(&[8, 8, 1])?;
/// let x = ndarray::Array4::<f32>::from_shape_fn((2, 8, 8, 1), |(n, i, j, _)| ((n + i * j) % 5) as f32 / 4.0).into_dyn();
/// let cam = GradCam::new("conv2d_1").explain(&model, &x, &Target::Predicted)?;
/// assert_eq!(cam.values.shape(), &[2, 8, 8]);
/// assert!(cam.values.iter().all(|&v| v >= 0.0));
/// let err = GradCam::new("dense_1").explain(&model, &x, &Target::Predicted).unwrap_err();
/// assert!(err.to_string().contains("feature map"));
/// # Ok::<(), neurite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct GradCam {
    layer: String,
    batch_size: usize,
}

/// Where the named layer's output is, in the model's network.
enum Site<'a> {
    /// The stack's layers, the layer at index `k`.
    Stack(&'a [Box<dyn Layer>], usize),
    /// A graph and the node (call) of the layer.
    Graph(&'a Graph, usize),
}

impl GradCam {
    /// Grad-CAM on the feature maps of the layer named `layer`, batches of 32.
    pub fn new(layer: impl Into<String>) -> Self {
        GradCam {
            layer: layer.into(),
            batch_size: 32,
        }
    }

    /// Samples per forward/backward pass (default 32; 0 is an error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Finds the layer and the shape of its output samples.
    fn site<'a, N: Layer + 'static>(
        &self,
        model: &'a Model<N>,
        sample: &[usize],
    ) -> Result<(Site<'a>, Vec<usize>)> {
        let net: &dyn Any = model.network();
        let unknown = |names: Vec<String>| {
            Error::Model(format!(
                "grad_cam: the model has no layer named {:?}; its layers are: {}",
                self.layer,
                names.join(", ")
            ))
        };
        if let Some(stack) = net.downcast_ref::<LayerStack>() {
            let layers = stack.layers();
            let k = layers
                .iter()
                .position(|l| l.name() == self.layer)
                .ok_or_else(|| unknown(layers.iter().map(|l| l.name().to_string()).collect()))?;
            let mut shape = sample.to_vec();
            for l in &layers[..=k] {
                shape = l.output_shape(&shape)?;
            }
            return Ok((Site::Stack(layers, k), shape));
        }
        if let Some(graph) = net.downcast_ref::<Graph>() {
            let index = graph
                .layers
                .iter()
                .position(|l| l.name() == self.layer)
                .ok_or_else(|| unknown(graph.layer_names()))?;
            let calls: Vec<usize> = (0..graph.nodes.len())
                .filter(|&j| graph.nodes[j].layer == index)
                .collect();
            let &[node] = calls.as_slice() else {
                return Err(Error::Model(format!(
                    "grad_cam: layer {:?} is called {} times in the model, so its output is not one tensor; \
                     choose a layer called once",
                    self.layer,
                    calls.len()
                )));
            };
            return Ok((Site::Graph(graph, node), graph.nodes[node].shape.clone()));
        }
        Err(Error::Model(format!(
            "grad_cam: finds layers by name in Sequential and functional models; this network is a {}",
            model.network().class_name()
        )))
    }

    /// The attributions of `x`'s samples for `target`.
    pub fn explain<N: Layer + 'static>(
        &self,
        model: &Model<N>,
        x: &Tensor,
        target: &Target,
    ) -> Result<Attribution> {
        let p = prepare(model, x, target, self.batch_size, "grad_cam")?;
        let (site, map_shape) = self.site(model, &x.shape()[1..])?;
        if !(2..=3).contains(&map_shape.len()) {
            let class = match &site {
                Site::Stack(layers, k) => layers[*k].class_name().to_string(),
                Site::Graph(g, node) => g.layers[g.nodes[*node].layer].read()?.class_name().to_string(),
            };
            return Err(Error::Model(format!(
                "grad_cam: layer {:?} ({class}) outputs samples of shape {map_shape:?}; Grad-CAM needs a convolutional \
                 feature map (height, width, channels) or (steps, channels), e.g. the last Conv2D",
                self.layer
            )));
        }
        let _denormals = neurite_tensor::denormals::DenormalScope::enter();
        let _keep = KeepWeightGrads::new(model);
        let sample = &x.shape()[1..];
        let mut maps = Vec::new();
        for (s, e) in batches(x.len_of(Axis(0)), self.batch_size) {
            let xb = x.slice_axis(Axis(0), Slice::from(s..e)).to_owned();
            let (activations, grads) = feature_gradients(&site, xb, &p.units[s..e])?;
            for (a, g) in activations.axis_iter(Axis(0)).zip(grads.axis_iter(Axis(0))) {
                maps.push(cam(a.to_owned(), g.to_owned(), sample)?);
            }
        }
        let views: Vec<_> = maps.iter().map(|m| m.view().insert_axis(Axis(0))).collect();
        let values = ndarray::concatenate(Axis(0), &views)
            .map_err(|e| Error::Model(format!("grad_cam: the maps do not stack: {e}")))?;
        Ok(Attribution {
            method: "grad_cam".into(),
            values,
            targets: p.units,
            outputs: p.outputs,
        })
    }
}

/// Runs one batch with a gradient-collecting leaf in place of the layer's
/// output; returns the activations and d target / d activations.
fn feature_gradients(site: &Site<'_>, xb: Tensor, units: &[usize]) -> Result<(Tensor, Tensor)> {
    let ctx = &mut ForwardContext::inference();
    let (leaf, out) = match *site {
        Site::Stack(layers, k) => {
            // The layers up to the chosen one record nothing; the rest start from the leaf.
            let (h, mut m) = no_grad(|| -> Result<_> {
                let (mut h, mut m) = (Var::constant(xb), None);
                for l in &layers[..=k] {
                    (h, m) = l.forward_masked(&h, m.as_ref(), ctx)?;
                }
                Ok((h, m))
            })?;
            let leaf = Var::parameter(h.to_tensor());
            let mut h = leaf.clone();
            for l in &layers[k + 1..] {
                (h, m) = l.forward_masked(&h, m.as_ref(), ctx)?;
            }
            (leaf, h)
        }
        Site::Graph(graph, node) => {
            let mut leaf = None;
            let mut tap = |v: Var| {
                let l = Var::parameter(v.to_tensor());
                leaf = Some(l.clone());
                l
            };
            let tap: &mut dyn FnMut(Var) -> Var = &mut tap;
            let (mut outs, _) = graph.run_tapped(&[Var::constant(xb)], None, Some((node, tap)), ctx)?;
            let leaf = leaf.ok_or_else(|| Error::Model("grad_cam: the chosen layer did not run".into()))?;
            (leaf, outs.remove(0).0)
        }
    };
    let shape = out.shape();
    let &[rows, k] = shape.as_slice() else {
        return Err(Error::Input(format!(
            "grad_cam: the model's output must have shape (samples, units), found {shape:?}"
        )));
    };
    let mut seed = Tensor::zeros(ndarray::IxDyn(&[rows, k]));
    for (i, &u) in units.iter().enumerate() {
        seed[[i, u]] = 1.0;
    }
    if out.requires_grad() {
        out.backward_with(seed)?;
    }
    let activations = leaf.to_tensor();
    let grads = leaf
        .take_grad()
        .unwrap_or_else(|| Tensor::zeros(activations.raw_dim()));
    Ok((activations, grads))
}

/// One sample's map: channel weights = mean gradients over the spatial
/// axes, ReLU of the weighted sum of the channels, resized to the input.
fn cam(a: Tensor, g: Tensor, input: &[usize]) -> Result<Tensor> {
    let shape_error = |e: ndarray::ShapeError| Error::Model(format!("grad_cam: {e}"));
    let spatial = a.ndim() - 1;
    let positions: usize = a.shape()[..spatial].iter().product();
    let weights = g
        .into_shape_with_order((positions, a.shape()[spatial]))
        .map_err(shape_error)?
        .mean_axis(Axis(0));
    let weights = weights.ok_or_else(|| Error::Model("grad_cam: an empty feature map".into()))?;
    let shape = a.shape()[..spatial].to_vec();
    let map = a
        .into_shape_with_order((positions, weights.len()))
        .map_err(shape_error)?
        .dot(&weights)
        .mapv(|v| v.max(0.0));
    if spatial == 2 {
        let map: Array2<f32> = map
            .into_shape_with_order((shape[0], shape[1]))
            .map_err(shape_error)?;
        let map = match input {
            [h, w, ..] => upsample::bilinear(&map, *h, *w),
            _ => map,
        };
        Ok(map.into_dyn())
    } else {
        let map: Array1<f32> = map;
        let map = match input {
            [t, ..] => upsample::linear(&map, *t),
            _ => map,
        };
        Ok(map.into_dyn())
    }
}
