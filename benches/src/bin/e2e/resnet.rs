//! The residual CNN of issue 16 (`examples/resnet.rs`), as the `resnet-train` and
//! `resnet-predict` workloads: a Conv-BN-ReLU stem, four residual blocks (16, 16,
//! 32 stride 2, 32 channels; a 1x1 Conv-BN projection on the skip where the shape
//! changes), global average pooling and Dense(10, softmax), built with the functional
//! API. Every convolution is `same`-padded and has no bias; BatchNormalization keeps
//! Keras' defaults (momentum 0.99, epsilon 1e-3).

use neurite::prelude::*;

/// Image side and the classes.
const SIDE: usize = 28;
const CLASSES: usize = 10;
/// `(filters, stride)` of the four residual blocks.
const BLOCKS: [(usize, usize); 4] = [(16, 1), (16, 1), (32, 2), (32, 1)];
/// Channels of the stem.
const STEM: usize = 16;

/// `Conv2D(filters, k x k, strides, same, no bias)` then `BatchNormalization`, with a
/// ReLU after it when `relu`.
fn conv_bn(
    x: &SymbolicTensor,
    filters: usize,
    kernel: usize,
    stride: usize,
    relu: bool,
) -> neurite::Result<SymbolicTensor> {
    let y = Conv2D::new(filters, (kernel, kernel))
        .strides((stride, stride))
        .padding(Padding::Same)
        .use_bias(false)
        .call(x)?;
    let y = BatchNormalization::new().call(&y)?;
    if relu {
        ReLU::new().call(&y)
    } else {
        Ok(y)
    }
}

/// The model, seeded with 0 and compiled with Adam and sparse categorical cross-entropy.
pub fn model() -> neurite::Result<Functional> {
    let inputs = Input::new([SIDE, SIDE, 1]);
    let mut x = conv_bn(&inputs, STEM, 3, 1, true)?;
    let mut channels = STEM;
    for (filters, stride) in BLOCKS {
        let y = conv_bn(&x, filters, 3, stride, true)?;
        let y = conv_bn(&y, filters, 3, 1, false)?;
        let skip = if stride == 1 && channels == filters {
            x
        } else {
            conv_bn(&x, filters, 1, stride, false)?
        };
        x = ReLU::new().call(&Add::new().call_many(&[&skip, &y])?)?;
        channels = filters;
    }
    let x = GlobalAveragePooling2D::new().call(&x)?;
    let outputs = Dense::new(CLASSES).activation(Activation::Softmax).call(&x)?;
    let mut model = Model::functional(&inputs, &outputs)?.seed(0);
    model.compile(Adam::default(), Loss::sparse_categorical_crossentropy(), &[])?;
    Ok(model)
}

/// Multiply-adds of a `same` convolution (`k x k`, square `stride`) on an `side x side x c`
/// sample, and the output side (`ceil(side / stride)`).
fn conv_same_macs(side: usize, c: usize, k: usize, stride: usize, filters: usize) -> (usize, usize) {
    let out = side.div_ceil(stride);
    (out * out * filters * k * k * c, out)
}

/// Forward multiply-adds of one sample: the convolutions and the dense layer
/// (BatchNormalization, ReLU, Add and the pooling are element-wise and not counted).
pub fn forward_macs() -> usize {
    let (mut macs, mut side) = conv_same_macs(SIDE, 1, 3, 1, STEM);
    let mut channels = STEM;
    for (filters, stride) in BLOCKS {
        let (a, out) = conv_same_macs(side, channels, 3, stride, filters);
        let (b, _) = conv_same_macs(out, filters, 3, 1, filters);
        macs += a + b;
        if stride != 1 || channels != filters {
            macs += conv_same_macs(side, channels, 1, stride, filters).0;
        }
        side = out;
        channels = filters;
    }
    macs + channels * CLASSES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_follow_the_layer_shapes() {
        let stem = 28 * 28 * 16 * 9;
        let block16 = 2 * 28 * 28 * 16 * 9 * 16;
        let block32_s2 = 14 * 14 * 32 * 9 * 16 + 14 * 14 * 32 * 9 * 32 + 14 * 14 * 32 * 16;
        let block32 = 2 * 14 * 14 * 32 * 9 * 32;
        assert_eq!(
            forward_macs(),
            stem + 2 * block16 + block32_s2 + block32 + 32 * 10
        );
    }

    #[test]
    fn the_model_has_the_issue_s_layers() {
        let model = model().unwrap();
        let names = model.network().layer_names();
        let count = |prefix: &str| names.iter().filter(|n| n.starts_with(prefix)).count();
        // stem + 2 per block + 1 projection = 10 convolutions, each with its BN.
        assert_eq!(count("conv2d"), 10, "{names:?}");
        assert_eq!(count("batch_normalization"), 10, "{names:?}");
        assert_eq!(count("add"), 4, "{names:?}");
        let x = ndarray::Array4::<f32>::zeros((2, 28, 28, 1)).into_dyn();
        assert_eq!(model.predict(&x).unwrap().shape(), &[2, 10]);
    }
}
