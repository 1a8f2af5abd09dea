//! File formats on small files the tests write, including corrupted ones: every error names
//! the file and the problem, nothing panics, nothing is silently truncated.

use std::path::{Path, PathBuf};

use ndarray::Array4;
#[cfg(feature = "csv")]
use neurite_data::csv;
#[cfg(all(feature = "csv", feature = "gzip"))]
use neurite_data::digits;
use neurite_data::idx::{self, IdxArray, IdxData};
#[cfg(feature = "image")]
use neurite_data::ImageFolder;
use neurite_data::{cifar10, cifar100, mnist, npy};

/// `.gz` names are tried only when the `gzip` feature is on.
const GZIP: bool = cfg!(feature = "gzip");

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

#[cfg(feature = "gzip")]
fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Error text, asserting it names the file and contains every `needle`.
fn err_names(
    r: Result<impl std::fmt::Debug, neurite_data::DataError>,
    file: &str,
    needles: &[&str],
) -> String {
    let e = r.expect_err("expected an error").to_string();
    assert!(e.contains(file), "error does not name {file}: {e}");
    for n in needles {
        assert!(e.contains(n), "error lacks {n:?}: {e}");
    }
    e
}

fn idx_images(n: usize, h: usize, w: usize) -> IdxArray {
    IdxArray {
        shape: vec![n, h, w],
        data: IdxData::U8((0..n * h * w).map(|i| (i * 7 % 256) as u8).collect()),
    }
}

fn idx_labels(labels: &[u8]) -> IdxArray {
    IdxArray {
        shape: vec![labels.len()],
        data: IdxData::U8(labels.to_vec()),
    }
}

// ---------------------------------------------------------------- IDX / MNIST

#[test]
fn idx_round_trip_all_types_raw_and_gz() {
    let d = tmp();
    let arrays = [
        idx_images(3, 4, 5),
        IdxArray {
            shape: vec![2, 2],
            data: IdxData::I8(vec![-1, 2, -3, 4]),
        },
        IdxArray {
            shape: vec![3],
            data: IdxData::I16(vec![-300, 0, 300]),
        },
        IdxArray {
            shape: vec![1, 2],
            data: IdxData::I32(vec![-70000, 70000]),
        },
        IdxArray {
            shape: vec![2],
            data: IdxData::F32(vec![1.5, -2.25]),
        },
        IdxArray {
            shape: vec![2, 1],
            data: IdxData::F64(vec![1e-3, 7.0]),
        },
    ];
    for (i, a) in arrays.iter().enumerate() {
        let names = [format!("a{i}.idx"), format!("a{i}.idx.gz")];
        for name in names.into_iter().filter(|n| GZIP || !n.ends_with(".gz")) {
            let p = d.path().join(name);
            idx::write(&p, a).unwrap();
            let b = idx::read(&p).unwrap();
            assert_eq!(&b, a);
        }
    }
    assert_eq!(
        arrays[2].to_f32(false).unwrap().as_slice().unwrap(),
        &[-300.0, 0.0, 300.0]
    );
    assert_eq!(arrays[0].to_f32(true).unwrap()[[0, 0, 1]], 7.0 / 255.0);
}

#[test]
fn idx_corruptions_are_named_errors() {
    let good = idx_images(4, 3, 3).to_bytes().unwrap();
    let p = Path::new("images.idx");
    // Truncated in the body: names the record.
    err_names(
        idx::parse(&good[..good.len() - 5], p),
        "images.idx",
        &["truncated", "3 of 4 records", "record 3"],
    );
    // Truncated in the header.
    err_names(
        idx::parse(&good[..9], p),
        "images.idx",
        &["truncated header", "3 dimensions"],
    );
    err_names(idx::parse(&good[..2], p), "images.idx", &["truncated"]);
    // Trailing bytes.
    let mut long = good.clone();
    long.extend_from_slice(&[1, 2, 3]);
    err_names(idx::parse(&long, p), "images.idx", &["3 unexpected bytes"]);
    // Wrong magic numbers.
    let mut bad = good.clone();
    bad[0] = 0x1f;
    err_names(
        idx::parse(&bad, p),
        "images.idx",
        &["wrong magic number 0x1F000803"],
    );
    let mut bad = good.clone();
    bad[2] = 0x07;
    err_names(
        idx::parse(&bad, p),
        "images.idx",
        &["unknown IDX data type code 0x07"],
    );
    // Absurd dimensions.
    let huge = [
        0u8, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    ];
    assert!(idx::parse(&huge, p).is_err());
    // Found by cargo-fuzz: a zero dimension makes the data empty, but the other dimensions
    // overflow ndarray's size limit (this panicked in `to_f32`).
    let crash = [
        0u8, 0, 8, 4, 0x77, 0x77, 0xf5, 1, 0, 0, 0, 0, 0, 0, 0, 0xf2, 3, 0, 1, 4,
    ];
    err_names(idx::parse(&crash, p), "images.idx", &["more data than can exist"]);
}

#[test]
#[cfg(feature = "gzip")]
fn idx_truncated_gzip_is_an_error() {
    let d = tmp();
    let raw = idx_images(50, 28, 28).to_bytes().unwrap();
    let z = gz(&raw);
    let p = d.path().join("cut.gz");
    write(&p, &z[..z.len() / 2]);
    err_names(idx::read(&p), "cut.gz", &[]);
    let p2 = d.path().join("garbage.gz");
    let mut g = z.clone();
    for b in g.iter_mut().skip(20).take(40) {
        *b ^= 0x5a;
    }
    write(&p2, &g);
    err_names(idx::read(&p2), "garbage.gz", &[]);
}

fn write_mnist(dir: &Path, n_train: usize, n_test: usize, gzip: bool) {
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let ext = if gzip { ".gz" } else { "" };
    idx::write(
        dir.join(format!("train-images-idx3-ubyte{ext}")),
        &idx_images(n_train, 28, 28),
    )
    .unwrap();
    idx::write(
        dir.join(format!("train-labels-idx1-ubyte{ext}")),
        &idx_labels(&labels(n_train)),
    )
    .unwrap();
    idx::write(
        dir.join(format!("t10k-images-idx3-ubyte{ext}")),
        &idx_images(n_test, 28, 28),
    )
    .unwrap();
    idx::write(
        dir.join(format!("t10k-labels-idx1-ubyte{ext}")),
        &idx_labels(&labels(n_test)),
    )
    .unwrap();
}

#[test]
fn mnist_loads_raw_and_gz() {
    for gzip in [false, true].into_iter().filter(|&gzip| GZIP || !gzip) {
        let d = tmp();
        write_mnist(d.path(), 12, 5, gzip);
        let (train, test) = mnist::load(d.path()).unwrap();
        assert_eq!(train.x.shape(), &[12, 28, 28, 1]);
        assert_eq!(test.x.shape(), &[5, 28, 28, 1]);
        assert_eq!(train.y[[11]], 1.0);
        assert!(train.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let (flat, _) = mnist::load_with(
            d.path(),
            mnist::MnistOptions {
                scale: false,
                flatten: true,
            },
        )
        .unwrap();
        assert_eq!(flat.x.shape(), &[12, 784]);
        assert_eq!(flat.x[[0, 1]], 7.0);
    }
}

#[test]
fn mnist_bad_inputs() {
    let d = tmp();
    write_mnist(d.path(), 12, 5, false);
    // Count mismatch.
    idx::write(d.path().join("train-labels-idx1-ubyte"), &idx_labels(&[1; 11])).unwrap();
    err_names(
        mnist::load(d.path()),
        "train-labels-idx1-ubyte",
        &["11 labels", "12 images"],
    );
    // Images and labels swapped.
    let e = mnist::load_files(
        d.path().join("t10k-labels-idx1-ubyte"),
        d.path().join("t10k-images-idx3-ubyte"),
        Default::default(),
    );
    err_names(e, "t10k-labels-idx1-ubyte", &["3 dimensions"]);
    // Missing file.
    let empty = tmp();
    err_names(mnist::load(empty.path()), "train-images", &[]);
    // Truncated image file.
    let p = d.path().join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&p).unwrap();
    write(&p, &bytes[..bytes.len() - 100]);
    write_mnist(d.path(), 12, 5, false);
    write(&p, &bytes[..bytes.len() - 100]);
    err_names(
        mnist::load(d.path()),
        "t10k-images-idx3-ubyte",
        &["truncated", "4 of 5 records"],
    );
}

// ---------------------------------------------------------------- CIFAR

fn cifar_record(label: &[u8], seed: u8) -> Vec<u8> {
    let mut r = label.to_vec();
    for ch in 0..3u8 {
        for p in 0..1024u32 {
            r.push((p as u8).wrapping_mul(3).wrapping_add(ch * 50).wrapping_add(seed));
        }
    }
    r
}

#[test]
fn cifar10_parses_channel_planes_to_nhwc() {
    let d = tmp();
    let bytes: Vec<u8> = (0..3u8).flat_map(|i| cifar_record(&[i * 3], i)).collect();
    let p = d.path().join("data_batch_1.bin");
    write(&p, &bytes);
    let ds = cifar10::load_batch_with(&p, false).unwrap();
    assert_eq!(ds.x.shape(), &[3, 32, 32, 3]);
    assert_eq!(ds.y.as_slice().unwrap(), &[0.0, 3.0, 6.0]);
    // pixel (row 0, col 5) of record 1: plane value p=5 -> 15 + ch*50 + 1
    assert_eq!(ds.x[[1, 0, 5, 0]], 16.0);
    assert_eq!(ds.x[[1, 0, 5, 2]], 116.0);
    assert_eq!(ds.x[[1, 1, 0, 1]], ((32u32 * 3) as u8 + 50 + 1) as f32);
    let scaled = cifar10::load_batch(&p).unwrap();
    assert!((scaled.x[[1, 0, 5, 0]] - 16.0 / 255.0).abs() < 1e-7);
}

#[test]
fn cifar_bad_inputs() {
    let d = tmp();
    let bytes: Vec<u8> = (0..3u8).flat_map(|i| cifar_record(&[i], i)).collect();
    let p = d.path().join("test_batch.bin");
    write(&p, &bytes[..bytes.len() - 1]);
    err_names(
        cifar10::load_batch(&p),
        "test_batch.bin",
        &["not a whole number of 3073-byte", "2 complete records"],
    );
    write(&p, &[]);
    err_names(cifar10::load_batch(&p), "test_batch.bin", &["empty"]);
    let mut bad = bytes.clone();
    bad[3073 * 2] = 10;
    write(&p, &bad);
    err_names(
        cifar10::load_batch(&p),
        "test_batch.bin",
        &["record 2", "label 10"],
    );
    err_names(cifar10::load_batch(d.path().join("nope.bin")), "nope.bin", &[]);
    // A CIFAR-100 file read as CIFAR-10 is caught by the size.
    let c100: Vec<u8> = (0..2u8).flat_map(|i| cifar_record(&[1, 50 + i], i)).collect();
    write(&p, &c100);
    assert!(cifar10::load_batch(&p).is_err());
}

#[test]
fn cifar100_fine_and_coarse() {
    let d = tmp();
    let bytes: Vec<u8> = (0..4u8).flat_map(|i| cifar_record(&[i, 90 + i], i)).collect();
    let p = d.path().join("train.bin");
    write(&p, &bytes);
    let fine = cifar100::load_batch(&p, cifar100::LabelKind::Fine).unwrap();
    let coarse = cifar100::load_batch(&p, cifar100::LabelKind::Coarse).unwrap();
    assert_eq!(fine.y.as_slice().unwrap(), &[90.0, 91.0, 92.0, 93.0]);
    assert_eq!(coarse.y.as_slice().unwrap(), &[0.0, 1.0, 2.0, 3.0]);
    assert_eq!(fine.x, coarse.x);
    let mut bad = bytes.clone();
    bad[3074 + 1] = 100;
    write(&p, &bad);
    err_names(
        cifar100::load_batch(&p, Default::default()),
        "train.bin",
        &["record 1", "fine label 100"],
    );
    let mut bad = bytes.clone();
    bad[0] = 20;
    write(&p, &bad);
    err_names(
        cifar100::load_batch(&p, Default::default()),
        "train.bin",
        &["record 0", "coarse label 20"],
    );
    assert_eq!(cifar100::FINE_CLASS_NAMES.len(), 100);
}

#[test]
fn cifar10_load_dir() {
    let d = tmp();
    let sub = d.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&sub).unwrap();
    for (k, name) in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ]
    .iter()
    .enumerate()
    {
        let bytes: Vec<u8> = (0..2u8).flat_map(|i| cifar_record(&[k as u8], i)).collect();
        write(&sub.join(name), &bytes);
    }
    let (train, test) = cifar10::load(d.path()).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(test.y.as_slice().unwrap(), &[5.0, 5.0]);
    std::fs::remove_file(sub.join("data_batch_3.bin")).unwrap();
    err_names(cifar10::load(d.path()), "data_batch_3.bin", &[]);
}

// ---------------------------------------------------------------- CSV

#[test]
#[cfg(feature = "csv")]
fn csv_header_names_and_classes() {
    let text = "a,b,species,c\n1,2,cat,3\n4,5,dog,6\n\n7,8,cat,9\n";
    let opts = csv::CsvOptions::new().label("species").features(["c", "a"]);
    let t = csv::parse(text.as_bytes(), "pets.csv", &opts).unwrap();
    assert_eq!(
        t.dataset.x,
        ndarray::array![[3.0f32, 1.0], [6.0, 4.0], [9.0, 7.0]].into_dyn()
    );
    assert_eq!(t.dataset.y.as_slice().unwrap(), &[0.0, 1.0, 0.0]);
    assert_eq!(
        t.classes.as_deref(),
        Some(&["cat".to_string(), "dog".to_string()][..])
    );
    assert_eq!(t.feature_names, vec!["c", "a"]);
    assert_eq!(t.label_name.as_deref(), Some("species"));
    // A fixed class list: an unknown class is an error with its line.
    let opts = csv::CsvOptions::new().label(2).class_names(["cat"]);
    err_names(
        csv::parse(text.as_bytes(), "pets.csv", &opts),
        "pets.csv",
        &["line 3", "unknown class \"dog\""],
    );
    // Unknown column name.
    let opts = csv::CsvOptions::new().label("kind");
    err_names(
        csv::parse(text.as_bytes(), "pets.csv", &opts),
        "pets.csv",
        &["no column named \"kind\""],
    );
}

#[test]
#[cfg(feature = "csv")]
fn csv_without_header_numeric_labels_no_label() {
    let text = "1;2;0\n3;4;1\n";
    let opts = csv::CsvOptions::new().header(false).delimiter(b';');
    let t = csv::parse(text.as_bytes(), "t.csv", &opts).unwrap();
    assert_eq!(t.dataset.x.shape(), &[2, 2]);
    assert_eq!(t.dataset.y.as_slice().unwrap(), &[0.0, 1.0]);
    assert!(t.classes.is_none());
    let t = csv::parse(text.as_bytes(), "t.csv", &opts.clone().no_label()).unwrap();
    assert_eq!(t.dataset.x.shape(), &[2, 3]);
    assert_eq!(t.dataset.y.shape(), &[2, 0]);
    let t = csv::parse(
        b"x y\n1  2\n 3\t4 \n",
        "w.txt",
        &csv::CsvOptions::new().whitespace(),
    )
    .unwrap();
    assert_eq!(t.dataset.x.as_slice().unwrap(), &[1.0, 3.0]);
}

#[test]
#[cfg(feature = "csv")]
fn csv_bad_rows() {
    let o = csv::CsvOptions::new();
    err_names(
        csv::parse(b"a,b,y\n1,2,0\n3,0\n", "r.csv", &o),
        "r.csv",
        &["line 3", "2 fields, expected 3"],
    );
    err_names(
        csv::parse(b"a,b,y\n1,2,0\n3,x,0\n", "r.csv", &o),
        "r.csv",
        &["line 3", "column 1 (b)", "\"x\""],
    );
    err_names(
        csv::parse(b"a,b,y\n1,,0\n", "r.csv", &o),
        "r.csv",
        &["line 2", "empty field"],
    );
    err_names(csv::parse(b"a,b,y\n", "r.csv", &o), "r.csv", &["no data rows"]);
    err_names(csv::parse(b"", "r.csv", &o), "r.csv", &["no header"]);
    err_names(
        csv::parse(b"a,b\n1,\xff\n", "r.csv", &o),
        "r.csv",
        &["line 2", "UTF-8"],
    );
    let num = o.clone().label_encoding(csv::LabelEncoding::Numeric);
    err_names(
        csv::parse(b"a,y\n1,cat\n", "r.csv", &num),
        "r.csv",
        &["line 2", "\"cat\""],
    );
    let by_name = csv::CsvOptions::new().header(false).label("y");
    err_names(
        csv::parse(b"1,2\n", "r.csv", &by_name),
        "r.csv",
        &["without a header"],
    );
    err_names(
        csv::parse(b"1,2\n", "r.csv", &csv::CsvOptions::new().header(false).label(5)),
        "r.csv",
        &["column 5"],
    );
}

#[test]
#[cfg(all(feature = "csv", feature = "gzip"))]
fn csv_gzip_file() {
    let d = tmp();
    let p = d.path().join("t.csv.gz");
    write(&p, &gz(b"f,label\n0.5,1\n1.5,0\n"));
    let t = csv::load(&p, &csv::CsvOptions::new()).unwrap();
    assert_eq!(t.dataset.x.as_slice().unwrap(), &[0.5, 1.5]);
}

// ---------------------------------------------------------------- npy / npz

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn npy_files_written_by_numpy() {
    // Written by numpy 2.4 (see tests/fixtures/README.md).
    let a = npy::read(fixture("f64_2x3.npy")).unwrap();
    assert_eq!(a.shape(), &[2, 3]);
    assert_eq!(a.as_slice().unwrap(), &[0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    let f = npy::read(fixture("u8_fortran.npy")).unwrap();
    assert_eq!(f.shape(), &[3, 4]);
    assert_eq!(
        f.as_slice().unwrap(),
        &(0..12).map(|v| v as f32).collect::<Vec<_>>()[..]
    );
    let s = npy::read_with(fixture("u8_fortran.npy"), true).unwrap();
    assert!((s[[2, 3]] - 11.0 / 255.0).abs() < 1e-7);
    assert_eq!(
        npy::read(fixture("i16_be.npy")).unwrap().as_slice().unwrap(),
        &[-2.0, 300.0, 7.0]
    );
    assert_eq!(
        npy::read(fixture("f16.npy")).unwrap().as_slice().unwrap(),
        &[0.5, -1.25, 65504.0]
    );
    assert_eq!(
        npy::read(fixture("bool.npy")).unwrap().as_slice().unwrap(),
        &[1.0, 0.0, 1.0]
    );
    let sc = npy::read(fixture("scalar_f4.npy")).unwrap();
    assert_eq!((sc.ndim(), sc.sum()), (0, 3.5));
}

#[test]
#[cfg(feature = "npz")]
fn npz_files_written_by_numpy() {
    for name in ["xy.npz", "xy_compressed.npz"] {
        let all = npy::read_npz(fixture(name)).unwrap();
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["x_train", "y_train"]);
        let ds = npy::load_npz_dataset(fixture(name), "x_train", "y_train", true).unwrap();
        assert_eq!(ds.x.shape(), &[2, 2, 2]);
        assert!((ds.x[[1, 1, 1]] - 210.0 / 255.0).abs() < 1e-6);
        assert_eq!(ds.y.as_slice().unwrap(), &[1.0, 0.0]);
        err_names(
            npy::load_npz_dataset(fixture(name), "x_test", "y_train", true),
            name,
            &["no array \"x_test\""],
        );
    }
}

#[test]
fn npy_round_trip_and_corruption() {
    let d = tmp();
    let a =
        Array4::from_shape_fn((2, 3, 1, 2), |(i, j, k, l)| (i * 6 + j * 2 + k + l) as f32 - 0.5).into_dyn();
    let p = d.path().join("a.npy");
    npy::write(&p, &a).unwrap();
    assert_eq!(npy::read(&p).unwrap(), a);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.len() % 16, 0); // header padded to 64, data 48 bytes
                                     // Corruptions.
    err_names(
        npy::parse(&bytes[..bytes.len() - 4], "a.npy", false),
        "a.npy",
        &["truncated", "needs 48 data bytes"],
    );
    let mut long = bytes.clone();
    long.push(0);
    err_names(
        npy::parse(&long, "a.npy", false),
        "a.npy",
        &["1 unexpected bytes"],
    );
    err_names(
        npy::parse(b"PK\x03\x04 not npy", "a.npy", false),
        "a.npy",
        &["magic"],
    );
    let hdr = std::str::from_utf8(&bytes[10..bytes.len() - 48]).unwrap();
    let weird = hdr.replace("<f4", "<c8");
    let mut w = bytes[..10].to_vec();
    w.extend_from_slice(weird.as_bytes());
    w.extend_from_slice(&bytes[bytes.len() - 48..]);
    err_names(
        npy::parse(&w, "a.npy", false),
        "a.npy",
        &["unsupported dtype \"<c8\""],
    );
}

#[test]
#[cfg(feature = "npz")]
fn npz_round_trip_and_corruption() {
    let d = tmp();
    let a =
        Array4::from_shape_fn((2, 3, 1, 2), |(i, j, k, l)| (i * 6 + j * 2 + k + l) as f32 - 0.5).into_dyn();
    let v1 = ndarray::Array1::from(vec![1.0f32, 2.0]).into_dyn();
    let z = d.path().join("ab.npz");
    npy::write_npz(&z, &[("a", &a), ("v", &v1)], true).unwrap();
    let back = npy::read_npz(&z).unwrap();
    assert_eq!(
        back,
        vec![("a".to_string(), a.clone()), ("v".to_string(), v1.clone())]
    );
    npy::write_npz(&z, &[("a", &a)], false).unwrap();
    assert_eq!(npy::read_npz(&z).unwrap()[0].1, a);
    let zb = std::fs::read(&z).unwrap();
    err_names(
        npy::parse_npz(&zb[..zb.len() / 2], "ab.npz", false),
        "ab.npz",
        &[],
    );
}

// ---------------------------------------------------------------- image folder

#[cfg(feature = "image")]
fn save_png(path: &Path, w: u32, h: u32, v: u8) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([v, (x * 10) as u8, (y * 10) as u8]));
    img.save(path).unwrap();
}

#[test]
#[cfg(feature = "image")]
fn image_folder_loads_classes() {
    let d = tmp();
    for c in ["cat", "dog"] {
        std::fs::create_dir(d.path().join(c)).unwrap();
    }
    save_png(&d.path().join("cat/1.png"), 4, 3, 10);
    save_png(&d.path().join("cat/2.PNG"), 4, 3, 20);
    save_png(&d.path().join("dog/1.png"), 4, 3, 30);
    image::RgbImage::from_pixel(4, 3, image::Rgb([200, 200, 200]))
        .save(d.path().join("dog/2.jpg"))
        .unwrap();
    write(&d.path().join("dog/notes.txt"), b"ignored");
    write(&d.path().join("dog/.hidden.png"), b"ignored");
    let f = ImageFolder::new(d.path()).scale(false).load().unwrap();
    assert_eq!(f.classes, vec!["cat", "dog"]);
    assert_eq!(f.dataset.x.shape(), &[4, 3, 4, 3]);
    assert_eq!(f.dataset.y.as_slice().unwrap(), &[0.0, 0.0, 1.0, 1.0]);
    assert_eq!(f.dataset.x[[2, 1, 2, 0]], 30.0);
    assert_eq!(f.dataset.x[[0, 2, 1, 2]], 20.0);
    assert!((f.dataset.x[[3, 0, 0, 0]] - 200.0).abs() <= 3.0); // jpeg
    let g = ImageFolder::new(d.path())
        .grayscale(true)
        .resize(6, 5)
        .load()
        .unwrap();
    assert_eq!(g.dataset.x.shape(), &[4, 6, 5, 1]);
    assert!(g.dataset.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // A given class list fixes the label order (samples come class by class).
    let h = ImageFolder::new(d.path()).classes(["dog", "cat"]).load().unwrap();
    assert_eq!(h.dataset.y.as_slice().unwrap(), &[0.0, 0.0, 1.0, 1.0]);
    assert!(h.paths[0].ends_with("dog/1.png"));
    assert_eq!(
        h.dataset.x.index_axis(ndarray::Axis(0), 0),
        f.dataset.x.index_axis(ndarray::Axis(0), 2).mapv(|v| v / 255.0)
    );
}

#[test]
#[cfg(feature = "image")]
fn image_folder_bad_inputs() {
    let d = tmp();
    std::fs::create_dir(d.path().join("cat")).unwrap();
    std::fs::create_dir(d.path().join("cow")).unwrap();
    save_png(&d.path().join("cat/1.png"), 4, 4, 1);
    save_png(&d.path().join("cow/1.png"), 4, 4, 1);
    err_names(
        ImageFolder::new(d.path()).classes(["cat", "dog"]).load(),
        "cow",
        &["unknown class folder \"cow\""],
    );
    err_names(
        ImageFolder::new(d.path()).classes(["cat", "cow", "dog"]).load(),
        "",
        &["\"dog\"", "has no folder"],
    );
    save_png(&d.path().join("cow/2.png"), 5, 4, 1);
    err_names(ImageFolder::new(d.path()).load(), "2.png", &["4x5", "resize"]);
    assert!(ImageFolder::new(d.path()).resize(4, 4).load().is_ok());
    write(&d.path().join("cow/2.png"), b"\x89PNG\r\n\x1a\n not really");
    err_names(ImageFolder::new(d.path()).load(), "2.png", &["cannot decode"]);
    let empty = tmp();
    err_names(
        ImageFolder::new(empty.path()).load(),
        "",
        &["no class subfolders"],
    );
    err_names(
        ImageFolder::new(empty.path().join("missing")).load(),
        "missing",
        &[],
    );
}

// ---------------------------------------------------------------- digits

#[test]
#[cfg(all(feature = "csv", feature = "gzip"))]
fn digits_embedded() {
    let ds = digits::load();
    assert_eq!(ds.x.shape(), &[1797, 8, 8, 1]);
    assert_eq!(ds.y.shape(), &[1797]);
    assert_eq!(
        ds.class_counts().unwrap(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert!(ds.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(ds.x.iter().cloned().fold(0.0, f32::max), 1.0);
    // First image of scikit-learn's digits: 0,0,5,13,9,1,0,0,... label 0.
    assert_eq!(ds.x[[0, 0, 2, 0]], 5.0 / 16.0);
    assert_eq!(ds.x[[0, 0, 3, 0]], 13.0 / 16.0);
    assert_eq!(ds.y[[0]], 0.0);
    let flat = digits::load_flat();
    assert_eq!(flat.x.shape(), &[1797, 64]);
    assert_eq!(flat.x[[0, 3]], 13.0 / 16.0);
    assert!(digits::LICENSE.contains("BSD 3-Clause"));
    assert_eq!(digits::load_raw().x[[0, 3]], 13.0);
}
