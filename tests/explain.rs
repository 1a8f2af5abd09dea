//! The explain module against closed forms and invariants: on a linear
//! model every gradient method is its closed form; Integrated Gradients is
//! complete (attributions sum to f(x) − f(baseline)) with an error that
//! shrinks as steps grow; gradients agree with finite differences;
//! occluding inputs the model ignores changes nothing; Grad-CAM equals CAM
//! on a conv → global-average-pool → dense model, for Sequential and
//! functional models; the user's mistakes are errors naming what is wrong.

use ndarray::{Array2, ArrayD, Axis, IxDyn};
use neurite::explain::{
    Baseline, GradCam, GradientXInput, IntegratedGradients, Integration, Occlusion, Saliency, SmoothGrad,
    Target,
};
use neurite::prelude::*;
use proptest::prelude::*;

/// Every weight drawn uniformly from `[-scale, scale]` by a seeded generator.
fn randomize<N: Layer>(model: &mut Model<N>, seed: u64, scale: f32) {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    };
    let weights: Vec<(String, Tensor)> = model
        .get_weights_by_name()
        .into_iter()
        .map(|(name, t)| (name, t.mapv(|_| next())))
        .collect();
    model.set_weights_by_name(&weights).unwrap();
}

fn input(n: usize, d: usize, seed: u64) -> Tensor {
    Array2::from_shape_fn((n, d), |(i, j)| {
        let h = (seed ^ ((i * 31 + j * 7) as u64)).wrapping_mul(0x9E3779B97F4A7C15) >> 40;
        h as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
    })
    .into_dyn()
}

fn linear(d: usize, k: usize, seed: u64) -> Sequential {
    let mut model = Sequential::new().add(Dense::new(k).input_shape([d]));
    model.build(&[d]).unwrap();
    randomize(&mut model, seed, 1.0);
    model
}

/// The kernel column of unit `t` of a one-Dense model, as a `(d,)` vector.
fn column(model: &Sequential, t: usize) -> Vec<f32> {
    let kernel = model
        .get_weights_by_name()
        .into_iter()
        .find(|(n, _)| n.ends_with("kernel"))
        .unwrap()
        .1;
    kernel.index_axis(Axis(1), t).iter().copied().collect()
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn mlp(d: usize, k: usize, seed: u64) -> Sequential {
    let mut model = Sequential::new()
        .add(Dense::new(6).activation(Activation::Tanh).input_shape([d]))
        .add(Dense::new(k).activation(Activation::Softmax));
    model.build(&[d]).unwrap();
    randomize(&mut model, seed, 1.0);
    model
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// On f(x) = W x + b every method is its closed form.
    #[test]
    fn linear_model_closed_forms(d in 1usize..6, k in 1usize..4, n in 1usize..5, seed in any::<u64>(),
                                 base in -1.0f32..1.0, steps in 1usize..6) {
        let model = linear(d, k, seed);
        let x = input(n, d, seed);
        let t = (seed % k as u64) as usize;
        let w = column(&model, t);
        let target = Target::Unit(t);
        let raw = Saliency::new().abs(false).batch_size(2).explain(&model, &x, &target)?;
        let abs = Saliency::new().explain(&model, &x, &target)?;
        let gxi = GradientXInput::new().explain(&model, &x, &target)?;
        let smooth = SmoothGrad::new().samples(4).noise_level(0.3).seed(seed).explain(&model, &x, &target)?;
        let ig = IntegratedGradients::new().steps(steps).baseline(Baseline::Value(base)).explain(&model, &x, &target)?;
        let occ = Occlusion::new([1]).baseline(base).explain(&model, &x, &target)?;
        prop_assert_eq!(&raw.targets, &vec![t; n]);
        for i in 0..n {
            for j in 0..d {
                let xv = x[[i, j]];
                prop_assert!(close(raw.values[[i, j]], w[j], 1e-6));
                prop_assert!(close(abs.values[[i, j]], w[j].abs(), 1e-6));
                prop_assert!(close(gxi.values[[i, j]], w[j] * xv, 1e-6));
                prop_assert!(close(smooth.values[[i, j]], w[j], 1e-5));
                prop_assert!(close(ig.values[[i, j]], (xv - base) * w[j], 1e-5), "ig {} vs {}", ig.values[[i, j]], (xv - base) * w[j]);
                prop_assert!(close(occ.values[[i, j]], (xv - base) * w[j], 1e-4), "occlusion {} vs {}", occ.values[[i, j]], (xv - base) * w[j]);
            }
        }
    }

    /// Completeness: Σ attributions = f(x) − f(baseline) up to the
    /// integration error, which shrinks from 4 to 64 trapezoid steps; 32
    /// Gauss–Legendre points are already within 1e-4.
    #[test]
    fn integrated_gradients_are_complete(d in 1usize..6, n in 1usize..4, seed in any::<u64>(), base in -0.5f32..0.5) {
        let model = mlp(d, 3, seed);
        let x = input(n, d, seed.rotate_left(7));
        let f_x = model.predict(&x)?;
        let f_b = model.predict(Tensor::from_elem(x.raw_dim(), base))?;
        let gap = |ig: IntegratedGradients| -> Vec<f32> {
            let a = ig.baseline(Baseline::Value(base)).explain(&model, &x, &Target::Predicted).unwrap();
            (0..n).map(|i| (a.sample(i).sum() - (f_x[[i, a.targets[i]]] - f_b[[i, a.targets[i]]])).abs()).collect()
        };
        let coarse = gap(IntegratedGradients::new().integration(Integration::RiemannTrapezoid).steps(4));
        let fine = gap(IntegratedGradients::new().integration(Integration::RiemannTrapezoid).steps(64));
        let gauss = gap(IntegratedGradients::new().steps(32));
        let (fine_sum, coarse_sum) = (fine.iter().sum::<f32>(), coarse.iter().sum::<f32>());
        prop_assert!(fine_sum < coarse_sum || coarse_sum < 1e-5, "64 steps {fine:?} vs 4 steps {coarse:?}");
        for i in 0..n {
            prop_assert!(fine[i] < 2e-3, "trapezoid 64: {}", fine[i]);
            prop_assert!(gauss[i] < 1e-4, "gauss-legendre 32: {}", gauss[i]);
        }
    }

    /// Raw saliency equals central finite differences of the predicted
    /// probability, on a dense model and on a small convolutional one.
    #[test]
    fn gradients_match_finite_differences(seed in any::<u64>(), conv in any::<bool>()) {
        let (model, x) = if conv {
            let mut m = Sequential::new()
                .add(Conv2D::new(3, (2, 2)).activation(Activation::Tanh).input_shape([4, 4, 2]))
                .add(Flatten::new())
                .add(Dense::new(3).activation(Activation::Softmax));
            m.build(&[4, 4, 2]).unwrap();
            randomize(&mut m, seed, 0.5);
            let x = input(2, 32, seed).into_shape_with_order(IxDyn(&[2, 4, 4, 2])).unwrap();
            (m, x)
        } else {
            (mlp(5, 3, seed), input(2, 5, seed))
        };
        let a = Saliency::new().abs(false).explain(&model, &x, &Target::Predicted)?;
        let eps = 1e-2f32;
        for flat in 0..x.len() / 2 {
            let mut plus = x.clone();
            let mut minus = x.clone();
            let index = plus.shape()[1..].iter().rev().scan(flat, |rest, &len| { let v = *rest % len; *rest /= len; Some(v) }).collect::<Vec<_>>();
            let mut at = vec![0usize];
            at.extend(index.iter().rev());
            plus[IxDyn(&at)] += eps;
            minus[IxDyn(&at)] -= eps;
            let t = a.targets[0];
            let fd = (model.predict(&plus)?[[0, t]] - model.predict(&minus)?[[0, t]]) / (2.0 * eps);
            prop_assert!((fd - a.values[IxDyn(&at)]).abs() < 2e-3 + 2e-2 * fd.abs(), "at {:?}: fd {} vs {}", at, fd, a.values[IxDyn(&at)]);
        }
    }

    /// Windows over inputs the model ignores (zero weights) get exactly 0;
    /// the attribution does not depend on the batch size.
    #[test]
    fn occluding_ignored_inputs_changes_nothing(seed in any::<u64>(), n in 1usize..4, base in -1.0f32..1.0) {
        let mut model = mlp(8, 3, seed);
        let weights: Vec<(String, Tensor)> = model.get_weights_by_name().into_iter().map(|(name, mut t)| {
            if name == "dense_1.kernel" {
                t.slice_axis_mut(Axis(0), ndarray::Slice::from(4..8)).fill(0.0);
            }
            (name, t)
        }).collect();
        model.set_weights_by_name(&weights)?;
        let x = input(n, 8, seed);
        let a = Occlusion::new([2]).strides([2]).baseline(base).explain(&model, &x, &Target::Predicted)?;
        let b = Occlusion::new([2]).strides([2]).baseline(base).batch_size(1).explain(&model, &x, &Target::Predicted)?;
        prop_assert!(a.values.iter().zip(b.values.iter()).all(|(p, q)| (p - q).abs() <= 1e-6));
        for i in 0..n {
            for j in 4..8 {
                prop_assert!(a.values[[i, j]].abs() <= 1e-6, "ignored input {j}: {}", a.values[[i, j]]);
            }
        }
    }

    /// Grad-CAM on conv(linear, same) → global average pooling → dense is
    /// CAM scaled: ReLU(Σ_k V[k, t] A_k) / (h·w); Sequential and functional agree.
    #[test]
    fn grad_cam_is_cam_on_a_gap_model(seed in any::<u64>(), filters in 1usize..4, n in 1usize..3) {
        let mut seq = Sequential::new()
            .add(Conv2D::new(filters, (3, 3)).padding(Padding::Same).input_shape([5, 6, 2]))
            .add(GlobalAveragePooling2D::new())
            .add(Dense::new(3));
        seq.build(&[5, 6, 2]).unwrap();
        randomize(&mut seq, seed, 1.0);
        let inp = Input::new([5, 6, 2]);
        let h = Conv2D::new(filters, (3, 3)).padding(Padding::Same).with_name("features").call(&inp).unwrap();
        let h = GlobalAveragePooling2D::new().call(&h).unwrap();
        let out = Dense::new(3).call(&h).unwrap();
        let mut func = Model::functional(&inp, &out).unwrap();
        func.build(&[5, 6, 2]).unwrap();
        let renamed: Vec<(String, Tensor)> = seq.get_weights_by_name().into_iter()
            .map(|(name, t)| (name.replace("conv2d_1", "features"), t)).collect();
        func.set_weights_by_name(&renamed)?;
        let x = input(n, 60, seed).into_shape_with_order(IxDyn(&[n, 5, 6, 2])).unwrap();
        let target = Target::Class((seed % 3) as usize);
        let a = GradCam::new("conv2d_1").explain(&seq, &x, &target)?;
        let b = GradCam::new("features").explain(&func, &x, &target)?;
        let features = no_grad(|| seq.layers()[0].forward(&Var::constant(x.clone()), &mut ForwardContext::inference()))?.to_tensor();
        let v = seq.get_weights_by_name().into_iter().find(|(name, _)| name == "dense_1.kernel").unwrap().1;
        let t = (seed % 3) as usize;
        for i in 0..n {
            for y in 0..5 {
                for z in 0..6 {
                    let cam: f32 = (0..filters).map(|k| v[[k, t]] * features[[i, y, z, k]]).sum::<f32>().max(0.0) / 30.0;
                    prop_assert!(close(a.values[[i, y, z]], cam, 1e-4), "{} vs {}", a.values[[i, y, z]], cam);
                    prop_assert!(close(b.values[[i, y, z]], cam, 1e-4));
                }
            }
        }
    }
}

#[test]
fn smoothgrad_is_seeded_and_independent_of_the_batch_size() {
    let model = mlp(4, 3, 9);
    let x = input(3, 4, 1);
    let a = SmoothGrad::new()
        .samples(6)
        .seed(5)
        .explain(&model, &x, &Target::Predicted)
        .unwrap();
    let b = SmoothGrad::new()
        .samples(6)
        .seed(5)
        .batch_size(4)
        .explain(&model, &x, &Target::Predicted)
        .unwrap();
    let c = SmoothGrad::new()
        .samples(6)
        .seed(6)
        .explain(&model, &x, &Target::Predicted)
        .unwrap();
    assert!(a
        .values
        .iter()
        .zip(b.values.iter())
        .all(|(p, q)| (p - q).abs() < 1e-6));
    assert_ne!(a.values, c.values);
}

#[test]
fn explaining_leaves_the_weight_gradients_as_they_were() {
    let model = mlp(4, 3, 2);
    let params = model.parameters();
    for (k, p) in params.iter().enumerate() {
        p.var
            .set_grad(Some(ArrayD::from_elem(IxDyn(&p.var.shape()), k as f32)));
    }
    Saliency::new()
        .explain(&model, &input(2, 4, 3), &Target::Predicted)
        .unwrap();
    for (k, p) in params.iter().enumerate() {
        assert_eq!(
            p.var.grad().unwrap(),
            ArrayD::from_elem(IxDyn(&p.var.shape()), k as f32)
        );
    }
    let fresh = mlp(4, 3, 2);
    IntegratedGradients::new()
        .steps(3)
        .explain(&fresh, &input(2, 4, 3), &Target::Predicted)
        .unwrap();
    assert!(fresh.parameters().iter().all(|p| p.var.grad().is_none()));
}

fn cnn() -> Sequential {
    let mut model = Sequential::new()
        .add(
            Conv2D::new(4, (3, 3))
                .activation(Activation::Relu)
                .input_shape([8, 8, 1]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dense::new(3).activation(Activation::Softmax));
    model.build(&[8, 8, 1]).unwrap();
    model
}

fn message(e: neurite::Error) -> String {
    e.to_string()
}

#[test]
fn mistakes_are_errors_that_say_what_is_wrong() {
    let model = cnn();
    let x = ArrayD::<f32>::zeros(IxDyn(&[2, 8, 8, 1]));
    let e = message(
        GradCam::new("conv9")
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(
        e.contains("conv9") && e.contains("conv2d_1, max_pooling2d_1, flatten_1, dense_1"),
        "{e}"
    );
    let e = message(
        GradCam::new("flatten_1")
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(
        e.contains("flatten_1") && e.contains("Flatten") && e.contains("feature map"),
        "{e}"
    );
    let wrong = ArrayD::<f32>::zeros(IxDyn(&[2, 8, 8, 3]));
    let e = message(
        Saliency::new()
            .explain(&model, &wrong, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("saliency"), "{e}");
    let e = message(
        Saliency::new()
            .explain(&model, &x, &Target::Class(3))
            .unwrap_err(),
    );
    assert!(e.contains("class 3") && e.contains("3 output units"), "{e}");
    let e = message(
        Saliency::new()
            .explain(&model, &x, &Target::Classes(vec![0]))
            .unwrap_err(),
    );
    assert!(e.contains("1 classes for 2 samples"), "{e}");
    let e = message(
        IntegratedGradients::new()
            .steps(0)
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("steps") && e.contains("found 0"), "{e}");
    let e = message(
        IntegratedGradients::new()
            .integration(Integration::RiemannTrapezoid)
            .steps(1)
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("at least 2"), "{e}");
    let e = message(
        IntegratedGradients::new()
            .baseline(Baseline::Tensor(ArrayD::zeros(IxDyn(&[3]))))
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("baseline has shape [3]"), "{e}");
    let e = message(
        SmoothGrad::new()
            .samples(0)
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("samples"), "{e}");
    let e = message(
        SmoothGrad::new()
            .noise_level(f32::NAN)
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("noise_level"), "{e}");
    let e = message(
        Occlusion::new([9, 2])
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("axis 0") && e.contains("1..=8"), "{e}");
    let e = message(
        Occlusion::new([2, 2])
            .strides([1])
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("strides"), "{e}");
    let e = message(
        Saliency::new()
            .batch_size(0)
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("batch_size"), "{e}");
    let mut nan = x.clone();
    nan[[1, 2, 3, 0]] = f32::NAN;
    let e = message(
        Saliency::new()
            .explain(&model, &nan, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("non-finite"), "{e}");
    let unbuilt = Sequential::new().add(Dense::new(2));
    let e = message(
        Saliency::new()
            .explain(&unbuilt, &input(1, 3, 0), &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("not built"), "{e}");
    // Two outputs: which one to explain is not guessed.
    let inp = Input::new([3]);
    let (p, q) = (
        Dense::new(2).call(&inp).unwrap(),
        Dense::new(1).call(&inp).unwrap(),
    );
    let mut two = Model::functional_many(&[&inp], &[&p, &q]).unwrap();
    two.build(&[3]).unwrap();
    let e = message(
        Saliency::new()
            .explain(&two, &input(1, 3, 0), &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("one input and one output"), "{e}");
    // A model of token ids has no input gradient: gradient methods say so, occlusion works.
    let mut text = Sequential::new()
        .add(Embedding::new(10, 4).input_shape([5]))
        .add(GlobalAveragePooling1D::new())
        .add(Dense::new(2).activation(Activation::Softmax));
    text.build(&[5]).unwrap();
    let ids = ndarray::arr2(&[[1.0f32, 2.0, 3.0, 0.0, 0.0]]).into_dyn();
    let e = message(
        Saliency::new()
            .explain(&text, &ids, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("Occlusion"), "{e}");
    let a = Occlusion::new([1])
        .explain(&text, &ids, &Target::Predicted)
        .unwrap();
    assert_eq!(a.values.shape(), &[1, 5]);
}

#[test]
fn grad_cam_on_a_functional_model_through_a_fused_pair_and_a_shared_layer() {
    let inp = Input::new([8, 8, 1]);
    let c = Conv2D::new(4, (3, 3))
        .activation(Activation::Relu)
        .with_name("c")
        .call(&inp)
        .unwrap();
    let pooled = MaxPooling2D::new((2, 2)).call(&c).unwrap();
    let flat = Flatten::new().call(&pooled).unwrap();
    let shared = SharedLayer::new(Dense::new(3).with_name("shared"));
    let (a, b) = (shared.call(&flat).unwrap(), shared.call(&flat).unwrap());
    let sum = Add::new().call_many(&[&a, &b]).unwrap();
    let y = Dense::new(3).activation(Activation::Softmax).call(&sum).unwrap();
    let mut model = Model::functional(&inp, &y).unwrap();
    model.build(&[8, 8, 1]).unwrap();
    let x = ArrayD::from_shape_fn(IxDyn(&[3, 8, 8, 1]), |d| ((d[0] + d[1] * d[2]) % 7) as f32 / 6.0);
    // The conv runs fused with its pooling in predict; Grad-CAM still sees its output.
    let cam = GradCam::new("c").explain(&model, &x, &Target::Predicted).unwrap();
    assert_eq!(cam.values.shape(), &[3, 8, 8]);
    assert!(cam.values.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(cam.values.iter().any(|v| *v > 0.0));
    let predicted = model.predict(&x).unwrap();
    assert!(cam
        .outputs
        .iter()
        .zip(predicted.iter())
        .all(|(p, q)| (p - q).abs() < 1e-6));
    let e = message(
        GradCam::new("shared")
            .explain(&model, &x, &Target::Predicted)
            .unwrap_err(),
    );
    assert!(e.contains("called 2 times"), "{e}");
}
