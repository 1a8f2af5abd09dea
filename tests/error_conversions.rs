//! Every crate's error converts into `neurite::Error` with `?` (so a
//! training loop needs no `Box<dyn Error>`), into the variant a program
//! would match on; and an I/O error's text is reported once, by `source()`,
//! not repeated in the message.

use neurite::autograd::{AutogradError, Var};
use neurite::data::DataError;
use neurite::metrics::MetricError;
use neurite::nn::{ForwardContext, Layer, NnError};
use neurite::optim::{Adam, OptimError};
use neurite::tensor::TensorError;
use neurite::Error;
use std::error::Error as _;

/// The crate whose error `fails_in` should meet.
#[derive(Debug, Clone, Copy)]
enum Crate {
    Tensor,
    Autograd,
    Nn,
    Optim,
    Data,
    Metrics,
}

/// A function of a program: one real failing call per crate, each behind a
/// bare `?` in a function returning `neurite::Result`.
fn fails_in(which: Crate) -> neurite::Result<()> {
    match which {
        Crate::Tensor => {
            let _: Vec<usize> = neurite::tensor::broadcast::broadcast_shape("add", &[2], &[3])?;
        }
        Crate::Autograd => {
            let w = Var::parameter(ndarray::arr1(&[1.0f32, 2.0]).into_dyn());
            (&w * 2.0)?.backward()?;
        }
        Crate::Nn => {
            let x = Var::from_array(ndarray::arr2(&[[1.0f32, 2.0]]));
            let _ = neurite::nn::layers::Dense::new(3).forward(&x, &mut ForwardContext::inference())?;
        }
        Crate::Optim => {
            let _ = Adam::new(0.001).beta_1(1.5).build()?;
        }
        Crate::Data => {
            let failing: Result<(), DataError> = Err(DataError::NotFitted("StandardScaler"));
            failing?;
        }
        Crate::Metrics => {
            let _ = neurite::metrics::accuracy_score(&[0, 1], &[0])?;
        }
    }
    Ok(())
}

#[test]
fn every_crate_error_converts_with_question_mark() {
    let err = |c| fails_in(c).expect_err("the call fails");
    assert!(matches!(
        err(Crate::Tensor),
        Error::Autograd(AutogradError::Tensor(TensorError::ShapeMismatch {
            op: "add",
            ..
        }))
    ));
    assert!(matches!(
        err(Crate::Autograd),
        Error::Autograd(AutogradError::NotOneElement {
            what: "backward()",
            ..
        })
    ));
    assert!(matches!(err(Crate::Nn), Error::Nn(NnError::NotBuilt(_))));
    assert!(
        matches!(err(Crate::Optim), Error::Optim(OptimError::InvalidConfig { ref key, .. }) if key == "beta_1")
    );
    assert!(matches!(
        err(Crate::Data),
        Error::Data(DataError::NotFitted("StandardScaler"))
    ));
    assert!(matches!(
        err(Crate::Metrics),
        Error::Metric(MetricError::LengthMismatch { .. })
    ));
}

#[test]
fn errors_convert_along_the_crate_chain() {
    let tensor = TensorError::invalid("sum", "axis 3 out of range for rank 2");
    let autograd: AutogradError = tensor.clone().into();
    let nn: NnError = autograd.clone().into();
    let optim: OptimError = autograd.clone().into();
    assert_eq!(autograd, AutogradError::Tensor(tensor.clone()));
    assert_eq!(nn, NnError::Autograd(autograd.clone()));
    assert_eq!(NnError::from(tensor.clone()), nn);
    assert_eq!(optim, OptimError::Autograd(autograd));
    // The message is the innermost one (the wrappers are transparent).
    assert_eq!(nn.to_string(), tensor.to_string());
    assert_eq!(Error::from(nn).to_string(), tensor.to_string());
}

/// Every `Error` variant that holds an `io::Error`: its message names the
/// path and does not repeat the OS error, which is the `source()`;
/// `report()` shows both.
#[test]
fn io_errors_are_reported_once() {
    let missing = std::env::temp_dir().join("neurite-error-conversions-missing/config.json");
    let os_error = std::fs::File::open(&missing).expect_err("the file does not exist");
    let os_text = os_error.to_string();
    let e = Error::Io {
        path: missing.clone(),
        source: os_error,
    };
    let message = e.to_string();
    let source = e.source().expect("the OS error is the source").to_string();
    assert_eq!(source, os_text);
    assert!(
        !message.contains(&source),
        "{message:?} repeats its source {source:?}"
    );
    assert!(message.contains(&missing.display().to_string()), "{message}");
    assert_eq!(e.report(), format!("{message}: {source}"));
}

#[test]
fn report_of_an_error_without_source_is_its_message() {
    let e = Error::from(OptimError::UnknownParameter("dense_1.kernel".into()));
    assert_eq!(e.report(), e.to_string());
}

/// The errors a training program may want to branch on are variants to
/// match, not strings to parse.
#[test]
fn common_training_mistakes_are_variants_to_match() {
    use neurite::prelude::*;
    let x = ndarray::Array2::<f32>::zeros((4, 2)).into_dyn();
    let y = ndarray::Array2::<f32>::zeros((3, 1)).into_dyn();
    let mut model = Sequential::new().add(Dense::new(1).input_dim(2));
    let x4 = ndarray::Array2::<f32>::zeros((4, 2)).into_dyn();
    let y4 = ndarray::Array2::<f32>::zeros((4, 1)).into_dyn();
    assert!(matches!(model.evaluate(&x4, &y4), Err(Error::NotCompiled)));
    model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[]).unwrap();
    match model.fit(&x, &y, FitOptions::new().verbose(0)) {
        Err(Error::SampleCountMismatch {
            x_samples: 4,
            y_samples: 3,
            ..
        }) => {}
        other => panic!("expected SampleCountMismatch, found {other:?}"),
    }
    match model.fit(&x4, &y4, FitOptions::new().batch_size(0).verbose(0)) {
        Err(Error::ZeroBatchSize { context }) => assert_eq!(context, "fit"),
        other => panic!("expected ZeroBatchSize, found {other:?}"),
    }
}
