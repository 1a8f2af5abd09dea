//! `TextModel`: a vectorizer and a masked model saved and loaded as one
//! directory; predictions on raw strings bit-identical after a load, masking
//! kept, hostile directories refused with errors naming the file or layer,
//! and failed saves leaving the previous save as it was.

mod common;

use neurite::data::text::TextVectorization;
use neurite::prelude::*;
use proptest::prelude::*;
use std::fs;
use std::path::Path;

const TEXTS: [&str; 12] = [
    "the team won the game",
    "a great goal for the team",
    "the ball hit the post",
    "fans cheer the winning team",
    "the coach praised the players",
    "a late goal won it",
    "the cell divides in two",
    "atoms form a molecule",
    "the star burns hydrogen",
    "genes code for proteins",
    "a cell needs energy",
    "light from a distant star",
];
const LENGTH: usize = 6;

fn labels() -> Tensor {
    Tensor::from_shape_fn(
        ndarray::IxDyn(&[TEXTS.len()]),
        |i| if i[0] < 6 { 0.0 } else { 1.0 },
    )
}

fn vectorizer(length: usize) -> TextVectorization {
    let mut v = TextVectorization::new()
        .max_tokens(40)
        .output_sequence_length(length);
    v.adapt(&TEXTS).unwrap();
    v
}

/// Embedding(mask_zero) -> LSTM or Bidirectional(LSTM) -> Dense(softmax), compiled.
fn masked_model(
    vocabulary: usize,
    length: usize,
    bidirectional: bool,
    mask_zero: bool,
    seed: u64,
) -> Sequential {
    let model = Sequential::new().seed(seed).add(
        Embedding::new(vocabulary, 8)
            .mask_zero(mask_zero)
            .with_name("words")
            .input_shape([length]),
    );
    let model = if bidirectional {
        model.add(Bidirectional::new(LSTM::new(6)).unwrap())
    } else {
        model.add(LSTM::new(6))
    };
    let mut model = model.add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(
            Adam::new(0.02),
            Loss::sparse_categorical_crossentropy(),
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

fn trained(bidirectional: bool) -> TextModel {
    let v = vectorizer(LENGTH);
    let model = masked_model(v.vocabulary_size(), LENGTH, bidirectional, true, 7);
    let mut text_model = TextModel::new(v, model).unwrap();
    let x = text_model.vectorize(&TEXTS).unwrap();
    text_model
        .model_mut()
        .fit(
            &x,
            labels(),
            FitOptions::new().epochs(10).batch_size(4).verbose(0),
        )
        .unwrap();
    text_model
}

fn load(dir: &Path) -> neurite::Result<TextModel> {
    TextModel::load(dir)
}

fn err_of(r: neurite::Result<TextModel>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

const UNSEEN: [&str; 5] = [
    "the team",
    "",
    "a star cell goal",
    "ünïcödé 雨 🦀",
    "the the the the the the the the",
];

#[test]
fn a_trained_text_model_predicts_the_same_on_raw_strings_after_load() {
    for bidirectional in [false, true] {
        let text_model = trained(bidirectional);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("classifier");
        text_model.save(&dir).unwrap();
        let loaded = load(&dir).unwrap();
        for texts in [&TEXTS[..], &UNSEEN[..]] {
            assert_eq!(
                loaded.predict_texts(texts).unwrap(),
                text_model.predict_texts(texts).unwrap()
            );
        }
        assert_eq!(
            loaded.vectorizer().vocabulary(),
            text_model.vectorizer().vocabulary()
        );
        assert_eq!(
            loaded.evaluate_texts(&TEXTS, labels()).unwrap(),
            text_model.evaluate_texts(&TEXTS, labels()).unwrap()
        );
        // The model is learned (not a constant), and its directory is a plain model too.
        let scores = text_model.evaluate_texts(&TEXTS, labels()).unwrap();
        assert!(scores["accuracy"] > 0.5, "{scores:?}");
        let alone = Sequential::load(&dir).unwrap();
        assert_eq!(
            alone.get_weights_by_name(),
            text_model.model().get_weights_by_name()
        );
        assert_eq!(
            TextVectorization::load(dir.join(neurite::VECTORIZER_FILE))
                .unwrap()
                .vocabulary(),
            text_model.vectorizer().vocabulary()
        );
        // Training can go on from the loaded optimizer state.
        assert_eq!(loaded.model().epochs_done(), 10);
    }
}

#[test]
fn a_functional_text_model_saves_and_loads() {
    let v = vectorizer(LENGTH);
    let x = Input::new([LENGTH]);
    let h = Embedding::new(v.vocabulary_size(), 4)
        .mask_zero(true)
        .call(&x)
        .unwrap();
    let h = LSTM::new(3).call(&h).unwrap();
    let y = Dense::new(2).activation(Activation::Softmax).call(&h).unwrap();
    let model = Model::functional(&x, &y).unwrap();
    let text_model = TextModel::new(v, model).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    text_model.save(tmp.path().join("f")).unwrap();
    let loaded = TextModel::<Graph>::load(tmp.path().join("f")).unwrap();
    assert_eq!(
        loaded.predict_texts(&UNSEEN).unwrap(),
        text_model.predict_texts(&UNSEEN).unwrap()
    );
    // Not a Sequential: refused, naming config.json.
    let err = err_of(load(&tmp.path().join("f")));
    assert!(err.contains("config.json") && err.contains("Functional"), "{err}");
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// The same weights read the same texts padded to 6 and to 10 ids: with
/// the padding masked the outputs agree, before and after a save/load;
/// without the mask they do not (so the comparison can fail).
#[test]
fn masking_survives_save_and_load() {
    let short = vectorizer(6);
    let long = vectorizer(10);
    let n = short.vocabulary_size();
    let texts = [
        "the team won",
        "a cell",
        "star",
        "",
        "genes code for proteins a cell",
    ];
    for mask_zero in [true, false] {
        let a = TextModel::new(short.clone(), masked_model(n, 6, false, mask_zero, 3)).unwrap();
        let mut b = TextModel::new(long.clone(), masked_model(n, 10, false, mask_zero, 4)).unwrap();
        b.model_mut().set_weights(&a.model().get_weights()).unwrap();
        let (pa, pb) = (a.predict_texts(&texts).unwrap(), b.predict_texts(&texts).unwrap());
        if !mask_zero {
            assert!(
                max_abs_diff(&pa, &pb) > 1e-5,
                "padding changes an unmasked LSTM: {pa} vs {pb}"
            );
            continue;
        }
        assert!(max_abs_diff(&pa, &pb) < 1e-6, "{pa} vs {pb}");
        let tmp = tempfile::tempdir().unwrap();
        a.save(tmp.path().join("a")).unwrap();
        b.save(tmp.path().join("b")).unwrap();
        let (la, lb) = (
            load(&tmp.path().join("a")).unwrap(),
            load(&tmp.path().join("b")).unwrap(),
        );
        let (qa, qb) = (
            la.predict_texts(&texts).unwrap(),
            lb.predict_texts(&texts).unwrap(),
        );
        assert_eq!(qa, pa);
        assert_eq!(qb, pb);
        assert!(max_abs_diff(&qa, &qb) < 1e-6, "{qa} vs {qb}");
    }
}

#[test]
fn a_missing_vectorizer_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    trained(false).save(&dir).unwrap();
    fs::remove_file(dir.join("vectorizer.json")).unwrap();
    let err = err_of(load(&dir));
    assert!(
        err.contains("vectorizer.json") && err.contains("missing"),
        "{err}"
    );
    // A model saved alone, with no vectorizer beside it.
    let alone = tmp.path().join("alone");
    masked_model(10, LENGTH, false, true, 1).save(&alone).unwrap();
    let err = err_of(load(&alone));
    assert!(
        err.contains("vectorizer.json") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn a_truncated_or_altered_vectorizer_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    trained(false).save(&dir).unwrap();
    let path = dir.join("vectorizer.json");
    let good = fs::read(&path).unwrap();
    // Cut short, or one byte changed: the checksum config.json records catches it.
    fs::write(&path, &good[..good.len() / 2]).unwrap();
    let err = err_of(load(&dir));
    assert!(err.contains("vectorizer.json") && err.contains("bytes"), "{err}");
    let mut changed = good.clone();
    let i = changed.iter().position(|&b| b == b'e').unwrap();
    changed[i] = b'f';
    fs::write(&path, &changed).unwrap();
    let err = err_of(load(&dir));
    assert!(
        err.contains("vectorizer.json") && err.contains("checksum"),
        "{err}"
    );
    fs::write(&path, &good).unwrap();
    load(&dir).unwrap();
}

#[test]
fn invalid_json_beside_a_model_saved_alone_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    masked_model(10, LENGTH, false, true, 1).save(&dir).unwrap();
    let path = dir.join("vectorizer.json");
    for (bytes, expected) in [
        (&b"{\"class_name\": \"TextVectoriz"[..], "JSON"),
        (&b"\xff\xfe not text"[..], "JSON"),
        (&b"[1, 2, 3]"[..], "class_name"),
        (&b"{\"class_name\": \"TextVectorization\", \"config\": {\"output_mode\": \"int\", \"standardize\": \"lower\", \"split\": \"whitespace\"}, \"vocabulary\": [\"a\", 7]}"[..], "vocabulary[1]"),
    ] {
        fs::write(&path, bytes).unwrap();
        let err = err_of(load(&dir));
        assert!(err.contains("vectorizer.json") && err.contains(expected), "{err}");
    }
}

#[test]
fn a_vocabulary_larger_than_the_embedding_is_refused_naming_file_and_layer() {
    let v = vectorizer(LENGTH);
    let n = v.vocabulary_size();
    // When made.
    let err = TextModel::new(v.clone(), masked_model(n - 1, LENGTH, false, true, 1))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("\"words\"") && err.contains("input_dim"), "{err}");
    // When loaded: a model saved alone with a too large vectorizer put beside it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    masked_model(n - 1, LENGTH, false, true, 1).save(&dir).unwrap();
    v.save(dir.join("vectorizer.json")).unwrap();
    let err = err_of(load(&dir));
    assert!(
        err.contains("vectorizer.json")
            && err.contains("\"words\"")
            && err.contains(&format!("input_dim {}", n - 1)),
        "{err}"
    );
    // A TokenAndPositionEmbedding's vocabulary_size likewise.
    let model = Sequential::new()
        .add(TokenAndPositionEmbedding::new(n - 2, LENGTH, 4).input_shape([LENGTH]))
        .add(GlobalAveragePooling1D::new());
    let err = TextModel::new(v, model).err().unwrap().to_string();
    assert!(err.contains("vocabulary_size"), "{err}");
}

#[test]
fn a_sequence_length_the_model_does_not_take_is_refused() {
    let v = vectorizer(LENGTH + 3);
    let n = v.vocabulary_size();
    let err = TextModel::new(v.clone(), masked_model(n, LENGTH, false, true, 1))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(&format!("[{LENGTH}]")) && err.contains(&(LENGTH + 3).to_string()),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    masked_model(n, LENGTH, false, true, 1).save(&dir).unwrap();
    v.save(dir.join("vectorizer.json")).unwrap();
    let err = err_of(load(&dir));
    assert!(
        err.contains("vectorizer.json") && err.contains("output_sequence_length"),
        "{err}"
    );
    // A vectorizer without a fixed length cannot feed a fixed-length model.
    let mut ragged = TextVectorization::new();
    ragged.adapt(&TEXTS).unwrap();
    assert!(TextModel::new(ragged, masked_model(n, LENGTH, false, true, 1)).is_err());
    // Nor can one without a vocabulary.
    let empty = TextVectorization::new().output_sequence_length(LENGTH);
    let err = TextModel::new(empty, masked_model(n, LENGTH, false, true, 1))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("vocabulary"), "{err}");
}

#[test]
fn a_failed_save_leaves_the_previous_save_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let text_model = trained(false);
    text_model.save(&dir).unwrap();
    fs::write(dir.join("notes.md"), b"mine").unwrap();
    let before = common::snapshot(&dir);
    let expected = text_model.predict_texts(&UNSEEN).unwrap();

    // The pair no longer fits (the embedding replaced by a smaller one): refused before writing.
    let mut broken = trained(false);
    broken.model_mut().layers_mut()[0] = Box::new(Embedding::new(4, 8).mask_zero(true).with_name("tiny"));
    let err = broken.save(&dir).unwrap_err().to_string();
    assert!(
        err.contains("\"tiny\"") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(common::snapshot(&dir), before);

    // Two layers of one name: the model's own save refuses.
    let mut twins = trained(false);
    twins.model_mut().layers_mut()[2] = Box::new(Dense::new(2).with_name("words"));
    assert!(twins.save(&dir).is_err());
    assert_eq!(common::snapshot(&dir), before);

    // A folder of someone else's files is refused and left as it was.
    let user = tmp.path().join("user");
    fs::create_dir(&user).unwrap();
    fs::write(user.join("thesis.tex"), b"chapter 1").unwrap();
    let user_before = common::snapshot(&user);
    assert!(matches!(
        text_model.save(&user),
        Err(neurite::Error::SaveRefused { .. })
    ));
    assert_eq!(common::snapshot(&user), user_before);

    assert_eq!(load(&dir).unwrap().predict_texts(&UNSEEN).unwrap(), expected);
    // A successful save over it replaces the pair and keeps the user's file.
    let other = trained(true);
    other.save(&dir).unwrap();
    assert_eq!(
        load(&dir).unwrap().predict_texts(&UNSEEN).unwrap(),
        other.predict_texts(&UNSEEN).unwrap()
    );
    assert_eq!(fs::read(dir.join("notes.md")).unwrap(), b"mine");
}

#[test]
fn saving_the_model_alone_over_a_text_model_keeps_the_vectorizer_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let text_model = trained(false);
    text_model.save(&dir).unwrap();
    let vectorizer_bytes = fs::read(dir.join("vectorizer.json")).unwrap();
    text_model.model().save(&dir).unwrap();
    assert_eq!(fs::read(dir.join("vectorizer.json")).unwrap(), vectorizer_bytes);
    // It is then read as it is, beside the model.
    assert_eq!(
        load(&dir).unwrap().predict_texts(&UNSEEN).unwrap(),
        text_model.predict_texts(&UNSEEN).unwrap()
    );
}

/// A save cut short after the new `vectorizer.json` was renamed in but before
/// `config.json`: the model in place still matches its (old) config, the
/// vectorizer does not, and the backup holds the old pair.
#[test]
fn a_save_cut_short_between_the_vectorizer_and_the_config_loads_the_previous_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let first = trained(false);
    first.save(&dir).unwrap();
    let mut v2 = TextVectorization::new()
        .max_tokens(40)
        .output_sequence_length(LENGTH);
    v2.adapt(&["star star star", "cell"]).unwrap();
    let second = TextModel::new(v2, Sequential::load(&dir).unwrap()).unwrap();
    let staged = tmp.path().join("second");
    second.save(&staged).unwrap();

    let previous = dir.join(".neurite-previous");
    fs::create_dir(&previous).unwrap();
    for name in [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "vectorizer.json",
    ] {
        fs::copy(dir.join(name), previous.join(name)).unwrap();
    }
    fs::copy(staged.join("vectorizer.json"), dir.join("vectorizer.json")).unwrap();
    let loaded = load(&dir).unwrap();
    assert_eq!(loaded.vectorizer().vocabulary(), first.vectorizer().vocabulary());
    assert_eq!(
        loaded.predict_texts(&UNSEEN).unwrap(),
        first.predict_texts(&UNSEEN).unwrap()
    );
    // Without the backup the mismatch is reported.
    fs::remove_dir_all(&previous).unwrap();
    let err = err_of(load(&dir));
    assert!(
        err.contains("vectorizer.json") && err.contains("config.json records"),
        "{err}"
    );
}

#[test]
fn any_texts_predict_the_same_after_save_and_load() {
    let text_model = trained(true);
    let tmp = tempfile::tempdir().unwrap();
    text_model.save(tmp.path().join("m")).unwrap();
    let loaded = load(&tmp.path().join("m")).unwrap();
    let words = prop::sample::select(vec![
        "the", "team", "star", "cell", "GOAL", "goal!", "", " ", "é", "雨",
    ]);
    let text = prop_oneof![
        any::<String>(),
        prop::collection::vec(words, 0..12).prop_map(|w| w.join(" ")),
    ];
    proptest!(ProptestConfig::with_cases(64), |(texts in prop::collection::vec(text, 1..6))| {
        let a = text_model.predict_texts(&texts).unwrap();
        let b = loaded.predict_texts(&texts).unwrap();
        prop_assert_eq!(a.shape(), &[texts.len(), 2][..]);
        prop_assert_eq!(a, b);
    });
}
