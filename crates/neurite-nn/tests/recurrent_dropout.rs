//! `dropout` and `recurrent_dropout` on the recurrent layers, seen from the
//! layer: inference ignores them, training draws its masks from the
//! context's seeded stream (same seed, same output), and gradients flow.
//! The masks' placement is checked against Keras in the crate's unit tests
//! (`src/layers/recurrent/step_loop_tests.rs`).

use neurite_autograd::{ops, Var};
use neurite_nn::layers::{Bidirectional, SimpleRNN, GRU, LSTM};
use neurite_nn::{ForwardContext, Layer};
use neurite_tensor::random::{normal, rng_from_seed};

/// The four cells with the given rates, all returning sequences.
fn layers(dropout: f32, recurrent_dropout: f32) -> Vec<Box<dyn Layer>> {
    vec![
        Box::new(
            SimpleRNN::new(4)
                .dropout(dropout)
                .recurrent_dropout(recurrent_dropout)
                .return_sequences(true),
        ),
        Box::new(
            LSTM::new(4)
                .dropout(dropout)
                .recurrent_dropout(recurrent_dropout)
                .return_sequences(true),
        ),
        Box::new(
            GRU::new(4)
                .dropout(dropout)
                .recurrent_dropout(recurrent_dropout)
                .return_sequences(true),
        ),
        Box::new(
            GRU::new(4)
                .reset_after(false)
                .dropout(dropout)
                .recurrent_dropout(recurrent_dropout)
                .return_sequences(true),
        ),
    ]
}

fn built(mut layer: Box<dyn Layer>) -> Box<dyn Layer> {
    layer.build(&[6, 3], &mut rng_from_seed(1)).unwrap();
    layer
}

#[test]
fn inference_ignores_dropout_and_training_applies_it_deterministically() {
    let x = Var::constant(normal(&[5, 6, 3], 0.0, 1.0, &mut rng_from_seed(2)));
    for rates in [(0.5, 0.0), (0.0, 0.5), (0.3, 0.4)] {
        for (with, without) in layers(rates.0, rates.1).into_iter().zip(layers(0.0, 0.0)) {
            let (with, without) = (built(with), built(without));
            let name = with.class_name();
            let plain = without
                .forward(&x, &mut ForwardContext::inference())
                .unwrap()
                .to_tensor();
            let inferred = with
                .forward(&x, &mut ForwardContext::inference())
                .unwrap()
                .to_tensor();
            assert_eq!(inferred, plain, "{name} {rates:?}: inference ignores dropout");
            let train = |seed| {
                with.forward(&x, &mut ForwardContext::training(seed))
                    .unwrap()
                    .to_tensor()
            };
            let (a, b, c) = (train(7), train(7), train(8));
            assert_eq!(a, b, "{name} {rates:?}: same seed, same masks");
            assert_ne!(a, c, "{name} {rates:?}: another seed, other masks");
            assert_ne!(a, plain, "{name} {rates:?}: training drops something");
            // Without dropout a training pass is the inference pass.
            let no_drop = without
                .forward(&x, &mut ForwardContext::training(7))
                .unwrap()
                .to_tensor();
            assert_eq!(
                no_drop, plain,
                "{name}: a training pass without dropout changes nothing"
            );
        }
    }
}

#[test]
fn gradients_reach_every_weight_under_recurrent_dropout() {
    let x = Var::parameter(normal(&[3, 6, 3], 0.0, 1.0, &mut rng_from_seed(3)));
    for layer in layers(0.2, 0.3) {
        let layer = built(layer);
        let y = layer.forward(&x, &mut ForwardContext::training(11)).unwrap();
        ops::sum_all(&ops::mul(&y, &y).unwrap())
            .unwrap()
            .backward()
            .unwrap();
        for p in layer.parameters() {
            let g = p.var.grad().expect("a gradient");
            assert!(
                g.iter().all(|v| v.is_finite()) && g.iter().any(|&v| v != 0.0),
                "{}",
                p.name
            );
        }
    }
}

#[test]
fn bidirectional_draws_masks_for_both_directions() {
    let mut bi = Bidirectional::new(LSTM::new(3).recurrent_dropout(0.5).dropout(0.5)).unwrap();
    bi.build(&[4, 2], &mut rng_from_seed(4)).unwrap();
    let x = Var::constant(normal(&[2, 4, 2], 0.0, 1.0, &mut rng_from_seed(5)));
    let inferred = bi
        .forward(&x, &mut ForwardContext::inference())
        .unwrap()
        .to_tensor();
    let trained = bi
        .forward(&x, &mut ForwardContext::training(1))
        .unwrap()
        .to_tensor();
    assert_eq!(trained.shape(), &[2, 6]);
    for half in [0..3, 3..6] {
        let differs = (0..2).any(|r| half.clone().any(|c| trained[[r, c]] != inferred[[r, c]]));
        assert!(differs, "direction {half:?} applies its dropout");
    }
}
