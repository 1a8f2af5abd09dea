//! The text pipeline: tokenizer properties, persistence, and errors on bad input.
#![cfg(feature = "text")]

use neurite_data::text::{Standardize, TextFolder, TextVectorization, TokenSplit};
use proptest::prelude::*;

fn words() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[a-zé床月]{1,4}( [a-zé床月]{1,4}){0,6}", 1..20)
}

proptest! {
    #[test]
    fn known_tokens_round_trip(texts in words()) {
        let mut tv = TextVectorization::new();
        tv.adapt(&texts).unwrap();
        for text in &texts {
            let ids = tv.encode(text).unwrap();
            let back: Vec<String> = ids.iter().map(|&i| tv.token(i as usize).unwrap().to_string()).collect();
            prop_assert_eq!(back, tv.tokens(text));
            prop_assert!(ids.iter().all(|&i| i >= 2)); // every token was learned
        }
    }

    #[test]
    fn characters_never_split_a_utf8_sequence(texts in proptest::collection::vec("\\PC{0,30}", 1..10)) {
        let mut tv = TextVectorization::new().split(TokenSplit::Character).standardize(Standardize::None);
        if tv.adapt(&texts).is_err() {
            prop_assert!(texts.iter().all(|t| t.is_empty()));
            return Ok(());
        }
        for text in &texts {
            let ids = tv.encode(text).unwrap();
            let back: String = ids.iter().map(|&i| tv.token(i as usize).unwrap()).collect();
            prop_assert_eq!(&back, text);
        }
    }

    #[test]
    fn the_vocabulary_does_not_depend_on_text_order(texts in words(), seed in any::<u64>()) {
        use rand::seq::SliceRandom;
        let mut shuffled = texts.clone();
        shuffled.shuffle(&mut neurite_data::Generator::seed_from_u64(seed));
        let (mut a, mut b) = (TextVectorization::new().max_tokens(8), TextVectorization::new().max_tokens(8));
        a.adapt(&texts).unwrap();
        b.adapt(&shuffled).unwrap();
        prop_assert_eq!(a.vocabulary(), b.vocabulary());
    }

    #[test]
    fn rows_are_padded_or_truncated_prefixes(texts in words(), length in 1usize..8) {
        let mut tv = TextVectorization::new().output_sequence_length(length);
        tv.adapt(&texts).unwrap();
        let ids = tv.call(&texts).unwrap();
        prop_assert_eq!(ids.shape(), &[texts.len(), length]);
        for (row, text) in ids.outer_iter().zip(&texts) {
            let full = tv.encode(text).unwrap();
            for (j, &v) in row.iter().enumerate() {
                let expected = full.get(j).map(|&i| i as f32).unwrap_or(0.0);
                prop_assert_eq!(v, expected);
            }
        }
    }

    #[test]
    fn save_and_load_give_the_same_vectorizer(texts in words(), max in 2usize..30, length in proptest::option::of(1usize..10), character in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tv.json");
        let mut tv = TextVectorization::new().max_tokens(max);
        if let Some(n) = length { tv = tv.output_sequence_length(n); }
        if character { tv = tv.split(TokenSplit::Character); }
        tv.adapt(&texts).unwrap();
        tv.save(&path).unwrap();
        let again = TextVectorization::load(&path).unwrap();
        prop_assert_eq!(again.vocabulary(), tv.vocabulary());
        prop_assert_eq!(again.call(&texts).unwrap(), tv.call(&texts).unwrap());
    }
}

#[test]
fn bad_settings_are_errors() {
    let mut tv = TextVectorization::new().output_sequence_length(0);
    tv.set_vocabulary(["a"]).unwrap();
    let err = tv.call(&["a"]).unwrap_err().to_string();
    assert!(
        err.contains("output_sequence_length") && err.contains("0"),
        "{err}"
    );
    let err = TextVectorization::new()
        .max_tokens(1)
        .adapt(&["a"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("max_tokens") && err.contains("1"), "{err}");
    let empty: [&str; 0] = [];
    assert!(TextVectorization::new()
        .adapt(&empty)
        .unwrap_err()
        .to_string()
        .contains("no texts"));
    assert!(TextVectorization::new()
        .adapt(&["", " \n "])
        .unwrap_err()
        .to_string()
        .contains("no token"));
    assert!(TextVectorization::new()
        .encode("a")
        .unwrap_err()
        .to_string()
        .contains("adapt"));
}

/// A change that breaks one field of a saved vectorizer.
type Breaker = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn hostile_vectorizer_files_are_errors_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tv.json");
    let mut tv = TextVectorization::new().output_sequence_length(4);
    tv.adapt(&["a b c"]).unwrap();
    let good = tv.to_json();
    let cases: Vec<(&str, Breaker)> = vec![
        ("class_name", Box::new(|v| v["class_name"] = "Dense".into())),
        ("config", Box::new(|v| v["config"] = 3.into())),
        (
            "max_tokens",
            Box::new(|v| v["config"]["max_tokens"] = (-1).into()),
        ),
        ("max_tokens", Box::new(|v| v["config"]["max_tokens"] = 1.into())),
        (
            "output_sequence_length",
            Box::new(|v| v["config"]["output_sequence_length"] = 0.into()),
        ),
        (
            "output_sequence_length",
            Box::new(|v| v["config"]["output_sequence_length"] = "long".into()),
        ),
        (
            "output_mode",
            Box::new(|v| v["config"]["output_mode"] = "tf_idf".into()),
        ),
        (
            "standardize",
            Box::new(|v| v["config"]["standardize"] = "custom".into()),
        ),
        (
            "standardize",
            Box::new(|v| v["config"]["standardize"] = serde_json::Value::Null),
        ),
        ("split", Box::new(|v| v["config"]["split"] = "words".into())),
        ("vocabulary", Box::new(|v| v["vocabulary"] = "abc".into())),
        ("vocabulary[3]", Box::new(|v| v["vocabulary"][3] = 7.into())),
        (
            "vocabulary",
            Box::new(|v| v["vocabulary"] = serde_json::json!(["", "[UNK]", "a", "a"])),
        ),
    ];
    for (field, break_it) in cases {
        let mut bad = good.clone();
        break_it(&mut bad);
        std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let err = TextVectorization::load(&path).unwrap_err().to_string();
        assert!(err.contains("tv.json") && err.contains(field), "{field}: {err}");
    }
    std::fs::write(&path, b"{not json").unwrap();
    assert!(TextVectorization::load(&path)
        .unwrap_err()
        .to_string()
        .contains("JSON"));
    assert!(TextVectorization::load(dir.path().join("missing.json")).is_err());
}

#[test]
fn a_failed_save_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tv.json");
    let mut tv = TextVectorization::new();
    tv.adapt(&["a"]).unwrap();
    tv.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A directory where the file should go: the save fails and leaves nothing behind.
    assert!(tv.save(dir.path()).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn bad_folders_are_errors_naming_the_file_or_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let err = TextFolder::new(root).load().unwrap_err().to_string();
    assert!(err.contains("no class folders"), "{err}");
    std::fs::create_dir(root.join("empty")).unwrap();
    std::fs::write(root.join("empty/notes.md"), "not a txt").unwrap();
    let err = TextFolder::new(root).load().unwrap_err().to_string();
    assert!(err.contains("empty") && err.contains("no .txt file"), "{err}");
    std::fs::write(root.join("empty/a.TXT"), b"caf\xe9").unwrap();
    let err = TextFolder::new(root).load().unwrap_err().to_string();
    assert!(err.contains("a.TXT") && err.contains("UTF-8"), "{err}");
    std::fs::write(root.join("empty/a.TXT"), "\u{feff}caf\u{e9}").unwrap();
    let data = TextFolder::new(root).load().unwrap();
    assert_eq!(data.texts, ["café"]); // the byte-order mark is dropped
    let err = TextFolder::new(root)
        .classes(["empty", "other"])
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("other"), "{err}");
    assert!(TextFolder::new(root.join("missing")).load().is_err());
}

#[test]
fn nested_and_hidden_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("b/deeper")).unwrap();
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join(".hidden")).unwrap();
    std::fs::write(root.join("b/deeper/2.txt"), "two").unwrap();
    std::fs::write(root.join("b/1.txt"), "one").unwrap();
    std::fs::write(root.join("b/.3.txt"), "hidden").unwrap();
    std::fs::write(root.join("a/0.txt"), "zero").unwrap();
    std::fs::write(root.join("loose.txt"), "not in a class").unwrap();
    std::fs::write(root.join(".hidden/x.txt"), "x").unwrap();
    let data = TextFolder::new(root).load().unwrap();
    assert_eq!(data.classes, ["a", "b"]);
    assert_eq!(data.texts, ["zero", "one", "two"]);
    assert_eq!(data.labels, [0, 1, 1]);
}
