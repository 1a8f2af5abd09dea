//! A character-level language model trained on every `.txt` file under a folder, e.g. the
//! English quotations of `../shared/data/text/fortunes` or the Chinese Tang poems of
//! `../shared/data/text/tang300` (UTF-8 throughout: a Chinese character is one token).
//!
//! ```text
//! cargo run --release --example text_generation -- --data ../shared/data/text/fortunes \
//!     [--model lstm|transformer] [--epochs N] [--seq-len L] [--batch-size B] [--seed S] \
//!     [--limit-chars N] [--sample-chars N] [--save-split FILE]
//! ```
//!
//! The documents (one per file, read in sorted path order) are shuffled with a fixed seed
//! (42) and split 90/10 by document into training and validation text; each document is
//! followed by a blank line, so the model also learns where a text ends. `--limit-chars N`
//! keeps the first documents of that shuffled order up to `N` characters (a quick run).
//! The character vocabulary comes from the training text (`TextVectorization` with
//! `TokenSplit::Character`, no standardization): id 0 is padding, 1 an unseen character,
//! then the characters by frequency.
//!
//! Samples are windows of `L` characters (default 100) and their targets the same window
//! shifted by one: the model predicts the next character at every step, and the loss is
//! the sparse categorical cross-entropy over `(batch, L, vocabulary)`, i.e. the mean loss
//! per character in nats. Training windows do not overlap and start at a random offset
//! in `0..L` that changes every epoch (so every position is a window start some epoch);
//! validation windows start at 0.
//! - `lstm`: Embedding(vocabulary, 64) → LSTM(256, return_sequences) → Dense(vocabulary,
//!   softmax);
//! - `transformer`: TokenAndPositionEmbedding(vocabulary, L, 128) → 2 x TransformerDecoder
//!   (intermediate 256, 4 heads; causal self-attention) → Dense(vocabulary, softmax).
//!
//! Adam (1e-3), batch 64, 10 epochs by default. Each epoch prints the validation loss per
//! character, its perplexity (`exp(loss)`) and bits per character; then the model writes
//! `--sample-chars` characters (default 200) after a seed text (the start of the first
//! validation document) greedily, at temperatures 0.5 and 1.0, and from the top 5 at
//! temperature 1 (a model of causal layers reads a short context padded at the end, since
//! no step sees a later one). The last line is the examples' JSON line with `val_loss`,
//! `val_perplexity` and the samples. `--save-split FILE` writes the split (paths relative to
//! `--data`) for `benches/reference/keras_text_generation.py`.

mod common;

use common::{print_json, round_to, timing_fields, Args};
use neurite::data::text::{Standardize, TextVectorization, TokenSplit};
use neurite::prelude::*;
use neurite::sampling::Sampling;
use rand::Rng;
use std::path::{Path, PathBuf};

/// The seed of the document shuffle and split (fixed, so every model sees the same split).
const SPLIT_SEED: u64 = 42;
/// Share of the documents kept for validation.
const VALIDATION_SHARE: f64 = 0.1;
/// Units of the LSTM, and its character embedding width.
const LSTM_UNITS: usize = 256;
const LSTM_EMBEDDING: usize = 64;
/// Width, feed-forward width, heads and blocks of the transformer.
const MODEL_DIM: usize = 128;
const FEED_FORWARD: usize = 256;
const HEADS: usize = 4;
const BLOCKS: usize = 2;
/// Characters of the seed text at most.
const SEED_CHARS: usize = 40;

/// Every `.txt` file under `dir` (any case, at any depth, hidden entries skipped), sorted.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) -> neurite::Result<()> {
    let read = std::fs::read_dir(dir)
        .map_err(|e| neurite::Error::Input(format!("--data: cannot read {}: {e}", dir.display())))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry
            .map_err(|e| neurite::Error::Input(format!("--data: cannot read {}: {e}", dir.display())))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden {
            entries.push(entry.path());
        }
    }
    entries.sort();
    for path in entries {
        if path.is_dir() {
            text_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The text of every `.txt` file under `root`, with its path; an error names a file that is
/// not UTF-8, and a folder without any text.
fn documents(root: &Path) -> neurite::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    text_files(root, &mut files)?;
    let mut docs = Vec::with_capacity(files.len());
    for path in files {
        let bytes =
            std::fs::read(&path).map_err(|e| neurite::Error::Input(format!("{}: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            neurite::Error::Input(format!(
                "{}: not UTF-8 text (invalid byte sequence at byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ))
        })?;
        let text = text.trim_start_matches('\u{feff}').trim_end();
        if !text.is_empty() {
            // A blank line after every document: the model learns where a text ends.
            docs.push((path, format!("{text}\n\n")));
        }
    }
    if docs.len() < 2 {
        return Err(neurite::Error::Input(format!(
            "--data: {} holds {} non-empty .txt file(s); a training and a validation document need at least 2",
            root.display(),
            docs.len()
        )));
    }
    Ok(docs)
}

/// Documents: each file's path and text.
type Docs = Vec<(PathBuf, String)>;

/// `docs` shuffled with [`SPLIT_SEED`], cut to `limit` characters (whole documents, at least
/// two), then split into (train, validation) by document.
fn split(mut docs: Docs, limit: Option<usize>) -> (Docs, Docs) {
    let mut rng = rng_from_seed(SPLIT_SEED);
    for i in (1..docs.len()).rev() {
        docs.swap(i, rng.random_range(0..=i));
    }
    if let Some(limit) = limit {
        let mut chars = 0;
        let keep = docs
            .iter()
            .take_while(|(_, t)| {
                let before = chars;
                chars += t.chars().count();
                before < limit
            })
            .count();
        docs.truncate(keep.max(2));
    }
    let n_val = ((docs.len() as f64 * VALIDATION_SHARE).round() as usize).clamp(1, docs.len() - 1);
    let train = docs.split_off(n_val);
    (train, docs)
}

/// Windows of `len` ids starting at `offset`, `offset + len`, ... and their targets (the
/// next id at every step), as `f32` arrays `(windows, len)`.
fn windows(ids: &[u32], len: usize, offset: usize) -> (Tensor, Tensor) {
    let starts: Vec<usize> = (offset..)
        .step_by(len)
        .take_while(|s| s + len < ids.len())
        .collect();
    let shape = ndarray::IxDyn(&[starts.len(), len]);
    let x = Tensor::from_shape_fn(shape.clone(), |i| ids[starts[i[0]] + i[1]] as f32);
    let y = Tensor::from_shape_fn(shape, |i| ids[starts[i[0]] + i[1] + 1] as f32);
    (x, y)
}

fn build(kind: &str, vocabulary: usize, seq_len: usize, seed: u64) -> neurite::Result<Sequential> {
    let model = Sequential::new().seed(seed);
    let model = match kind {
        "lstm" => model
            .add(Embedding::new(vocabulary, LSTM_EMBEDDING).input_shape([seq_len]))
            .add(LSTM::new(LSTM_UNITS).return_sequences(true)),
        "transformer" => {
            let mut model = model
                .add(TokenAndPositionEmbedding::new(vocabulary, seq_len, MODEL_DIM).input_shape([seq_len]));
            for _ in 0..BLOCKS {
                model = model.add(TransformerDecoder::new(FEED_FORWARD, HEADS));
            }
            model
        }
        other => {
            return Err(neurite::Error::Input(format!(
                "--model: {other:?} is not a model of this example; expected lstm or transformer"
            )))
        }
    };
    let mut model = model.add(Dense::new(vocabulary).activation(Activation::Softmax));
    model.compile(Adam::new(1e-3), Loss::sparse_categorical_crossentropy(), &[])?;
    Ok(model)
}

/// Writes `chars` characters after `seed` with each of `samplers`, one row of a batch each:
/// the last `seq_len` ids are the context (a shorter one padded with 0 at the end; the model
/// is causal, so the prediction at its last id does not see the padding).
fn generate(
    model: &Sequential,
    vectorizer: &TextVectorization,
    seed: &str,
    samplers: &[Sampling],
    chars: usize,
    seq_len: usize,
    rng_seed: u64,
) -> neurite::Result<Vec<String>> {
    let start = vectorizer.encode(seed)?;
    let mut rows: Vec<Vec<u32>> = vec![start; samplers.len()];
    let mut rng = rng_from_seed(rng_seed);
    let vocabulary = vectorizer.vocabulary_size();
    for _ in 0..chars {
        let mut x = Tensor::zeros(ndarray::IxDyn(&[rows.len(), seq_len]));
        let mut last = Vec::with_capacity(rows.len());
        for (r, ids) in rows.iter().enumerate() {
            let context = &ids[ids.len().saturating_sub(seq_len)..];
            for (t, &id) in context.iter().enumerate() {
                x[[r, t]] = id as f32;
            }
            last.push(context.len().max(1) - 1);
        }
        let probs = model.predict(&x)?;
        for (r, (ids, sampler)) in rows.iter_mut().zip(samplers).enumerate() {
            let mut row: Vec<f32> = (0..vocabulary).map(|v| probs[[r, last[r], v]]).collect();
            // Padding and the unknown character are never written.
            row[0] = 0.0;
            row[1] = 0.0;
            ids.push(sampler.sample(&row, &mut rng)? as u32);
        }
    }
    // The seed as given (an unseen character of it stays itself), then the written ids.
    Ok(rows
        .iter()
        .map(|ids| {
            let written: String = ids[ids.len() - chars..]
                .iter()
                .map(|&id| vectorizer.token(id as usize).unwrap_or("?"))
                .collect();
            format!("{seed}{written}")
        })
        .collect())
}

/// The split as JSON: each document's path relative to the data folder.
fn save_split(path: &Path, root: &Path, train: &Docs, val: &Docs) -> neurite::Result<()> {
    let relative = |docs: &Docs| -> Vec<String> {
        docs.iter()
            .map(|(p, _)| p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned())
            .collect()
    };
    let json = serde_json::json!({"train": relative(train), "validation": relative(val)});
    neurite::data::write_atomic(path, json.to_string().as_bytes())?;
    Ok(())
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "text_generation",
        &[
            ("data", "DIR"),
            ("model", "lstm|transformer"),
            ("epochs", "N"),
            ("seq-len", "L"),
            ("batch-size", "B"),
            ("seed", "S"),
            ("limit-chars", "N"),
            ("sample-chars", "N"),
            ("save-split", "FILE"),
        ],
    );
    let root = PathBuf::from(args.string("data", "../shared/data/text/fortunes"));
    let kind = args.string("model", "lstm");
    let epochs: usize = args.number("epochs", 10);
    let seq_len: usize = args.number("seq-len", 100);
    let batch_size: usize = args.number("batch-size", 64);
    let seed: u64 = args.number("seed", 0);
    let limit: usize = args.number("limit-chars", 0);
    let sample_chars: usize = args.number("sample-chars", 200);
    if seq_len < 2 || batch_size == 0 {
        return Err(neurite::Error::Input(format!(
            "--seq-len must be at least 2 and --batch-size at least 1, found {seq_len} and {batch_size}"
        )));
    }

    let (train, val) = split(documents(&root)?, (limit > 0).then_some(limit));
    let split_file = args.string("save-split", "");
    if !split_file.is_empty() {
        save_split(Path::new(&split_file), &root, &train, &val)?;
    }
    let train_texts: Vec<&str> = train.iter().map(|(_, t)| t.as_str()).collect();
    let mut vectorizer = TextVectorization::new()
        .standardize(Standardize::None)
        .split(TokenSplit::Character);
    vectorizer.adapt(&train_texts)?;
    let vocabulary = vectorizer.vocabulary_size();
    let train_ids = vectorizer.encode(&train_texts.concat())?;
    let val_text: String = val.iter().map(|(_, t)| t.as_str()).collect();
    let val_ids = vectorizer.encode(&val_text)?;
    let unseen = val_ids.iter().filter(|&&id| id == 1).count();
    println!(
        "{} documents: {} train ({} characters), {} validation ({} characters, {} not in the training text); vocabulary {} (padding and unknown included)",
        train.len() + val.len(),
        train.len(),
        train_ids.len(),
        val.len(),
        val_ids.len(),
        unseen,
        vocabulary
    );
    if val_ids.len() <= seq_len || train_ids.len() <= 2 * seq_len {
        return Err(neurite::Error::Input(format!(
            "text_generation: windows of {seq_len} characters need more text: {} training and {} validation characters (raise --limit-chars or lower --seq-len)",
            train_ids.len(),
            val_ids.len()
        )));
    }
    let (x_val, y_val) = windows(&val_ids, seq_len, 0);

    let mut model = build(&kind, vocabulary, seq_len, seed)?;
    model.print_summary();
    let mut offsets = rng_from_seed(seed ^ 0x5eed);
    let mut val_losses = Vec::with_capacity(epochs);
    let mut train_windows = 0;
    let mut seconds = 0.0;
    for epoch in 0..epochs {
        let offset = offsets.random_range(0..seq_len);
        let (x, y) = windows(&train_ids, seq_len, offset);
        train_windows += x.shape()[0];
        let start = std::time::Instant::now();
        let history = model.fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(epoch + 1)
                .initial_epoch(epoch)
                .batch_size(batch_size)
                .verbose(0),
        )?;
        seconds += start.elapsed().as_secs_f64();
        let train_loss = history.history["loss"][0];
        let val_loss = model.evaluate(&x_val, &y_val)?["loss"];
        println!(
            "epoch {}/{epochs}: loss {train_loss:.4}, val_loss {val_loss:.4} per character (perplexity {:.2}, {:.3} bits), {:.1} s",
            epoch + 1,
            val_loss.exp(),
            val_loss / std::f64::consts::LN_2,
            start.elapsed().as_secs_f64()
        );
        val_losses.push(val_loss);
    }
    let val_loss = match val_losses.last() {
        Some(&v) => v,
        None => model.evaluate(&x_val, &y_val)?["loss"],
    };

    let seed_text: String = val[0].1.chars().take(SEED_CHARS.min(seq_len - 1)).collect();
    let samplers = [
        ("greedy", Sampling::Greedy),
        ("temperature 0.5", Sampling::Temperature(0.5)),
        ("temperature 1.0", Sampling::Temperature(1.0)),
        (
            "top 5",
            Sampling::TopK {
                k: 5,
                temperature: 1.0,
            },
        ),
    ];
    let kinds: Vec<Sampling> = samplers.iter().map(|(_, s)| *s).collect();
    let texts = generate(
        &model,
        &vectorizer,
        &seed_text,
        &kinds,
        sample_chars,
        seq_len,
        seed,
    )?;
    println!("seed text: {seed_text:?}");
    let mut samples = serde_json::Map::new();
    for ((name, _), text) in samplers.iter().zip(&texts) {
        println!("--- {name} ---\n{text}");
        samples.insert(name.to_string(), text.clone().into());
    }

    let mut line = timing_fields("text_generation", epochs, seconds.max(1e-9), 0);
    line.insert(
        "train_samples_per_sec".into(),
        round_to(train_windows as f64 / seconds.max(1e-9), 1).into(),
    );
    line.insert("val_loss".into(), round_to(val_loss, 4).into());
    line.insert("val_perplexity".into(), round_to(val_loss.exp(), 3).into());
    line.insert(
        "val_loss_per_epoch".into(),
        val_losses
            .iter()
            .map(|&v| round_to(v, 4))
            .collect::<Vec<_>>()
            .into(),
    );
    line.insert("model".into(), kind.into());
    line.insert("vocabulary_size".into(), vocabulary.into());
    line.insert("train_chars".into(), train_ids.len().into());
    line.insert("val_chars".into(), val_ids.len().into());
    line.insert("seq_len".into(), seq_len.into());
    line.insert("seed_text".into(), seed_text.into());
    line.insert("samples".into(), serde_json::Value::Object(samples));
    print_json(serde_json::Value::Object(line));
    Ok(())
}
