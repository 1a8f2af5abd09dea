//! The MNIST CNN trained from data on disk instead of arrays in memory (issue #18): writes a
//! data set of `--gib` GiB of MNIST-shaped f32 `.npy` shards (the MNIST training images, each
//! copy shifted by a pixel or two), trains one epoch from it through a `DataStream`, and
//! reports samples/s and the peak resident memory, which stays bounded by the batch and
//! buffer sizes, not by the data set. With `--compare-samples N`, also trains on the first N
//! MNIST images from arrays in memory and from the same images on disk read by the chosen
//! source, alternately (`--rounds` times each), and reports both speeds.
//!
//! ```text
//! cargo run --release --example streaming_mnist -- --data ../shared/data/mnist \
//!     --gib 4 --dir /work/tmp-stream --compare-samples 16384 --rounds 3
//! ```
//! `--source mmap` (default) reads the shards as one memory-mapped, indexable set (shuffled
//! over all samples, as arrays would be); `--source shards` reads one shard at a time in a
//! seeded shard order through a shuffle buffer of `--buffer` samples. `--steps N` stops the
//! epoch after N batches (0: the whole epoch). The shards are deleted at the end unless
//! `--keep 1`.

mod common;

use common::{data_dir, finish, round_to, Args, MNIST_HOW_TO_GET};
use neurite::data::stream::{EpochSource, IndexedSource, MmapNpyDataset, Shard, ShardStream};
use neurite::data::Dataset;
use neurite::prelude::*;
use neurite::DataStream;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SAMPLE_BYTES: usize = 28 * 28 * 4;

/// Peak and current resident memory in MiB (`VmHWM`, `VmRSS` of /proc/self/status; Linux).
fn memory_mib() -> (Option<f64>, Option<f64>) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the kernel's peak-RSS mark to the current RSS (Linux 4.0+), so that the peak
/// measured afterwards is training's.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// An `.npy` 1.0 header for `<f4` data of `shape`, padded to 64 bytes as NumPy writes it.
fn npy_header(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut text = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// Writes an `.npy` file of `rows` rows produced by `row(i, &mut buf)`, streaming (memory:
/// one row), to a temporary name renamed into place at the end.
fn write_npy(path: &Path, shape: &[usize], mut row: impl FnMut(usize, &mut Vec<f32>)) -> std::io::Result<()> {
    let tmp = path.with_extension("npy.partial");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    out.write_all(&npy_header(shape))?;
    let mut buf = Vec::new();
    for i in 0..shape[0] {
        buf.clear();
        row(i, &mut buf);
        for v in &buf {
            out.write_all(&v.to_le_bytes())?;
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Sample `j` of the generated set: MNIST training image `j % n`, shifted by the offset of
/// copy `j / n` (zeros shifted in), and its label.
fn generated_sample(train: &Dataset, j: usize, out: &mut Vec<f32>) -> f32 {
    const SHIFTS: [(i64, i64); 9] = [
        (0, 0),
        (1, 0),
        (-1, 0),
        (0, 1),
        (0, -1),
        (1, 1),
        (-1, -1),
        (2, 0),
        (0, 2),
    ];
    let n = train.len();
    let (image, copy) = (j % n, j / n);
    let (dy, dx) = SHIFTS[copy % SHIFTS.len()];
    let src = &train.x.as_slice().expect("contiguous MNIST")[image * 784..(image + 1) * 784];
    for r in 0..28i64 {
        for c in 0..28i64 {
            let (sr, sc) = (r - dy, c - dx);
            let inside = (0..28).contains(&sr) && (0..28).contains(&sc);
            out.push(if inside { src[(sr * 28 + sc) as usize] } else { 0.0 });
        }
    }
    train.y.as_slice().expect("contiguous labels")[image]
}

/// Writes `total` generated samples as shards of at most `per_shard`; returns the file pairs.
fn generate(
    train: &Dataset,
    dir: &Path,
    total: usize,
    per_shard: usize,
) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    std::fs::create_dir_all(dir)?;
    let mut pairs = Vec::new();
    for (s, start) in (0..total).step_by(per_shard).enumerate() {
        let rows = per_shard.min(total - start);
        let (xp, yp) = (dir.join(format!("x{s:04}.npy")), dir.join(format!("y{s:04}.npy")));
        let mut labels = Vec::with_capacity(rows);
        write_npy(&xp, &[rows, 28, 28, 1], |i, buf| {
            labels.push(generated_sample(train, start + i, buf))
        })?;
        write_npy(&yp, &[rows], |i, buf| buf.push(labels[i]))?;
        pairs.push((xp, yp));
    }
    Ok(pairs)
}

/// The training stream of the shard files `pairs`: one memory-mapped indexable set
/// (`mmap`), or shard by shard through a shuffle buffer of `buffer` samples (`shards`).
fn stream_of(
    source: &str,
    pairs: &[(PathBuf, PathBuf)],
    batch_size: usize,
    buffer: usize,
    seed: u64,
) -> neurite::Result<DataStream> {
    Ok(if source == "mmap" {
        DataStream::indexed(MmapNpyDataset::open_shards(pairs)?)
    } else {
        let shards = pairs.iter().map(|(x, y)| Shard::npy(x, y)).collect();
        ShardStream::new(shards, batch_size)?
            .shuffle(true)
            .buffer_size(buffer)
            .seed(seed)
            .into()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "streaming_mnist",
        &[
            ("data", "DIR"),
            ("dir", "DIR"),
            ("gib", "F"),
            ("shard-mib", "N"),
            ("source", "mmap|shards"),
            ("buffer", "N"),
            ("steps", "N"),
            ("batch-size", "N"),
            ("seed", "N"),
            ("compare-samples", "N"),
            ("rounds", "N"),
            ("keep", "0|1"),
            ("scan", "0|1"),
        ],
    );
    let gib: f64 = args.number("gib", 0.01);
    let shard_mib: usize = args.number("shard-mib", 256);
    let source = args.string("source", "mmap");
    let buffer: usize = args.number("buffer", 10_000);
    let steps: usize = args.number("steps", 0);
    let batch_size: usize = args.number("batch-size", 32);
    let seed: u64 = args.number("seed", 0);
    let compare: usize = args.number("compare-samples", 0);
    let rounds: usize = args.number("rounds", 1).max(1);
    let keep = args.number::<u8>("keep", 0) == 1;
    let scan = args.number::<u8>("scan", 0) == 1;
    if source != "mmap" && source != "shards" {
        eprintln!("--source must be mmap or shards, got {source:?}");
        std::process::exit(2);
    }
    let data = data_dir(
        "streaming_mnist",
        &args.string("data", "data/mnist"),
        &[
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
        ],
        MNIST_HOW_TO_GET,
    );
    let (train, test) = neurite::data::mnist::load(&data)?;
    let dir = match args.string("dir", "").as_str() {
        "" => tempfile_dir()?,
        d => PathBuf::from(d).join(format!("streaming_mnist_{}", std::process::id())),
    };

    // 1. The data set on disk.
    let total = ((gib * (1u64 << 30) as f64) / SAMPLE_BYTES as f64).ceil() as usize;
    let per_shard = ((shard_mib << 20) / SAMPLE_BYTES).max(1);
    let started = Instant::now();
    let pairs = generate(&train, &dir, total, per_shard)
        .map_err(|e| neurite::Error::Input(format!("{}: {e}", dir.display())))?;
    let bytes: u64 = pairs
        .iter()
        .map(|(x, y)| {
            std::fs::metadata(x).map_or(0, |m| m.len()) + std::fs::metadata(y).map_or(0, |m| m.len())
        })
        .sum();
    println!(
        "wrote {total} samples, {:.2} GiB in {} shard pairs to {} in {:.1}s",
        bytes as f64 / (1u64 << 30) as f64,
        pairs.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );

    // 2. Optionally, one shuffled pass reading every batch without training: how fast the
    // source delivers, and that memory stays bounded over the whole data set.
    let mut scan_fields = serde_json::Map::new();
    if scan {
        reset_peak_memory();
        let started = Instant::now();
        let read = if source == "mmap" {
            let set = MmapNpyDataset::open_shards(&pairs)?;
            use neurite::data::rand::seq::SliceRandom;
            let mut idx: Vec<usize> = (0..set.len()).collect();
            idx.shuffle(&mut neurite::data::rng::rng_for(seed, &[99]));
            let chunks: Vec<Vec<usize>> = idx.chunks(batch_size).map(<[usize]>::to_vec).collect();
            let batches = neurite::data::stream::prefetch(chunks.into_iter().map(move |c| set.gather(&c)), 2);
            let mut n = 0;
            for b in batches {
                n += b?.len();
            }
            n
        } else {
            let shards = pairs.iter().map(|(x, y)| Shard::npy(x, y)).collect();
            let stream = ShardStream::new(shards, batch_size)?
                .shuffle(true)
                .buffer_size(buffer)
                .seed(seed);
            let mut n = 0;
            for b in neurite::data::stream::prefetch(stream.epoch_batches(0), 2) {
                n += b?.len();
            }
            n
        };
        let secs = started.elapsed().as_secs_f64();
        let (peak, _) = memory_mib();
        println!(
            "read pass ({source}, no training): {read} samples in {secs:.1}s, {:.0} samples/s, peak RSS {:.0} MiB",
            read as f64 / secs,
            peak.unwrap_or(f64::NAN)
        );
        scan_fields.insert("scan_samples".into(), read.into());
        scan_fields.insert(
            "scan_samples_per_sec".into(),
            round_to(read as f64 / secs, 1).into(),
        );
        scan_fields.insert("scan_peak_rss_mib".into(), peak.map(|v| round_to(v, 1)).into());
    }

    // 3. One epoch from disk; peak memory measured from here.
    let mut model = common::mnist_cnn(seed, DtypePolicy::default())?;
    let stream = stream_of(&source, &pairs, batch_size, buffer, seed)?;
    let mut options = FitOptions::new().epochs(1).batch_size(batch_size);
    if steps > 0 {
        options = options.steps_per_epoch(steps);
    }
    reset_peak_memory();
    let (_, rss_before) = memory_mib();
    let started = Instant::now();
    let history = model.fit_stream(stream, options)?;
    let seconds = started.elapsed().as_secs_f64();
    let (peak, _) = memory_mib();
    let trained = if steps > 0 {
        (steps * batch_size).min(total)
    } else {
        total
    };
    let streamed_rate = trained as f64 / seconds;
    println!(
        "one epoch from disk ({source}): {trained} samples in {seconds:.1}s, {streamed_rate:.0} samples/s; RSS before \
         {:.0} MiB, peak during training {:.0} MiB",
        rss_before.unwrap_or(f64::NAN),
        peak.unwrap_or(f64::NAN)
    );
    let scores = model.evaluate(&test.x, &test.y)?;

    // 4. In memory against memory-mapped, on the same samples, alternately.
    let mut comparison = serde_json::Map::new();
    if compare > 0 {
        let n = compare.min(train.len());
        let part = train.subset(&(0..n).collect::<Vec<_>>())?;
        // The same n images on disk, as the chosen source reads them (copy 0: unshifted).
        let compare_pairs = generate(&train, &dir.join("compare"), n, per_shard)
            .map_err(|e| neurite::Error::Input(format!("{}: {e}", dir.display())))?;
        let (mut in_memory, mut streamed) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let mut m = common::mnist_cnn(seed, DtypePolicy::default())?;
            let t = Instant::now();
            m.fit(
                &part.x,
                &part.y,
                FitOptions::new().epochs(1).batch_size(batch_size).verbose(0),
            )?;
            in_memory.push(n as f64 / t.elapsed().as_secs_f64());
            let mut m = common::mnist_cnn(seed, DtypePolicy::default())?;
            let stream = stream_of(&source, &compare_pairs, batch_size, buffer, seed)?;
            let t = Instant::now();
            m.fit_stream(
                stream,
                FitOptions::new().epochs(1).batch_size(batch_size).verbose(0),
            )?;
            streamed.push(n as f64 / t.elapsed().as_secs_f64());
        }
        let (a, b) = (median(in_memory.clone()), median(streamed.clone()));
        println!(
            "{n} samples: in memory {a:.0} samples/s, from disk ({source}) {b:.0} samples/s (medians of {rounds}): \
             ratio {:.3}",
            b / a
        );
        comparison.insert("in_memory_samples_per_sec".into(), round_to(a, 1).into());
        comparison.insert("streamed_samples_per_sec".into(), round_to(b, 1).into());
        comparison.insert("streamed_over_in_memory".into(), round_to(b / a, 4).into());
        comparison.insert("compare_samples".into(), n.into());
        comparison.insert(
            "in_memory_runs".into(),
            in_memory
                .iter()
                .map(|v| round_to(*v, 1))
                .collect::<Vec<_>>()
                .into(),
        );
        comparison.insert(
            "streamed_runs".into(),
            streamed
                .iter()
                .map(|v| round_to(*v, 1))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    if !keep {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| neurite::Error::Input(format!("{}: {e}", dir.display())))?;
    }
    let mut extra = serde_json::json!({
        "source": source,
        "data_gib": round_to(bytes as f64 / (1u64 << 30) as f64, 3),
        "samples_on_disk": total,
        "shards": pairs.len(),
        "streamed_samples": trained,
        "peak_rss_mib": peak.map(|v| round_to(v, 1)),
        "rss_before_training_mib": rss_before.map(|v| round_to(v, 1)),
    });
    if let serde_json::Value::Object(m) = &mut extra {
        m.extend(comparison);
        m.extend(scan_fields);
    }
    finish("streaming_mnist", &history, seconds, trained, &scores, extra);
    Ok(())
}

/// A fresh directory under the system's temporary directory (removed at the end unless
/// `--keep 1`).
fn tempfile_dir() -> neurite::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("neurite_streaming_mnist_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| neurite::Error::Input(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}
