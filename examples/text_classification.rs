//! Text classification on any folder of `.txt` files per class (Keras'
//! `text_dataset_from_directory` layout), e.g. the English quotations of
//! `../shared/data/text/fortunes` (4,311 texts, 6 classes).
//!
//! ```text
//! cargo run --release --example text_classification -- --data ../shared/data/text/fortunes [--model conv|lstm|transformer] [--epochs N] [--save DIR]
//! ```
//!
//! A stratified 80/20 split (seed 42), a `TextVectorization` (words, 20,000 tokens, 100 per
//! text) adapted on the training texts, then:
//! - `conv`: Embedding(20000, 64, mask_zero) → Conv1D(64, 5, relu) → GlobalMaxPooling1D → Dense(64, relu)
//!   → Dropout(0.5) → Dense(classes, softmax) (Conv1D drops the mask, as in Keras: the padding's
//!   embeddings are convolved like any token's);
//! - `lstm`: Embedding(20000, 64, mask_zero) → Bidirectional(LSTM(64)) → Dense(classes, softmax)
//!   (both directions skip the padded steps);
//! - `transformer`: TokenAndPositionEmbedding(20000, 100, 64, mask_zero) → TransformerEncoder(intermediate
//!   128, 2 heads, dropout 0.1) → GlobalAveragePooling1D → Dense(classes, softmax) (padded tokens are
//!   never attended to and are left out of the average).
//!
//! Adam, sparse categorical cross-entropy, batch 32. Prints the per-class report, the confusion
//! matrix and, last, the examples' JSON line (with `test_accuracy`). `--save-split FILE` writes
//! the split (paths relative to `--data`) for `benches/reference/keras_text_classification.py`,
//! which trains the same model in Keras on the same files. `--save DIR` saves the trained model
//! with its vectorizer as one `TextModel` (a model that takes raw strings), loads it back and
//! checks that the loaded model's predictions on the test texts equal the trained model's
//! (the JSON line then has `"saved": DIR`).

mod common;

use common::{finish, Args};
use neurite::data::text::{TextFolder, TextVectorization};
use neurite::prelude::*;
use std::path::Path;

/// Tokens kept and ids per text, as the issue's model.
const MAX_TOKENS: usize = 20_000;
const SEQUENCE_LENGTH: usize = 100;
/// The split's seed (fixed, so every model and framework sees the same split).
const SPLIT_SEED: u64 = 42;

fn build(kind: &str, classes: usize, seed: u64) -> neurite::Result<Sequential> {
    // Id 0 is the vectorizer's padding: mask it, as the Keras reference does.
    let embedding = Embedding::new(MAX_TOKENS, 64)
        .mask_zero(true)
        .input_shape([SEQUENCE_LENGTH]);
    let model = Sequential::new().seed(seed);
    let model = match kind {
        "conv" => model
            .add(embedding)
            .add(Conv1D::new(64, 5).activation(Activation::Relu))
            .add(GlobalMaxPooling1D::new())
            .add(Dense::new(64).activation(Activation::Relu))
            .add(Dropout::new(0.5)),
        "lstm" => model.add(embedding).add(Bidirectional::new(LSTM::new(64))?),
        "transformer" => model
            .add(
                TokenAndPositionEmbedding::new(MAX_TOKENS, SEQUENCE_LENGTH, 64)
                    .mask_zero(true)
                    .input_shape([SEQUENCE_LENGTH]),
            )
            .add(TransformerEncoder::new(128, 2).dropout(0.1))
            .add(GlobalAveragePooling1D::new()),
        other => {
            return Err(neurite::Error::Input(format!(
                "--model: {other:?} is not a model of this example; expected conv, lstm or transformer"
            )))
        }
    };
    let mut model = model.add(Dense::new(classes).activation(Activation::Softmax));
    model.compile(
        Adam::new(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

/// The split as JSON: each sample's path relative to the data folder.
fn save_split(
    path: &Path,
    root: &Path,
    train: &[std::path::PathBuf],
    test: &[std::path::PathBuf],
) -> neurite::Result<()> {
    let relative = |paths: &[std::path::PathBuf]| -> Vec<String> {
        paths
            .iter()
            .map(|p| p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned())
            .collect()
    };
    let json = serde_json::json!({"train": relative(train), "test": relative(test)});
    neurite::data::write_atomic(path, json.to_string().as_bytes())?;
    Ok(())
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "text_classification",
        &[
            ("data", "DIR"),
            ("model", "conv|lstm|transformer"),
            ("epochs", "N"),
            ("batch-size", "B"),
            ("seed", "N"),
            ("save-split", "FILE"),
            ("save", "DIR"),
        ],
    );
    let root = std::path::PathBuf::from(args.string("data", "../shared/data/text/fortunes"));
    let kind = args.string("model", "conv");
    let epochs: usize = args.number("epochs", 10);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 0);

    let data = TextFolder::new(&root).load()?;
    let (train, test) = data.train_test_split(0.2, SPLIT_SEED)?;
    println!(
        "{} texts in {} classes ({}); {} train, {} test",
        data.len(),
        data.classes.len(),
        data.classes.join(", "),
        train.len(),
        test.len()
    );
    let split_file = args.string("save-split", "");
    if !split_file.is_empty() {
        save_split(Path::new(&split_file), &root, &train.paths, &test.paths)?;
    }

    let mut vectorizer = TextVectorization::new()
        .max_tokens(MAX_TOKENS)
        .output_sequence_length(SEQUENCE_LENGTH);
    vectorizer.adapt(&train.texts)?;
    println!("vocabulary: {} tokens", vectorizer.vocabulary_size());
    let x_train = vectorizer.call(&train.texts)?.into_dyn();
    let y_train = train.labels_f32().into_dyn();
    let x_test = vectorizer.call(&test.texts)?.into_dyn();
    let y_test = test.labels_f32().into_dyn();

    let mut model = build(&kind, data.classes.len(), seed)?;
    model.print_summary();
    let start = std::time::Instant::now();
    let history = model.fit(
        &x_train,
        &y_train,
        FitOptions::new().epochs(epochs).batch_size(batch_size).verbose(1),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let scores = model.evaluate(&x_test, &y_test)?;

    let predicted = common::classes(&model.predict(&x_test)?)?;
    let names: Vec<&str> = data.classes.iter().map(String::as_str).collect();
    let report =
        neurite::metrics::classification_report(&test.labels, &predicted, names.len(), Some(&names))?;
    println!("{report}");
    println!(
        "{}",
        common::confusion_table(&y_test, &model.predict(&x_test)?, names.len(), Some(&names))?
    );
    let mut extra = serde_json::json!({"model": kind, "classes": names.len(), "vocabulary_size": vectorizer.vocabulary_size()});
    let save_dir = args.string("save", "");
    if !save_dir.is_empty() {
        save_and_check(vectorizer, model, Path::new(&save_dir), &test.texts)?;
        extra["saved"] = save_dir.into();
    }
    finish(
        "text_classification",
        &history,
        seconds,
        train.len(),
        &scores,
        extra,
    );
    Ok(())
}

/// Saves the vectorizer and the trained model as one `TextModel` in `dir`, loads it back and
/// checks that the loaded model predicts exactly what the trained one does on `texts`.
fn save_and_check(
    vectorizer: TextVectorization,
    model: Sequential,
    dir: &Path,
    texts: &[String],
) -> neurite::Result<()> {
    let text_model = TextModel::new(vectorizer, model)?;
    text_model.save(dir)?;
    let loaded: TextModel = TextModel::load(dir)?;
    let (trained, reloaded) = (text_model.predict_texts(texts)?, loaded.predict_texts(texts)?);
    if trained != reloaded {
        return Err(neurite::Error::Model(format!(
            "the model loaded from {} predicts differently from the trained one",
            dir.display()
        )));
    }
    println!(
        "saved to {}; loaded back, its predictions on the {} test texts equal the trained model's",
        dir.display(),
        texts.len()
    );
    Ok(())
}
