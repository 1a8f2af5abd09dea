//! Hostile inputs (issue #15): decompression bombs, absurd declared sizes, files that are
//! directories / missing / empty / truncated / of the wrong kind, and hostile arguments to
//! every public builder and function. Each must be an error naming the file or argument,
//! never a panic, an abort, a hang or a silently wrong result.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use ndarray::{array, Array2, ArrayD, IxDyn};
use neurite_data::augment::{
    ColorJitter, Cutout, Fill, GaussianNoise, Pipeline, RandomApply, RandomCrop, RandomErasing, RandomFlip,
    RandomRotation, RandomTranslation,
};
#[cfg(feature = "csv")]
use neurite_data::csv;
use neurite_data::idx::{self, IdxArray, IdxData};
#[cfg(feature = "image")]
use neurite_data::ImageFolder;
use neurite_data::{
    cifar10, cifar100, mnist, npy, one_hot, train_test_split, DataError, DataLoader, Dataset, GroupKFold,
    KFold, LeaveOneOut, MinMaxScaler, StandardScaler, StratifiedKFold,
};
use proptest::prelude::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Error text, asserting it contains every needle (the file or argument name among them).
fn err_has<T: std::fmt::Debug>(r: Result<T, DataError>, needles: &[&str]) -> String {
    let e = r.expect_err("expected an error").to_string();
    for n in needles {
        assert!(e.contains(n), "error lacks {n:?}: {e}");
    }
    e
}

/// `header` followed by `zeros` zero bytes, gzip-compressed, streamed (never held whole).
#[cfg(feature = "gzip")]
fn gz_bomb(path: &Path, header: &[u8], zeros: usize) {
    let f = std::fs::File::create(path).unwrap();
    let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    e.write_all(header).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        e.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    e.finish().unwrap();
}

#[cfg(any(feature = "gzip", feature = "npz"))]
const FIFTY_MB: usize = 50 << 20;

/// Whether gzip files can be read and written (the `gzip` feature).
const GZIP: bool = cfg!(feature = "gzip");

/// `bytes` gzip-compressed. Without the `gzip` feature (no flate2 to compress with): the gzip
/// header followed by the raw bytes, not a valid stream, but gzip content by its magic bytes,
/// which is as far as a reader built without the feature looks.
fn gzipped(bytes: &[u8]) -> Vec<u8> {
    #[cfg(feature = "gzip")]
    {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }
    #[cfg(not(feature = "gzip"))]
    {
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        out.extend_from_slice(bytes);
        out
    }
}

/// An `.npy` 1.0 header for `descr` and `shape` (a Python tuple), padded as NumPy does.
fn npy_header(descr: &str, shape: &str) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let total = 10 + h.len() + 1;
    h.push_str(&" ".repeat((64 - total % 64) % 64));
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out
}

/// An `.npz` of one member `name` whose bytes are `header` then `zeros` zeros, deflated or
/// stored, streamed into the archive.
#[cfg(feature = "npz")]
fn npz_bomb(path: &Path, name: &str, header: &[u8], zeros: usize, deflate: bool) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = zip::ZipWriter::new(f);
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    w.start_file(name, opts).unwrap();
    w.write_all(header).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len());
        w.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    w.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------
// 1. Decompression bounded by the header.
// ---------------------------------------------------------------------------------------------

#[test]
#[cfg(feature = "gzip")]
fn gzip_idx_bomb_is_stopped_one_byte_past_its_header() {
    let d = tmp();
    // Header: u8, 1 dimension, 1 label; then 50 MB of zeros (~50 KB compressed).
    let p = d.path().join("train-labels-idx1-ubyte.gz");
    gz_bomb(&p, &[0, 0, 8, 1, 0, 0, 0, 1], FIFTY_MB);
    assert!(std::fs::metadata(&p).unwrap().len() < 1 << 20);
    let t = Instant::now();
    let e = err_has(
        idx::read(&p),
        &[
            "train-labels-idx1-ubyte.gz",
            "inflates past the 1 bytes its header declares",
            // 8 header bytes + the 1 declared + 1 extra: nothing more was inflated.
            "after 10 decompressed bytes",
        ],
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}: {e}",
        t.elapsed()
    );
    assert!(!e.contains("corrupt"), "{e}");
    // Images: 1 image of 2x2 declared, 50 MB follow.
    let p = d.path().join("images.idx3.gz");
    gz_bomb(&p, &[0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2], FIFTY_MB);
    err_has(
        idx::read(&p),
        &[
            "images.idx3.gz",
            "inflates past the 4 bytes",
            "after 21 decompressed bytes",
        ],
    );
    // f64 data: 3 values = 24 bytes declared.
    let p = d.path().join("f64.idx.gz");
    gz_bomb(&p, &[0, 0, 0x0E, 1, 0, 0, 0, 3], FIFTY_MB);
    err_has(idx::read(&p), &["f64.idx.gz", "inflates past the 24 bytes"]);
    // Through the MNIST loader too.
    let labels = d.path().join("l.gz");
    gz_bomb(&labels, &[0, 0, 8, 1, 0, 0, 0, 1], FIFTY_MB);
    err_has(
        mnist::load_files(&p, &labels, Default::default()),
        &["inflates past"],
    );
}

#[test]
#[cfg(feature = "npz")]
fn npz_member_bomb_is_stopped_one_byte_past_its_header() {
    let d = tmp();
    let header = npy_header("<f4", "(1,)");
    let p = d.path().join("bomb.npz");
    npz_bomb(&p, "x.npy", &header, FIFTY_MB, true);
    assert!(std::fs::metadata(&p).unwrap().len() < 1 << 20);
    let t = Instant::now();
    let consumed = format!("after {} decompressed bytes", header.len() + 5);
    let e = err_has(
        npy::read_npz(&p),
        &[
            "bomb.npz",
            "x.npy",
            "inflates past the 4 bytes its header declares",
            &consumed,
        ],
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}: {e}",
        t.elapsed()
    );
    err_has(
        npy::load_npz_dataset(&p, "x", "x", false),
        &["bomb.npz", "inflates past"],
    );
    // u8 data of shape (2, 3): 6 bytes.
    let header = npy_header("|u1", "(2, 3)");
    npz_bomb(&p, "img.npy", &header, FIFTY_MB, true);
    err_has(npy::read_npz(&p), &["img.npy", "inflates past the 6 bytes"]);
    // A stored (not deflated) member with too many bytes: the same check.
    let header = npy_header("<i8", "(2,)");
    npz_bomb(&p, "s.npy", &header, 1000, false);
    err_has(npy::read_npz(&p), &["s.npy", "16 bytes"]);
}

#[test]
fn headers_declaring_more_than_the_input_can_hold_are_refused_before_allocating() {
    let d = tmp();
    #[cfg(feature = "gzip")]
    {
        // gzip: 2^31 u8 declared by a file of ~30 bytes: deflate cannot expand that much.
        let p = d.path().join("big.idx.gz");
        gz_bomb(&p, &[0, 0, 8, 1, 0x80, 0, 0, 0], 10);
        err_has(
            idx::read(&p),
            &["big.idx.gz", "2147483648 bytes", "cannot inflate to more than"],
        );
        // Dimensions whose product overflows.
        let p = d.path().join("overflow.idx.gz");
        gz_bomb(
            &p,
            &[0, 0, 0x0E, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            10,
        );
        err_has(idx::read(&p), &["overflow.idx.gz", "more data than can exist"]);
    }
    #[cfg(feature = "npz")]
    {
        // npz deflated member declaring 10^12 floats.
        let p = d.path().join("big.npz");
        npz_bomb(&p, "a.npy", &npy_header("<f4", "(1000000000000,)"), 10, true);
        err_has(npy::read_npz(&p), &["a.npy", "cannot inflate to more than"]);
        // npz stored member declaring more than it holds.
        npz_bomb(&p, "b.npy", &npy_header("<f8", "(1000,)"), 10, false);
        err_has(
            npy::read_npz(&p),
            &["b.npy", "8000 bytes", "stored member has only"],
        );
    }
    // An .npy header longer than NumPy's max_header_size.
    let mut long = b"\x93NUMPY\x02\x00".to_vec();
    long.extend_from_slice(&4_000_000_000u32.to_le_bytes());
    let p = d.path().join("long.npy");
    std::fs::write(&p, &long).unwrap();
    err_has(
        npy::read(&p),
        &["long.npy", "4000000000 bytes", "max_header_size"],
    );
    err_has(
        npy::parse(&long, "mem.npy", false),
        &["mem.npy", "max_header_size"],
    );
    #[cfg(feature = "npz")]
    {
        npz_bomb(&d.path().join("long.npz"), "l.npy", &long, 10, true);
        err_has(
            npy::read_npz(d.path().join("long.npz")),
            &["l.npy", "max_header_size"],
        );
    }
}

#[test]
fn plain_files_are_checked_against_their_header_before_reading() {
    let d = tmp();
    // Declares 2^30 labels, holds 10 bytes: truncated, found without reading 1 GiB.
    let p = d.path().join("short.idx");
    let mut b = vec![0u8, 0, 8, 1, 0x40, 0, 0, 0];
    b.extend_from_slice(&[1; 10]);
    std::fs::write(&p, &b).unwrap();
    err_has(idx::read(&p), &["short.idx", "truncated", "1073741824"]);
    // Declares 1 label, 30 GB follow (a sparse file): the excess is counted from the file
    // length, without reading (reading it whole would need more memory than the machine has).
    let p = d.path().join("long.idx");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(8 + 30_000_000_000).unwrap();
    drop(f);
    let mut head = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    head.write_all(&[0, 0, 8, 1, 0, 0, 0, 1]).unwrap();
    drop(head);
    let t = Instant::now();
    err_has(idx::read(&p), &["long.idx", "29999999999 unexpected bytes"]);
    assert!(t.elapsed() < Duration::from_secs(2));
    // .npy declaring 10^9 doubles in a tiny file.
    let p = d.path().join("short.npy");
    let mut b = npy_header("<f8", "(1000000000,)");
    b.extend_from_slice(&[0; 16]);
    std::fs::write(&p, &b).unwrap();
    err_has(npy::read(&p), &["short.npy", "truncated", "8000000000"]);
    // .npy with data past the declared shape.
    let mut b = npy_header("<f4", "(2,)");
    b.extend_from_slice(&[0; 12]);
    std::fs::write(&p, &b).unwrap();
    err_has(npy::read(&p), &["short.npy", "4 unexpected bytes"]);
    // CIFAR: a size that is not whole records is refused from the length alone.
    let p = d.path().join("data_batch_1.bin");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(3073 * 10_000_000 + 5).unwrap(); // 30 GB, sparse
    drop(f);
    let t = Instant::now();
    err_has(
        cifar10::load_batch(&p),
        &["data_batch_1.bin", "10000000 complete records"],
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    // A gzip-compressed .npy is named as such (NumPy reads .npy uncompressed).
    let p = d.path().join("a.npy");
    std::fs::write(&p, gzipped(&npy::to_bytes(&array![1.0f32]))).unwrap();
    let gzip_error = if GZIP {
        "is gzip-compressed"
    } else {
        "`gzip` cargo feature"
    };
    err_has(npy::read(&p), &["a.npy", gzip_error]);
}

#[test]
fn an_allocation_that_fails_is_reported_as_such() {
    // A sparse 4 TiB IDX file whose header honestly declares 4 TiB of u8: the file length
    // matches, so only the allocator can refuse, and that must be an `Alloc` error, not an
    // abort and not "corrupt data". Needs the kernel's heuristic overcommit (mode 0 or 2),
    // which refuses one allocation larger than RAM + swap.
    let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
    if mode.trim() == "1" {
        eprintln!("skipped: vm.overcommit_memory = 1 would grant the allocation");
        return;
    }
    let d = tmp();
    let p = d.path().join("huge.idx");
    let f = std::fs::File::create(&p).unwrap();
    // 4 dims of 2^10, 2^10, 2^10, 2^12 = 2^42 bytes.
    if f.set_len(20 + (1u64 << 42)).is_err() {
        eprintln!("skipped: the file system cannot hold a sparse 4 TiB file");
        return;
    }
    drop(f);
    let mut head = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    head.write_all(&[0, 0, 8, 4, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 16, 0])
        .unwrap();
    drop(head);
    let r = idx::read(&p);
    assert!(matches!(r, Err(DataError::Alloc { .. })), "{r:?}");
    err_has(r, &["huge.idx", "cannot allocate 4398046511104 bytes"]);
}

#[test]
fn npy_writer_switches_to_version_2_when_the_header_outgrows_16_bits() {
    // 30,000 dimensions of 1: a header of ~90 KB, which 1.0's u16 length would wrap.
    let a = ArrayD::<f32>::zeros(IxDyn(&vec![1; 30_000]));
    let b = npy::to_bytes(&a);
    assert_eq!(b[6], 2, "version");
    let hlen = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
    assert_eq!(12 + hlen + 4, b.len());
    assert_eq!((12 + hlen) % 64, 0);
    // Small arrays keep version 1.0.
    let small = npy::to_bytes(&array![1.0f32, 2.0]);
    assert_eq!(small[6], 1);
    assert_eq!(
        npy::parse(&small, "s.npy", false).unwrap(),
        array![1.0f32, 2.0].into_dyn()
    );
}

#[test]
#[cfg(feature = "gzip")]
fn gzip_that_is_corrupt_is_named_as_corrupt() {
    let d = tmp();
    let p = d.path().join("c.idx.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&[0, 0, 8, 1, 0, 0, 0, 200]).unwrap();
    e.write_all(&[7; 200]).unwrap();
    let mut b = e.finish().unwrap();
    let n = b.len();
    b[n / 2] ^= 0xFF;
    b.truncate(n - 3);
    std::fs::write(&p, &b).unwrap();
    let e = err_has(idx::read(&p), &["c.idx.gz"]);
    assert!(
        e.contains("gzip") || e.contains("inflates past") || e.contains("truncated"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Files: directories, missing, empty, truncated, wrong magic.
// ---------------------------------------------------------------------------------------------

/// Every file reader on `path`, with its name for messages.
fn every_reader(path: &Path) -> Vec<(&'static str, Result<(), DataError>)> {
    #[allow(unused_mut)] // nothing is pushed with the npz and csv features off
    let mut readers = vec![
        ("idx::read", idx::read(path).map(drop)),
        ("npy::read", npy::read(path).map(drop)),
        ("cifar10::load_batch", cifar10::load_batch(path).map(drop)),
        (
            "cifar100::load_batch",
            cifar100::load_batch(path, Default::default()).map(drop),
        ),
        (
            "mnist::load_files",
            mnist::load_files(path, path, Default::default()).map(drop),
        ),
    ];
    #[cfg(feature = "npz")]
    readers.push(("npy::read_npz", npy::read_npz(path).map(drop)));
    #[cfg(feature = "csv")]
    readers.push(("csv::load", csv::load(path, &csv::CsvOptions::new()).map(drop)));
    readers
}

#[test]
fn every_reader_names_a_directory_a_missing_an_empty_and_a_wrong_file() {
    let d = tmp();
    let dir = d.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    let missing = d.path().join("missing.bin");
    let empty = d.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let garbage = d.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x01\x02\x03\x04 this is no dataset at all \xff\xfe").unwrap();
    let gz_garbage = d.path().join("garbage.gz");
    std::fs::write(&gz_garbage, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    for (file, name) in [
        (&dir, "adir"),
        (&missing, "missing.bin"),
        (&empty, "empty.bin"),
        (&garbage, "garbage.bin"),
        (&gz_garbage, "garbage.gz"),
    ] {
        for (reader, r) in every_reader(file) {
            let e = r.expect_err(&format!("{reader} accepted {name}")).to_string();
            assert!(
                e.contains(name),
                "{reader} on {name}: error does not name it: {e}"
            );
        }
    }
    let e = idx::read(&dir).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    // A device that never ends is refused, not read forever.
    #[cfg(unix)]
    for (reader, r) in every_reader(Path::new("/dev/zero")) {
        let e = r.expect_err(reader).to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("is a device"),
            "{reader}: {e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Arbitrary bytes, raw or gzip, written to a file: every reader answers Ok or an error
    /// naming the file; none panics.
    #[test]
    fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), gzip in any::<bool>()) {
        let d = tmp();
        let p = d.path().join("fuzzed.dat");
        let data = if gzip {
            gzipped(&bytes)
        } else {
            bytes.clone()
        };
        std::fs::write(&p, &data).unwrap();
        for (reader, r) in every_reader(&p) {
            if let Err(e) = r {
                let e = e.to_string();
                prop_assert!(e.contains("fuzzed.dat"), "{} error does not name the file: {}", reader, e);
            }
        }
    }

    /// Truncating a valid IDX file anywhere (raw or gzip) is an error naming the file.
    #[test]
    fn truncated_idx_files_are_errors(cut in 0usize..30, gzip in any::<bool>().prop_map(|g| g && GZIP)) {
        let a = IdxArray { shape: vec![2, 3, 3], data: IdxData::U8((0..18).collect()) };
        let bytes = a.to_bytes().unwrap();
        prop_assume!(cut < bytes.len());
        let d = tmp();
        let p = d.path().join("cut.idx");
        let data = if gzip {
            gzipped(&bytes[..cut])
        } else {
            bytes[..cut].to_vec()
        };
        std::fs::write(&p, data).unwrap();
        let e = idx::read(&p).unwrap_err().to_string();
        prop_assert!(e.contains("cut.idx") && e.contains("truncated"), "{}", e);
    }
}

#[test]
#[cfg(feature = "csv")]
fn csv_ragged_rows_and_bad_cells_name_the_line() {
    let o = csv::CsvOptions::new();
    for (text, needles) in [
        (
            &b"a,b,y\n1,2,0\n1,0\n"[..],
            &["t.csv", "line 3", "2 fields, expected 3"][..],
        ),
        (b"a,b,y\n1,2,0\n1,2,3,4\n", &["t.csv", "line 3", "4 fields"]),
        (b"a,b,y\n1,x,0\n", &["t.csv", "line 2", "column 1 (b)", "\"x\""]),
        (b"a,b,y\n1,,0\n", &["t.csv", "line 2", "empty field"]),
        (b"a,b,y\n1,2\xff,0\n", &["t.csv", "line 2", "UTF-8"]),
        (b"a,b,y\n", &["t.csv", "no data rows"]),
    ] {
        err_has(csv::parse(text, "t.csv", &o), needles);
    }
    err_has(
        csv::parse(
            b"a,b\n1,2\n",
            "t.csv",
            &o.clone().label(csv::Column::Index(usize::MAX)),
        ),
        &["t.csv", "does not exist"],
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Image folders.
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "image")]
fn png(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_pixel(w, h, image::Rgb([10, 20, 30]))
        .save(path)
        .unwrap();
}

#[test]
#[cfg(feature = "image")]
fn image_folder_refuses_resize_sizes_that_can_never_work() {
    let d = tmp();
    std::fs::create_dir(d.path().join("cat")).unwrap();
    png(&d.path().join("cat/1.png"), 4, 4);
    for (h, w) in [(0, 0), (0, 8), (8, 0), (u32::MAX, u32::MAX), (1 << 16, 1 << 16)] {
        let needle = format!("ImageFolder::resize({h}, {w})");
        err_has(ImageFolder::new(d.path()).resize(h, w).load(), &[&needle]);
    }
    // Larger than the image is fine (it is upscaled).
    let ok = ImageFolder::new(d.path()).resize(9, 7).load().unwrap();
    assert_eq!(ok.dataset.x.shape(), &[1, 9, 7, 3]);
}

#[test]
#[cfg(feature = "image")]
fn image_folder_names_bad_roots_and_folders() {
    let d = tmp();
    err_has(ImageFolder::new(d.path().join("nope")).load(), &["nope"]);
    let file = d.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    err_has(ImageFolder::new(&file).load(), &["afile"]);
    err_has(ImageFolder::new(d.path()).load(), &["no class subfolders"]);
    std::fs::create_dir(d.path().join("cat")).unwrap();
    err_has(ImageFolder::new(d.path()).load(), &["no .png/.jpg/.jpeg images"]);
    std::fs::write(d.path().join("cat/bad.png"), b"not a png").unwrap();
    err_has(ImageFolder::new(d.path()).load(), &["bad.png", "cannot decode"]);
}

/// A PNG whose header declares `w` x `h` RGB pixels, with no pixel data.
#[cfg(feature = "image")]
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        // PNG's chunk CRC: CRC-32 (IEEE, reflected, polynomial 0xEDB88320) of type and data,
        // bit by bit (flate2's Crc is absent when only the `image` feature is on).
        let mut crc = !0u32;
        for &byte in kind.iter().chain(data) {
            crc ^= byte as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        out.extend_from_slice(&(!crc).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
#[cfg(feature = "image")]
fn image_folder_refuses_an_image_whose_header_declares_an_absurd_size() {
    // 100,000 x 100,000 RGB = 30 GB declared by a 57-byte file: refused by the image crate's
    // allocation limit before any pixel buffer exists, naming the file.
    let d = tmp();
    std::fs::create_dir(d.path().join("cat")).unwrap();
    std::fs::write(d.path().join("cat/bomb.png"), png_header_only(100_000, 100_000)).unwrap();
    let t = Instant::now();
    err_has(ImageFolder::new(d.path()).load(), &["bomb.png", "cannot decode"]);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
#[cfg(feature = "image")]
fn image_folder_refuses_a_class_list_with_duplicates() {
    let d = tmp();
    std::fs::create_dir(d.path().join("cat")).unwrap();
    png(&d.path().join("cat/1.png"), 2, 2);
    err_has(
        ImageFolder::new(d.path()).classes(["cat", "cat"]).load(),
        &["ImageFolder::classes", "\"cat\" is listed twice"],
    );
    assert_eq!(
        ImageFolder::new(d.path())
            .classes(["cat"])
            .load()
            .unwrap()
            .paths
            .len(),
        1
    );
}

#[cfg(unix)]
#[test]
#[cfg(feature = "image")]
fn image_folder_names_a_class_folder_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let d = tmp();
    let bad = d.path().join(std::ffi::OsStr::from_bytes(b"ca\xfft"));
    std::fs::create_dir(&bad).unwrap();
    png(&bad.join("1.png"), 2, 2);
    err_has(ImageFolder::new(d.path()).load(), &["not valid UTF-8", "ca"]);
    // A file name that is not UTF-8 inside a good class folder is fine: paths are kept as such.
    std::fs::remove_dir_all(&bad).unwrap();
    std::fs::create_dir(d.path().join("cat")).unwrap();
    let odd = d
        .path()
        .join("cat")
        .join(std::ffi::OsStr::from_bytes(b"\xff\xfe.png"));
    png(&odd, 2, 2);
    let data = ImageFolder::new(d.path()).load().unwrap();
    assert_eq!(data.paths, vec![odd]);
}

// ---------------------------------------------------------------------------------------------
// 4. Splitters, loader, dataset, augmentations: hostile arguments.
// ---------------------------------------------------------------------------------------------

#[test]
fn splitters_refuse_impossible_fold_counts() {
    for k in [0, 1] {
        err_has(KFold::new(k).split(10), &["KFold", "at least 2"]);
        err_has(
            StratifiedKFold::new(k).split(&[0, 1, 0, 1]),
            &["StratifiedKFold", "at least 2"],
        );
        err_has(
            GroupKFold::new(k).split(&[0, 1, 2]),
            &["GroupKFold", "at least 2"],
        );
    }
    err_has(KFold::new(11).split(10), &["KFold", "11 splits", "10 samples"]);
    err_has(KFold::new(3).split(0), &["KFold"]);
    err_has(KFold::new(usize::MAX).split(5), &["KFold"]);
    err_has(StratifiedKFold::new(5).split(&[0, 1, 0]), &["StratifiedKFold"]);
    err_has(GroupKFold::new(3).split(&[7, 7, 8]), &["GroupKFold"]);
    err_has(LeaveOneOut.split(0), &["LeaveOneOut", "at least 2"]);
    err_has(LeaveOneOut.split(1), &["LeaveOneOut", "at least 2"]);
    // Sizes whose index lists cannot exist are errors, not aborts.
    err_has(KFold::new(2).split(usize::MAX), &["KFold", "too large"]);
    err_has(LeaveOneOut.split(1 << 40), &["LeaveOneOut", "too large"]);
    err_has(
        train_test_split(usize::MAX, 0.5, 0),
        &["train_test_split", "too large"],
    );
}

proptest! {
    /// Any fraction outside the open interval (0, 1), NaN and infinities included, is refused
    /// naming test_fraction.
    #[test]
    fn split_fractions_outside_0_1_are_refused(
        f in prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(0.0), Just(1.0),
            -1e9f64..=0.0, 1.0f64..1e9,
        ],
        n in 2usize..50,
    ) {
        let e = train_test_split(n, f, 0).unwrap_err().to_string();
        prop_assert!(e.contains("test_fraction"), "{}", e);
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let e = neurite_data::stratified_train_test_split(&labels, f, 0).unwrap_err().to_string();
        prop_assert!(e.contains("test_fraction"), "{}", e);
    }
}

#[test]
fn loader_refuses_batch_size_zero_and_broken_datasets() {
    let ds = Dataset::new(Array2::<f32>::zeros((4, 2)), array![0.0f32, 1.0, 0.0, 1.0]).unwrap();
    err_has(DataLoader::new(ds.clone(), 0), &["batch_size"]);
    // A huge batch size is one short batch, as PyTorch.
    let l = DataLoader::new(ds.clone(), usize::MAX).unwrap();
    assert_eq!(l.epoch(0).map(|b| b.len()).collect::<Vec<_>>(), vec![4]);
    assert_eq!(
        DataLoader::new(ds.clone(), usize::MAX)
            .unwrap()
            .drop_last(true)
            .len(),
        0
    );
    // A prefetch depth far beyond the number of batches is capped, not allocated.
    let l = DataLoader::new(ds.clone(), 3).unwrap().prefetch(usize::MAX);
    assert_eq!(l.epoch(0).map(|b| b.len()).collect::<Vec<_>>(), vec![3, 1]);
    let mut broken = ds;
    broken.y = ArrayD::zeros(IxDyn(&[3]));
    err_has(DataLoader::new(broken, 2), &["sample"]);
}

#[test]
fn datasets_broken_by_hand_are_errors_not_panics() {
    let good = Dataset::new(Array2::<f32>::zeros((3, 2)), array![0.0f32, 1.0, 2.0]).unwrap();
    let mut short_y = good.clone();
    short_y.y = ArrayD::zeros(IxDyn(&[2]));
    let mut scalar_x = good.clone();
    scalar_x.x = ArrayD::zeros(IxDyn(&[]));
    for (name, d) in [("short_y", &short_y), ("scalar_x", &scalar_x)] {
        err_has(d.subset(&[0]), &["Dataset::subset"]);
        err_has(d.shuffled(1), &["Dataset::shuffled"]);
        err_has(d.flatten(), &["Dataset::flatten"]);
        err_has(d.train_test_split(0.5, 0), &["Dataset::train_test_split"]);
        err_has(d.one_hot(None), &["Dataset::one_hot"]);
        err_has(d.reshape_samples(&[2]), &["Dataset::reshape_samples"]);
        err_has(good.concat(d), &["concat_all (dataset 1)"]);
        assert!(d.validate("x").is_err(), "{name}");
        let _ = d.sample_shape(); // no panic on a 0-d x
    }
    err_has(good.reshape_samples(&[usize::MAX, 2]), &["too large"]);
    err_has(good.one_hot(Some(usize::MAX)), &["too large"]);
    err_has(one_hot(&[0, 1], usize::MAX), &["one_hot", "too large"]);
    err_has(
        Dataset::new(Array2::<f32>::zeros((3, 2)), array![1.0f32]),
        &["3 samples"],
    );
    err_has(good.subset(&[3]), &["subset index 3"]);
    for c in [1 << 24, (1 << 24) + 1, usize::MAX] {
        err_has(
            Dataset::from_classes(Array2::<f32>::zeros((2, 1)), &[0, c]),
            &["from_classes", "sample 1"],
        );
    }
    // One-hot / score labels with a NaN: no class can be read, not a silent class 0.
    let scores = Dataset::new(
        Array2::<f32>::zeros((2, 1)),
        array![[0.2f32, 0.8], [f32::NAN, 0.1]],
    )
    .unwrap();
    err_has(scores.class_indices(), &["row 1", "NaN"]);
    for bad in [f32::NAN, -1.0, 0.5, f32::INFINITY, 1e9] {
        let d = Dataset::new(Array2::<f32>::zeros((1, 1)), array![bad]).unwrap();
        err_has(d.class_indices(), &["sample 0", "not a class index"]);
    }
}

#[test]
fn mnist_from_idx_refuses_a_hand_built_shape_that_overflows_when_flattened() {
    let images = IdxArray {
        shape: vec![0, usize::MAX, 2],
        data: IdxData::U8(vec![]),
    };
    let labels = IdxArray {
        shape: vec![0],
        data: IdxData::U8(vec![]),
    };
    let opts = mnist::MnistOptions {
        scale: true,
        flatten: true,
    };
    let p = Path::new("hand.idx");
    err_has(
        mnist::from_idx(&images, p, &labels, p, opts),
        &["too large to flatten"],
    );
}

#[test]
fn idx_array_built_by_hand_with_a_wrong_shape_is_an_error() {
    for shape in [vec![3], vec![1, 1], vec![usize::MAX, 2], vec![]] {
        let a = IdxArray {
            shape: shape.clone(),
            data: IdxData::U8(vec![1, 2]),
        };
        err_has(a.to_f32(false), &["IDX shape"]);
        assert!(a.to_bytes().is_err(), "{shape:?}");
    }
}

#[test]
fn augmentation_settings_that_can_never_work_are_refused_by_the_loader() {
    let ds = Dataset::new(ndarray::Array4::<f32>::zeros((2, 4, 4, 1)), array![0.0f32, 1.0]).unwrap();
    let loader = || DataLoader::new(ds.clone(), 2).unwrap();
    let bad: Vec<(Box<dyn neurite_data::Augment>, &[&str])> = vec![
        (
            Box::new(RandomRotation::new(f32::NAN)),
            &["RandomRotation", "max_degrees"],
        ),
        (
            Box::new(RandomRotation::new(f32::INFINITY)),
            &["RandomRotation", "max_degrees"],
        ),
        (
            Box::new(RandomFlip::horizontal().probability(f32::NAN)),
            &["RandomFlip", "p"],
        ),
        (
            Box::new(RandomFlip::both().probability(1.5)),
            &["RandomFlip", "p"],
        ),
        (
            Box::new(RandomTranslation::new(f32::NAN, 0.1)),
            &["RandomTranslation", "height_factor"],
        ),
        (
            Box::new(RandomTranslation::new(0.1, 2.0)),
            &["RandomTranslation", "width_factor"],
        ),
        (
            Box::new(RandomCrop::new(4).fill(Fill::Constant(f32::NAN))),
            &["RandomCrop", "Fill::Constant"],
        ),
        (
            Box::new(ColorJitter::new(f32::NAN, 0.1)),
            &["ColorJitter", "brightness"],
        ),
        (
            Box::new(ColorJitter::new(0.1, -1.0)),
            &["ColorJitter", "contrast"],
        ),
        (
            Box::new(ColorJitter::new(0.1, 0.1).clip(1.0, 0.0)),
            &["ColorJitter", "clip"],
        ),
        (Box::new(GaussianNoise::new(f32::NAN)), &["GaussianNoise", "std"]),
        (Box::new(GaussianNoise::new(-0.1)), &["GaussianNoise", "std"]),
        (
            Box::new(RandomErasing::new().probability(-0.1)),
            &["RandomErasing", "p"],
        ),
        (
            Box::new(RandomErasing {
                scale: (0.5, 0.1),
                ..Default::default()
            }),
            &["RandomErasing", "scale"],
        ),
        (
            Box::new(RandomErasing {
                ratio: (0.0, 1.0),
                ..Default::default()
            }),
            &["RandomErasing", "ratio"],
        ),
        (Box::new(Cutout::new(0)), &["Cutout", "size"]),
        (
            Box::new(RandomApply::new(Cutout::new(2), f32::NAN)),
            &["RandomApply", "p"],
        ),
        (
            Box::new(RandomApply::new(Cutout::new(0), 0.5)),
            &["Cutout", "size"],
        ),
        (
            Box::new(
                Pipeline::new()
                    .then(RandomFlip::horizontal())
                    .then(RandomRotation::new(f32::NAN)),
            ),
            &["Pipeline step 1", "max_degrees"],
        ),
    ];
    for (aug, needles) in bad {
        err_has(loader().augment(aug), needles);
    }
    // Sane settings, including a padding larger than the image, pass and run.
    let ok = Pipeline::new()
        .then(RandomCrop::new(100).fill(Fill::Reflect))
        .then(RandomCrop::new(usize::MAX))
        .then(Cutout::new(50))
        .then(RandomTranslation::new(-1.0, 1.0));
    let l = loader().augment(ok).unwrap();
    assert_eq!(l.epoch(0).count(), 1);
}

proptest! {
    /// `augment::shift` accepts any shift, `isize::MIN` / `MAX` included, with every fill:
    /// the shape is kept and nothing panics (it overflowed `-dx` / `y + dy` before). The
    /// overflow is only caught by overflow checks (debug builds); in release the check is that
    /// a shift by at least the image size with zero fill blanks the image.
    #[test]
    fn shift_accepts_any_offset(
        dy in prop_oneof![Just(isize::MIN), Just(isize::MAX), -50isize..50],
        dx in prop_oneof![Just(isize::MIN), Just(isize::MAX), -50isize..50],
        fill in prop_oneof![Just(Fill::Zero), Just(Fill::Reflect), Just(Fill::Edge), Just(Fill::Constant(2.0))],
    ) {
        let mut img = ndarray::Array3::<f32>::from_shape_fn((5, 4, 2), |(y, x, c)| (y * 8 + x * 2 + c) as f32 + 1.0);
        neurite_data::augment::shift(img.view_mut(), dy, dx, fill);
        prop_assert_eq!(img.dim(), (5, 4, 2));
        prop_assert!(img.iter().all(|v| v.is_finite()));
        if fill == Fill::Zero && (dy.unsigned_abs() >= 5 || dx.unsigned_abs() >= 4) {
            prop_assert!(img.iter().all(|&v| v == 0.0));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Scalers: NaN is missing (scikit-learn), inf is an error, constant / all-NaN columns.
// ---------------------------------------------------------------------------------------------

fn close(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * (1.0 + b.abs())
}

#[test]
fn standard_scaler_ignores_nan_in_fit_and_keeps_it_in_transform() {
    // Column 0: 1, NaN, 3, 8 -> mean 4, population variance ((9 + 1 + 16) / 3) = 26/3.
    // Column 1: constant 5 with a NaN -> mean 5, scale 1.
    // Column 2: all NaN -> mean NaN, scale 1, output NaN.
    let nan = f32::NAN;
    let x = array![
        [1.0f32, 5.0, nan],
        [nan, 5.0, nan],
        [3.0, nan, nan],
        [8.0, 5.0, nan]
    ];
    let mut s = StandardScaler::new();
    let z = s.fit_transform(&x).unwrap();
    let sd = (26.0f64 / 3.0).sqrt() as f32;
    let mean = s.mean().unwrap();
    let scale = s.scale().unwrap();
    assert_eq!(mean[0], 4.0);
    assert_eq!(mean[1], 5.0);
    assert!(mean[2].is_nan());
    assert!(close(scale[0], sd), "{scale}");
    assert_eq!(scale[1], 1.0);
    assert_eq!(scale[2], 1.0);
    let want = [
        [-3.0 / sd, 0.0, nan],
        [nan, 0.0, nan],
        [-1.0 / sd, nan, nan],
        [4.0 / sd, 0.0, nan],
    ];
    for (i, row) in want.iter().enumerate() {
        for (j, &w) in row.iter().enumerate() {
            assert!(close(z[[i, j]], w), "z[{i},{j}] = {} want {w}", z[[i, j]]);
        }
    }
    // inverse_transform restores the values and keeps the NaNs.
    let back = s.inverse_transform(&z).unwrap();
    for (a, b) in back.iter().zip(x.iter()) {
        assert!(close(*a, *b), "{a} vs {b}");
    }
}

#[test]
fn scalers_refuse_infinity_naming_the_column() {
    let x = array![[1.0f32, 2.0], [3.0, f32::INFINITY]];
    err_has(
        StandardScaler::new().fit(&x).map(drop),
        &["StandardScaler.fit", "column 1", "sample 1"],
    );
    err_has(
        MinMaxScaler::new().fit(&x).map(drop),
        &["MinMaxScaler.fit", "column 1"],
    );
    let ok = array![[1.0f32, 2.0], [3.0, 4.0]];
    let mut s = StandardScaler::new();
    s.fit(&ok).unwrap();
    let bad = array![[f32::NEG_INFINITY, 0.0]];
    err_has(s.transform(&bad), &["StandardScaler.transform", "column 0"]);
    err_has(
        s.inverse_transform(&bad),
        &["StandardScaler.inverse_transform", "column 0"],
    );
    let mut m = MinMaxScaler::new();
    m.fit(&ok).unwrap();
    err_has(m.transform(&bad), &["MinMaxScaler.transform", "column 0"]);
    for (lo, hi) in [(f32::NAN, 1.0), (0.0, f32::INFINITY), (1.0, 1.0), (2.0, 1.0)] {
        err_has(
            MinMaxScaler::with_range(lo, hi).fit(&ok).map(drop),
            &["feature_range"],
        );
    }
}

#[test]
fn min_max_scaler_ignores_nan_and_survives_a_range_changed_after_fit() {
    let nan = f32::NAN;
    // Column 0: 2, NaN, 6 -> (0, 0.5?, 1); column 1 all NaN.
    let x = array![[2.0f32, nan], [nan, nan], [6.0, nan], [4.0, nan]];
    let mut m = MinMaxScaler::new();
    let z = m.fit_transform(&x).unwrap();
    assert_eq!(m.data_min().unwrap()[0], 2.0);
    assert_eq!(m.data_max().unwrap()[0], 6.0);
    assert!(m.data_min().unwrap()[1].is_nan());
    assert_eq!(z[[0, 0]], 0.0);
    assert!(z[[1, 0]].is_nan());
    assert_eq!(z[[2, 0]], 1.0);
    assert_eq!(z[[3, 0]], 0.5);
    assert!(z.column(1).iter().all(|v| v.is_nan()));
    // clip with a range made invalid after fit: no panic, NaN kept.
    m.clip = true;
    m.feature_range = (1.0, 0.0);
    let z = m.transform(&array![[100.0f32, 1.0], [nan, 1.0]]).unwrap();
    assert!(z[[1, 0]].is_nan());
}

proptest! {
    /// With NaNs sprinkled anywhere, StandardScaler's statistics equal those of the column
    /// without its NaNs, and NaNs stay exactly where they were.
    #[test]
    fn standard_scaler_nan_positions_and_statistics(
        col in proptest::collection::vec(prop_oneof![3 => -1e3f32..1e3, 1 => Just(f32::NAN)], 1..40),
    ) {
        let x = Array2::from_shape_vec((col.len(), 1), col.clone()).unwrap();
        let mut s = StandardScaler::new();
        let z = s.fit_transform(&x).unwrap();
        let present: Vec<f64> = col.iter().filter(|v| !v.is_nan()).map(|&v| v as f64).collect();
        for (a, b) in z.iter().zip(&col) {
            prop_assert_eq!(a.is_nan(), b.is_nan());
        }
        let mean = s.mean().unwrap()[0];
        if present.is_empty() {
            prop_assert!(mean.is_nan());
            prop_assert_eq!(s.scale().unwrap()[0], 1.0);
        } else {
            let m = present.iter().sum::<f64>() / present.len() as f64;
            let var = present.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / present.len() as f64;
            prop_assert!((mean as f64 - m).abs() <= 1e-3 * (1.0 + m.abs()), "{} vs {}", mean, m);
            let sd = s.scale().unwrap()[0] as f64;
            if var.sqrt() > 1e-3 {
                prop_assert!((sd - var.sqrt()).abs() <= 1e-3 * var.sqrt(), "{} vs {}", sd, var.sqrt());
            }
            prop_assert!(sd.is_finite() && sd > 0.0);
        }
    }
}

#[test]
fn writers_replace_a_file_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let a = ndarray::Array2::<f32>::ones((2, 3));
    // A directory in the way: an error, and no temporary file is left behind.
    let blocked = dir.path().join("blocked.npy");
    std::fs::create_dir(&blocked).unwrap();
    assert!(neurite_data::npy::write(&blocked, &a).is_err());
    let idx = neurite_data::idx::IdxArray {
        shape: vec![2],
        data: neurite_data::idx::IdxData::U8(vec![1, 2]),
    };
    let blocked_gz = dir.path().join("blocked.idx.gz");
    std::fs::create_dir(&blocked_gz).unwrap();
    assert!(neurite_data::idx::write(&blocked_gz, &idx).is_err());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // An existing file is replaced by the complete new content.
    let path = dir.path().join("a.npy");
    std::fs::write(&path, b"old").unwrap();
    neurite_data::npy::write(&path, &a).unwrap();
    assert_eq!(neurite_data::npy::read(&path).unwrap().shape(), &[2, 3]);
}
