//! scikit-learn's digits: 1,797 8x8 grayscale images of handwritten digits (pixel values
//! 0..16), ten classes, embedded in the crate — no file needed.
//!
//! Source: the test part of the UCI *Optical Recognition of Handwritten Digits* data set
//! (E. Alpaydin, C. Kaynak, 1998), as shipped in `sklearn/datasets/data/digits.csv.gz` of
//! scikit-learn 1.9.1, distributed under scikit-learn's BSD 3-Clause license ([`LICENSE`]).
//! Class counts 0..9: 178, 182, 177, 183, 181, 182, 181, 179, 174, 180.
//!
//! ```
//! let ds = neurite_data::digits::load();
//! assert_eq!(ds.x.shape(), &[1797, 8, 8, 1]); // pixel / 16, in [0, 1]
//! assert_eq!(ds.y.shape(), &[1797]);          // 0.0 ..= 9.0
//! ```

use ndarray::{Array1, IxDyn};

use crate::csv::{self as table, Column, CsvOptions, LabelEncoding};
use crate::dataset::Dataset;

/// The embedded file (gzip CSV: 64 pixel values then the label per line).
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// scikit-learn's BSD 3-Clause license, under which the data is distributed.
pub const LICENSE: &str = include_str!("../data/LICENSE-scikit-learn.txt");

/// Where the data comes from.
pub const SOURCE: &str = "scikit-learn 1.9.1, sklearn/datasets/data/digits.csv.gz: the test set of the UCI \
Optical Recognition of Handwritten Digits data set (E. Alpaydin, C. Kaynak, 1998), \
https://archive.ics.uci.edu/ml/datasets/Optical+Recognition+of+Handwritten+Digits";

/// Number of images.
pub const N_SAMPLES: usize = 1797;

/// Raw pixels `(1797, 64)` with values 0..16 and labels `(1797,)`.
pub fn load_raw() -> Dataset {
    let bytes = crate::io::gunzip(DIGITS_CSV_GZ, "digits.csv.gz".as_ref())
        .expect("embedded digits.csv.gz is valid gzip");
    let opts = CsvOptions::new()
        .header(false)
        .label(Column::Index(64))
        .label_encoding(LabelEncoding::Numeric);
    let data = table::parse(&bytes, "digits.csv.gz", &opts).expect("embedded digits.csv parses");
    data.dataset
}

/// Images `(1797, 8, 8, 1)` scaled to `[0, 1]` (pixel / 16), labels `(1797,)`.
pub fn load() -> Dataset {
    let raw = load_raw();
    let x = raw.x.mapv(|v| v / 16.0);
    let x = x
        .into_shape_with_order(IxDyn(&[N_SAMPLES, 8, 8, 1]))
        .expect("1797 * 64 values");
    Dataset { x, y: raw.y }
}

/// Flat features `(1797, 64)` scaled to `[0, 1]`, labels `(1797,)`.
pub fn load_flat() -> Dataset {
    let raw = load_raw();
    Dataset {
        x: raw.x.mapv(|v| v / 16.0),
        y: raw.y,
    }
}

/// The labels as class indices.
pub fn labels() -> Array1<usize> {
    load_raw().y.iter().map(|&v| v as usize).collect()
}
