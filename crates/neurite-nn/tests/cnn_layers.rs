//! ZeroPadding2D, Cropping2D, UpSampling2D, ReLU, LeakyReLU and PReLU
//! (issue #16): forward against plainly written loops, backward by the norm
//! gradient check of `gc_util` (inputs, and PReLU's `alpha` by central
//! differences through the layer), configs through `layer_from_config`
//! (every Keras form of `padding`/`cropping`/`size`, bad fields refused
//! with the layer and field named), hostile sizes as errors.

mod gc_util;

use gc_util::{ag, norm_gradcheck, NormCheck};
use ndarray::{Array4, Dimension, IxDyn};
use neurite_autograd::{ops, Tensor, Var};
use neurite_nn::layers::{Cropping2D, LeakyReLU, PReLU, ReLU, UpSampling2D, ZeroPadding2D};
use neurite_nn::{layer_from_config, ForwardContext, Initializer, Layer};
use neurite_tensor::resize::Interpolation;
use proptest::prelude::*;

fn tensor(shape: Vec<usize>, lo: f32, hi: f32) -> impl Strategy<Value = Tensor> {
    let n = shape.iter().product::<usize>();
    prop::collection::vec(lo..hi, n).prop_map(move |v| Tensor::from_shape_vec(IxDyn(&shape), v).unwrap())
}

fn images() -> impl Strategy<Value = Tensor> {
    (1usize..=2, 1usize..=5, 1usize..=5, 1usize..=3)
        .prop_flat_map(|(n, h, w, c)| tensor(vec![n, h, w, c], -2.0, 2.0))
}

/// Values at least 0.05 away from each kink.
fn away_from(x: Tensor, kinks: &[f32]) -> Tensor {
    x.mapv(|mut v| {
        for &k in kinks {
            if (v - k).abs() < 0.05 {
                v = if v >= k { k + 0.05 } else { k - 0.05 };
            }
        }
        v
    })
}

fn forward(layer: &dyn Layer, x: &Tensor) -> Tensor {
    layer
        .forward(&Var::constant(x.clone()), &mut ForwardContext::inference())
        .unwrap()
        .to_tensor()
}

fn gradcheck(layer: &dyn Layer, x: Tensor) -> Result<(), TestCaseError> {
    norm_gradcheck(
        |v| ag(layer.forward(&v[0], &mut ForwardContext::training(0))),
        &[x],
        &NormCheck::default(),
    )
    .map_err(TestCaseError::fail)
}

fn x4(x: &Tensor) -> ndarray::ArrayView4<'_, f32> {
    x.view().into_dimensionality().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn zero_padding_and_cropping_match_loops(x in images(), (t, b, l, r) in (0usize..3, 0usize..3, 0usize..3, 0usize..3)) {
        let s = x.shape().to_vec();
        let zp = ZeroPadding2D::new(((t, b), (l, r)));
        let y = forward(&zp, &x);
        let xv = x4(&x);
        let want = Array4::from_shape_fn((s[0], s[1] + t + b, s[2] + l + r, s[3]), |(n, i, j, c)| {
            if i >= t && i < t + s[1] && j >= l && j < l + s[2] { xv[[n, i - t, j - l, c]] } else { 0.0 }
        });
        prop_assert_eq!(&y, &want.into_dyn());
        prop_assert_eq!(zp.output_shape(&s[1..]).unwrap(), y.shape()[1..].to_vec());
        gradcheck(&zp, x.clone())?;

        let (ct, cb) = (t.min(s[1] - 1), b.min(s[1] - 1 - t.min(s[1] - 1)));
        let (cl, cr) = (l.min(s[2] - 1), r.min(s[2] - 1 - l.min(s[2] - 1)));
        let cr_layer = Cropping2D::new(((ct, cb), (cl, cr)));
        let y = forward(&cr_layer, &x);
        let want = Array4::from_shape_fn((s[0], s[1] - ct - cb, s[2] - cl - cr, s[3]), |(n, i, j, c)| xv[[n, i + ct, j + cl, c]]);
        prop_assert_eq!(&y, &want.into_dyn());
        prop_assert_eq!(cr_layer.output_shape(&s[1..]).unwrap(), y.shape()[1..].to_vec());
        gradcheck(&cr_layer, x)?;
    }

    #[test]
    fn up_sampling_matches_loops(x in images(), (sh, sw) in (1usize..=3, 1usize..=3), bilinear in any::<bool>()) {
        let s = x.shape().to_vec();
        let mode = if bilinear { Interpolation::Bilinear } else { Interpolation::Nearest };
        let up = UpSampling2D::new((sh, sw)).interpolation(mode);
        let y = forward(&up, &x);
        let xv = x4(&x);
        // Half-pixel centers, clamped: output i reads input (i + 0.5) / s - 0.5.
        let src = |i: usize, f: usize, len: usize| -> (usize, usize, f64) {
            let p = ((i as f64 + 0.5) / f as f64 - 0.5).clamp(0.0, (len - 1) as f64);
            let lo = p.floor() as usize;
            (lo, (lo + 1).min(len - 1), p - lo as f64)
        };
        let want = Array4::from_shape_fn((s[0], s[1] * sh, s[2] * sw, s[3]), |(n, i, j, c)| {
            if !bilinear {
                return xv[[n, i / sh, j / sw, c]];
            }
            let ((y0, y1, fy), (x0, x1, fx)) = (src(i, sh, s[1]), src(j, sw, s[2]));
            let v = |a: usize, b: usize| xv[[n, a, b, c]] as f64;
            let top = v(y0, x0) + fx * (v(y0, x1) - v(y0, x0));
            let bot = v(y1, x0) + fx * (v(y1, x1) - v(y1, x0));
            (top + fy * (bot - top)) as f32
        });
        for (a, b) in y.iter().zip(want.iter()) {
            prop_assert!((a - b).abs() <= 1e-5, "{} vs {}", a, b);
        }
        prop_assert_eq!(up.output_shape(&s[1..]).unwrap(), y.shape()[1..].to_vec());
        gradcheck(&up, x)?;
    }

    #[test]
    fn relu_layers_match_the_formulas(
        x in (1usize..=3, 1usize..=6).prop_flat_map(|(n, f)| tensor(vec![n, f], -3.0, 3.0)),
        max_value in prop::option::of(0.5f32..2.5), negative_slope in 0.0f32..0.9, threshold in 0.0f32..1.0,
        leaky_slope in 0.0f32..0.9,
    ) {
        let relu = ReLU::new().negative_slope(negative_slope).threshold(threshold);
        let relu = match max_value { Some(m) => relu.max_value(m), None => relu };
        let kinks: Vec<f32> = [Some(threshold), max_value, Some(0.0)].into_iter().flatten().collect();
        let x = away_from(x, &kinks);
        let y = forward(&relu, &x);
        for (&v, &got) in x.iter().zip(&y) {
            let want = if v > threshold { max_value.map_or(v, |m| v.min(m)) } else { negative_slope * (v - threshold) };
            prop_assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "relu({}) = {} vs {}", v, got, want);
        }
        gradcheck(&relu, x.clone())?;
        let leaky = LeakyReLU::new().negative_slope(leaky_slope);
        let y = forward(&leaky, &x);
        for (&v, &got) in x.iter().zip(&y) {
            prop_assert_eq!(got, if v >= 0.0 { v } else { leaky_slope * v });
        }
        gradcheck(&leaky, x)?;
    }

    #[test]
    fn prelu_matches_loops_and_gradients(
        (x, shared) in (images(), prop::collection::vec(any::<bool>(), 3)),
        alpha_value in -0.5f32..1.0,
    ) {
        let s = x.shape().to_vec();
        let shared_axes: Vec<usize> = (1..=3).filter(|&a| shared[a - 1]).collect();
        let mut p = PReLU::new().shared_axes(shared_axes).with_name("prelu");
        p.build(&s[1..], &mut neurite_tensor::random::rng_from_seed(0)).unwrap();
        let alpha = p.parameters()[0].var.clone();
        let a_shape: Vec<usize> = (0..3).map(|i| if shared[i] { 1 } else { s[i + 1] }).collect();
        prop_assert_eq!(alpha.shape(), a_shape.clone());
        prop_assert!(alpha.to_tensor().iter().all(|&v| v == 0.0)); // zeros, Keras' default
        // Distinct slopes per element of alpha.
        let a_vals = Tensor::from_shape_fn(IxDyn(&a_shape), |i| alpha_value + 0.1 * i.slice().iter().sum::<usize>() as f32);
        alpha.set_value(a_vals.clone());
        let x = away_from(x, &[0.0]);
        let y = forward(&p, &x);
        let xv = x4(&x);
        for n in 0..s[0] { for i in 0..s[1] { for j in 0..s[2] { for c in 0..s[3] {
            let ai = [if shared[0] { 0 } else { i }, if shared[1] { 0 } else { j }, if shared[2] { 0 } else { c }];
            let v = xv[[n, i, j, c]];
            prop_assert_eq!(y[[n, i, j, c]], if v >= 0.0 { v } else { a_vals[IxDyn(&ai)] * v });
        }}}}
        gradcheck(&p, x.clone())?;
        // alpha's gradient through the layer against central differences of sum(y * r).
        let r = neurite_tensor::random::uniform(&s, -1.0, 1.0, &mut neurite_tensor::random::rng_from_seed(5));
        let loss = |p: &PReLU| -> f64 {
            let y = forward(p, &x);
            y.iter().zip(&r).map(|(&a, &b)| a as f64 * b as f64).sum()
        };
        alpha.zero_grad();
        let out = p.forward(&Var::constant(x.clone()), &mut ForwardContext::training(0)).unwrap();
        out.backward_with(r.clone()).unwrap();
        let analytic = alpha.grad().unwrap();
        for (k, idx) in ndarray::indices(IxDyn(&a_shape)).into_iter().enumerate() {
            let h = 1e-2f32;
            let mut plus = a_vals.clone();
            plus[&idx] += h;
            alpha.set_value(plus);
            let lp = loss(&p);
            let mut minus = a_vals.clone();
            minus[&idx] -= h;
            alpha.set_value(minus);
            let lm = loss(&p);
            alpha.set_value(a_vals.clone());
            let numeric = (lp - lm) / (2.0 * h as f64);
            let a = analytic.as_slice().unwrap()[k] as f64;
            prop_assert!((a - numeric).abs() <= 1e-3 * (1.0 + numeric.abs()), "alpha[{}]: {} vs {}", k, a, numeric);
        }
    }
}

#[test]
fn configs_round_trip_in_every_keras_form() {
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(ZeroPadding2D::new(((1, 2), (3, 4))).input_shape([5, 5, 1])),
        Box::new(Cropping2D::new((1, 2))),
        Box::new(UpSampling2D::new((2, 3)).interpolation(Interpolation::Bilinear)),
        Box::new(ReLU::new().max_value(6.0).negative_slope(0.1).threshold(0.5)),
        Box::new(ReLU::new()),
        Box::new(LeakyReLU::new().negative_slope(0.2)),
        Box::new(
            PReLU::new()
                .shared_axes(vec![1, 2])
                .alpha_initializer(Initializer::Constant { value: 0.25 }),
        ),
    ];
    for l in layers {
        let again = layer_from_config(l.class_name(), &l.config()).unwrap();
        assert_eq!(again.config(), l.config(), "{}", l.class_name());
        assert_eq!(again.declared_input_shape(), l.declared_input_shape());
    }
    let zp = |p: serde_json::Value| {
        layer_from_config("ZeroPadding2D", &serde_json::json!({"name": "zp", "padding": p}))
    };
    assert_eq!(
        zp(serde_json::json!(2))
            .unwrap()
            .output_shape(&[3, 3, 1])
            .unwrap(),
        vec![7, 7, 1]
    );
    assert_eq!(
        zp(serde_json::json!([1, 2]))
            .unwrap()
            .output_shape(&[3, 3, 1])
            .unwrap(),
        vec![5, 7, 1]
    );
    assert_eq!(
        zp(serde_json::json!([[1, 0], [0, 2]]))
            .unwrap()
            .output_shape(&[3, 3, 1])
            .unwrap(),
        vec![4, 5, 1]
    );
    assert_eq!(
        zp(serde_json::json!(1)).unwrap().config()["padding"],
        serde_json::json!([[1, 1], [1, 1]])
    );
    for bad in [
        serde_json::json!(-1),
        serde_json::json!([1, 2, 3]),
        serde_json::json!("same"),
    ] {
        let e = zp(bad).err().unwrap().to_string();
        assert!(e.contains("zp") && e.contains("padding"), "{e}");
    }
    let defaults = layer_from_config("ZeroPadding2D", &serde_json::json!({"name": "z"})).unwrap();
    assert_eq!(defaults.output_shape(&[2, 2, 1]).unwrap(), vec![4, 4, 1]); // Keras' default 1
    let defaults = layer_from_config("Cropping2D", &serde_json::json!({"name": "c"})).unwrap();
    assert_eq!(defaults.output_shape(&[2, 2, 1]).unwrap(), vec![2, 2, 1]); // Keras' default 0
    let defaults = layer_from_config("UpSampling2D", &serde_json::json!({"name": "u"})).unwrap();
    assert_eq!(defaults.output_shape(&[2, 2, 1]).unwrap(), vec![4, 4, 1]);
    assert_eq!(defaults.config()["interpolation"], "nearest");
    assert_eq!(defaults.config()["data_format"], "channels_last");
    let e = layer_from_config(
        "UpSampling2D",
        &serde_json::json!({"name": "u", "interpolation": "bicubic"}),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("u") && e.contains("interpolation") && e.contains("bicubic"),
        "{e}"
    );
    let e = layer_from_config("UpSampling2D", &serde_json::json!({"name": "u", "size": [2, 0]}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("size"), "{e}");
    let e = layer_from_config(
        "Cropping2D",
        &serde_json::json!({"name": "c", "data_format": "channels_first"}),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("c") && e.contains("data_format") && e.contains("channels_first"),
        "{e}"
    );
    for (field, v) in [("max_value", -1.0), ("negative_slope", -0.5), ("threshold", -2.0)] {
        let e = layer_from_config("ReLU", &serde_json::json!({"name": "r", field: v}))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("r") && e.contains(field), "{e}");
    }
    let l = layer_from_config("LeakyReLU", &serde_json::json!({"name": "l"})).unwrap();
    assert_eq!(l.config()["negative_slope"], serde_json::json!(0.3f32));
    let e = layer_from_config(
        "LeakyReLU",
        &serde_json::json!({"name": "l", "negative_slope": -1.0}),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("negative_slope"), "{e}");
    let e = layer_from_config("PReLU", &serde_json::json!({"name": "p", "shared_axes": [0]}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("p") && e.contains("shared_axes"), "{e}");
}

#[test]
fn shapes_and_hostile_sizes_are_errors() {
    let mut rng = neurite_tensor::random::rng_from_seed(0);
    let e = ZeroPadding2D::new(1)
        .with_name("zp")
        .output_shape(&[3, 3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("zp") && e.contains("(height, width, channels)"), "{e}");
    for layer in [
        Box::new(ZeroPadding2D::new(usize::MAX / 2)) as Box<dyn Layer>,
        Box::new(ZeroPadding2D::new(((1 << 40, 0), (1 << 40, 0)))),
        Box::new(UpSampling2D::new(usize::MAX)),
        Box::new(UpSampling2D::new((1 << 31, 1 << 31))),
        Box::new(Cropping2D::new((usize::MAX, 0))),
        Box::new(Cropping2D::new((2, 0))),
    ] {
        let name = layer.name().to_string();
        let e = layer.output_shape(&[4, 4, 3]).unwrap_err().to_string();
        assert!(e.contains(&name), "{e}");
        assert!(layer.parameter_shapes(&[4, 4, 3]).is_err());
        let x = Var::constant(Tensor::zeros(IxDyn(&[1, 4, 4, 3])));
        assert!(layer.forward(&x, &mut ForwardContext::inference()).is_err());
    }
    let mut big = ZeroPadding2D::new(usize::MAX);
    assert!(big.build(&[4, 4, 3], &mut rng).is_err());
    assert!(UpSampling2D::new(2)
        .forward(
            &Var::constant(Tensor::zeros(IxDyn(&[2, 3]))),
            &mut ForwardContext::inference()
        )
        .is_err());
    // PReLU: alpha would not fit; shared axis beyond the rank; forward on another shape.
    assert!(PReLU::new().parameter_shapes(&[1 << 40, 1 << 40]).is_err());
    let e = PReLU::new()
        .shared_axes(vec![3])
        .parameter_shapes(&[4, 4])
        .unwrap_err()
        .to_string();
    assert!(e.contains("p_re_lu") && e.contains("shared_axes"), "{e}");
    let mut p = PReLU::new();
    let x = Var::constant(Tensor::zeros(IxDyn(&[2, 3])));
    assert!(matches!(
        p.forward(&x, &mut ForwardContext::inference()),
        Err(neurite_nn::NnError::NotBuilt(_))
    ));
    p.build(&[3], &mut rng).unwrap();
    assert_eq!(
        p.parameter_shapes(&[3]).unwrap(),
        Some(vec![("p_re_lu.alpha".to_string(), vec![3])])
    );
    assert!(p
        .forward(
            &Var::constant(Tensor::zeros(IxDyn(&[2, 4]))),
            &mut ForwardContext::inference()
        )
        .is_err());
    // ReLU with the defaults is the plain relu op; other settings one fused op.
    let x = Var::parameter(Tensor::from_elem(IxDyn(&[2, 2]), 1.0));
    assert_eq!(
        ReLU::new()
            .forward(&x, &mut ForwardContext::training(0))
            .unwrap()
            .op_name(),
        Some("relu")
    );
    let y = ReLU::new()
        .max_value(6.0)
        .forward(&x, &mut ForwardContext::training(0))
        .unwrap();
    assert_eq!(y.op_name(), Some("relu_ext"));
    assert_eq!(ops::sum_all(&y).unwrap().item().unwrap(), 4.0);
}

/// The PReLU alpha regularizer adds its penalty in training only.
#[test]
fn prelu_regularizer_adds_a_loss_in_training() {
    let mut p = PReLU::new()
        .alpha_initializer(Initializer::Constant { value: 0.5 })
        .alpha_regularizer(neurite_nn::Regularizer::l2(0.1));
    p.build(&[2], &mut neurite_tensor::random::rng_from_seed(0))
        .unwrap();
    let x = Var::constant(Tensor::from_elem(IxDyn(&[1, 2]), -1.0));
    let mut ctx = ForwardContext::training(0);
    let y = p.forward(&x, &mut ctx).unwrap();
    assert_eq!(
        y.to_tensor().iter().copied().collect::<Vec<_>>(),
        vec![-0.5, -0.5]
    );
    let losses = ctx.take_losses();
    assert_eq!(losses.len(), 1);
    assert!((losses[0].item().unwrap() - 0.1 * 0.5).abs() < 1e-6); // 0.1 * (0.25 + 0.25)
    let mut ctx = ForwardContext::inference();
    p.forward(&x, &mut ctx).unwrap();
    assert!(ctx.take_losses().is_empty());
}
