//! Embedding: lookup, scatter-add backward with repeated indices, index
//! validation, Keras init, gradient check of the table.

use ndarray::{arr2, Array2};
use neurite_autograd::{gradcheck, ops, AutogradError, GradcheckOptions, Var};
use neurite_nn::layers::Embedding;
use neurite_nn::{layer_from_config, ForwardContext, Layer, NnError};
use neurite_tensor::random::{normal, rng_from_seed};

fn table() -> Var {
    Var::parameter(arr2(&[[0.0f32, 0.5], [1.0, 1.5], [2.0, 2.5], [3.0, 3.5]]).into_dyn())
}

#[test]
fn lookup_and_scatter_add() {
    let mut e = Embedding::new(4, 2);
    let t = table();
    e.set_embeddings(t.clone()).unwrap();
    let x = Var::from_array(arr2(&[[3.0f32, 1.0, 3.0], [0.0, 3.0, 2.0]]));
    let y = e.forward(&x, &mut ForwardContext::inference()).unwrap();
    assert_eq!(y.shape(), vec![2, 3, 2]);
    let yv = y.to_tensor();
    assert_eq!(yv[[0, 0, 1]], 3.5);
    assert_eq!(yv[[0, 1, 0]], 1.0);
    assert_eq!(yv[[1, 2, 1]], 2.5);
    assert_eq!(y.op_name(), Some("embedding"));
    // d sum(y) / d table: each row counts how often its index occurs.
    ops::sum_all(&y).unwrap().backward().unwrap();
    let g = t.grad().unwrap();
    assert_eq!(
        g,
        arr2(&[[1.0f32, 1.0], [1.0, 1.0], [1.0, 1.0], [3.0, 3.0]]).into_dyn()
    );
}

#[test]
fn bad_indices_are_errors_naming_layer_value_and_input_dim() {
    let mut e = Embedding::new(10, 3).with_name("words");
    e.build(&[2], &mut rng_from_seed(0)).unwrap();
    for bad in [10.0f32, -1.0, 2.5, f32::NAN] {
        let x = Var::from_array(ndarray::arr2(&[[1.0f32, bad]]));
        let err = e.forward(&x, &mut ForwardContext::inference()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("words") && msg.contains(&bad.to_string()) && msg.contains("input_dim=10"),
            "{msg}"
        );
    }
    let scalar = Var::scalar(1.0);
    assert!(matches!(
        e.forward(&scalar, &mut ForwardContext::inference()),
        Err(NnError::Shape { .. })
    ));
    let mut unbuilt = Embedding::new(3, 2);
    assert!(matches!(
        unbuilt.forward(
            &Var::from_array(ndarray::arr1(&[0.0f32])),
            &mut ForwardContext::inference()
        ),
        Err(NnError::NotBuilt(_))
    ));
    assert!(unbuilt
        .set_embeddings(Var::parameter(Array2::<f32>::zeros((2, 3)).into_dyn()))
        .is_err());
    let mut zero = Embedding::new(0, 2);
    assert!(matches!(
        zero.build(&[1], &mut rng_from_seed(0)),
        Err(NnError::Config { .. })
    ));
}

#[test]
fn keras_init_shape_and_config() {
    let mut e = Embedding::new(50, 8).input_shape([12]);
    e.build(&[12], &mut rng_from_seed(4)).unwrap();
    let p = e.parameters();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].name, "embedding.embeddings");
    assert_eq!(p[0].var.shape(), vec![50, 8]);
    let w = p[0].var.to_tensor();
    assert!(w.iter().all(|v| (-0.05..0.05).contains(v)));
    assert!(w.iter().any(|&v| v.abs() > 0.04), "values spread over the range");
    assert_eq!(e.output_shape(&[12]).unwrap(), vec![12, 8]);
    let again = layer_from_config("Embedding", &e.config()).unwrap();
    assert_eq!(again.config(), e.config());
    // mask_zero loads and survives a config round trip (the layer then makes a mask).
    let masked = layer_from_config(
        "Embedding",
        &serde_json::json!({"name": "m", "input_dim": 5, "output_dim": 2, "mask_zero": true}),
    )
    .unwrap();
    assert_eq!(masked.config()["mask_zero"], true);
    assert!(masked.supports_masking());
}

#[test]
fn gradcheck_table() {
    let e = Embedding::new(5, 3);
    let x = Var::from_array(arr2(&[[4.0f32, 0.0, 4.0], [2.0, 2.0, 1.0]]));
    let t = normal(&[5, 3], 0.0, 1.0, &mut rng_from_seed(2));
    let opts = GradcheckOptions {
        eps: 5e-3,
        atol: 1e-2,
        rtol: 1e-2,
        seed: 0,
    };
    gradcheck(
        |v| {
            let mut layer = e.clone();
            layer
                .set_embeddings(v[0].clone())
                .map_err(|e| AutogradError::Backward(e.to_string()))?;
            let y = layer
                .forward(&x, &mut ForwardContext::training(0))
                .map_err(|e| AutogradError::Backward(e.to_string()))?;
            ops::mul(&y, &y)
        },
        &[t],
        &opts,
    )
    .unwrap();
}
