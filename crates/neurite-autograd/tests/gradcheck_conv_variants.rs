//! `ops::conv2d_transpose` and `ops::depthwise_conv2d` against finite
//! differences through the input, the kernel and the bias, for every
//! padding, stride / dilation (and output padding, depth multiplier) choice
//! on random small shapes; plus the op's errors and `no_grad` behaviour.

use neurite_autograd::{gradcheck, no_grad, ops, GradcheckOptions, Tensor, Var};
use neurite_tensor::random::{normal, rng_from_seed};
use neurite_tensor::{Conv2dParams, Conv2dTransposeParams, Padding};
use proptest::prelude::*;

fn padding(same: bool) -> Padding {
    if same {
        Padding::Same
    } else {
        Padding::Valid
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_transpose_gradients(n in 1usize..3, h in 1usize..4, w in 1usize..4, c in 1usize..3, f in 1usize..3,
                                  k in 1usize..4, seed in 0u64..1000) {
        for same in [false, true] {
            for (s, d, op) in [(1, 1, None), (2, 1, None), (2, 1, Some((1, 0))), (3, 1, Some((2, 1))), (1, 2, None)] {
                let p = Conv2dTransposeParams { strides: (s, s), padding: padding(same), dilation: (d, d), output_padding: op };
                let mut rng = rng_from_seed(seed);
                let inputs = vec![
                    normal(&[n, h, w, c], 0.0, 1.0, &mut rng),
                    normal(&[k, k, f, c], 0.0, 1.0, &mut rng),
                    normal(&[f], 0.0, 1.0, &mut rng),
                ];
                let r = gradcheck(|v| ops::conv2d_transpose(&v[0], &v[1], Some(&v[2]), &p), &inputs,
                    &GradcheckOptions::default());
                prop_assert!(r.is_ok(), "{:?}: {:?}", p, r);
            }
        }
    }

    #[test]
    fn depthwise_conv2d_gradients(n in 1usize..3, h in 3usize..6, w in 3usize..6, c in 1usize..4, m in 1usize..3,
                                  k in 1usize..4, seed in 0u64..1000) {
        for same in [false, true] {
            for (s, d) in [(1, 1), (2, 1), (1, 2), (2, 2)] {
                let p = Conv2dParams { strides: (s, s), padding: padding(same), dilation: (d, d) };
                if (k - 1) * d + 1 > h.min(w) && !same {
                    continue; // the dilated kernel does not fit: an error, tested below
                }
                let mut rng = rng_from_seed(seed);
                let inputs = vec![
                    normal(&[n, h, w, c], 0.0, 1.0, &mut rng),
                    normal(&[k, k, c, m], 0.0, 1.0, &mut rng),
                    normal(&[c * m], 0.0, 1.0, &mut rng),
                ];
                let r = gradcheck(|v| ops::depthwise_conv2d(&v[0], &v[1], Some(&v[2]), &p), &inputs,
                    &GradcheckOptions::default());
                prop_assert!(r.is_ok(), "{:?}: {:?}", p, r);
                let r = gradcheck(|v| ops::depthwise_conv2d(&v[0], &v[1], None, &p), &inputs[..2],
                    &GradcheckOptions::default());
                prop_assert!(r.is_ok(), "{:?} without bias: {:?}", p, r);
            }
        }
    }
}

#[test]
fn errors_name_the_op() {
    let x = Var::from_array(ndarray::Array4::<f32>::ones((1, 4, 4, 2)));
    let k = Var::parameter(Tensor::ones(ndarray::IxDyn(&[3, 3, 3, 2])));
    let bad_bias = Var::parameter(Tensor::ones(ndarray::IxDyn(&[2, 1])));
    let p = Conv2dTransposeParams::default();
    let e = ops::conv2d_transpose(&x, &k, Some(&bad_bias), &p)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv2d_transpose"), "{e}");
    let k3 = Var::parameter(Tensor::ones(ndarray::IxDyn(&[3, 3, 2])));
    assert!(ops::conv2d_transpose(&x, &k3, None, &p).is_err());
    let dp = Conv2dParams {
        dilation: (3, 3),
        ..Conv2dParams::default()
    };
    let kd = Var::parameter(Tensor::ones(ndarray::IxDyn(&[3, 3, 2, 1])));
    let e = ops::depthwise_conv2d(&x, &kd, None, &dp).unwrap_err().to_string();
    assert!(e.contains("depthwise_conv2d"), "{e}");
}

#[test]
fn no_grad_records_nothing_and_gradients_skip_constant_inputs() {
    let x = Var::from_array(ndarray::Array4::<f32>::ones((2, 3, 3, 2)));
    let k = Var::parameter(Tensor::ones(ndarray::IxDyn(&[2, 2, 2, 1])));
    let y = no_grad(|| ops::depthwise_conv2d(&x, &k, None, &Conv2dParams::default())).unwrap();
    assert!(!y.requires_grad());
    let y = ops::depthwise_conv2d(&x, &k, None, &Conv2dParams::default()).unwrap();
    ops::sum_all(&y).unwrap().backward().unwrap();
    assert!(x.grad().is_none());
    // Every kernel tap sees the 2 images x 2x2 windows of ones.
    assert!(k.grad().unwrap().iter().all(|&g| g == 8.0));
}
