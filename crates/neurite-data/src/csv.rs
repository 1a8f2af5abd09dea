//! CSV (and whitespace-separated) tables: choose the label column and the feature columns, by
//! index or by header name; with or without a header line. Files may be gzip-compressed.
//!
//! Bad input gives an error naming the file and the line: a row with a different number of
//! fields (ragged), a value that is not a number, an unknown column name, a label not in a
//! given class list.
//!
//! ```no_run
//! use neurite_data::csv::{self, Column, CsvOptions};
//! // scikit-learn's iris.csv: a first line of counts and class names, then 4 features + label.
//! let iris = csv::load(
//!     "iris.csv",
//!     &CsvOptions::new().header(false).skip_rows(1).label(Column::Last),
//! )
//! .unwrap();
//! assert_eq!(iris.dataset.x.shape(), &[150, 4]);
//! ```

use std::path::Path;

use ndarray::{Array1, Array2};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io;
use crate::preprocessing::LabelEncoder;

/// A column, by position or by header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// 0-based position.
    Index(usize),
    /// Header name (needs a header line).
    Name(String),
    /// The last column.
    Last,
}

impl From<usize> for Column {
    fn from(i: usize) -> Self {
        Column::Index(i)
    }
}

impl From<&str> for Column {
    fn from(s: &str) -> Self {
        Column::Name(s.to_string())
    }
}

impl From<String> for Column {
    fn from(s: String) -> Self {
        Column::Name(s)
    }
}

/// What separates the fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delimiter {
    /// One byte (`b','`, `b';'`, `b'\t'`), with CSV quoting rules.
    Byte(u8),
    /// Any run of spaces or tabs (no quoting), as in scikit-learn's diabetes and linnerud files.
    Whitespace,
}

/// How the label column becomes `y`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelEncoding {
    /// Numbers if every label parses as one, otherwise [`LabelEncoding::Classes`] (default).
    Auto,
    /// Parse labels as numbers (class indices or regression targets).
    Numeric,
    /// Encode labels as class indices, classes sorted (scikit-learn's `LabelEncoder`).
    Classes,
    /// Encode labels by this class list; any other label is an error naming its line.
    ClassList(Vec<String>),
}

/// Options of [`load`]; build with the chained setters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first (non-skipped) line holds column names (default true).
    pub has_header: bool,
    /// Field separator (default `,`).
    pub delimiter: Delimiter,
    /// Lines skipped before the header or the data (default 0).
    pub skip_rows: usize,
    /// The label column, `None` for no label (then `y` has shape `(n, 0)`). Default: the last.
    pub label: Option<Column>,
    /// The feature columns in order; `None`: every column but the label (default).
    pub features: Option<Vec<Column>>,
    /// How labels are encoded (default [`LabelEncoding::Auto`]).
    pub label_encoding: LabelEncoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_header: true,
            delimiter: Delimiter::Byte(b','),
            skip_rows: 0,
            label: Some(Column::Last),
            features: None,
            label_encoding: LabelEncoding::Auto,
        }
    }
}

impl CsvOptions {
    /// Header line, comma-separated, label in the last column, all other columns features.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the first line names the columns.
    pub fn header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// One-byte field separator.
    pub fn delimiter(mut self, d: u8) -> Self {
        self.delimiter = Delimiter::Byte(d);
        self
    }

    /// Fields separated by runs of whitespace.
    pub fn whitespace(mut self) -> Self {
        self.delimiter = Delimiter::Whitespace;
        self
    }

    /// Skip `n` lines first.
    pub fn skip_rows(mut self, n: usize) -> Self {
        self.skip_rows = n;
        self
    }

    /// The label column.
    pub fn label(mut self, col: impl Into<Column>) -> Self {
        self.label = Some(col.into());
        self
    }

    /// No label column: every column (or the chosen ones) are features.
    pub fn no_label(mut self) -> Self {
        self.label = None;
        self
    }

    /// The feature columns, in order.
    pub fn features<C: Into<Column>>(mut self, cols: impl IntoIterator<Item = C>) -> Self {
        self.features = Some(cols.into_iter().map(Into::into).collect());
        self
    }

    /// How labels are encoded.
    pub fn label_encoding(mut self, enc: LabelEncoding) -> Self {
        self.label_encoding = enc;
        self
    }

    /// Encode labels by this class list (class `i` = `names[i]`).
    pub fn class_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.label_encoding = LabelEncoding::ClassList(names.into_iter().map(Into::into).collect());
        self
    }
}

/// A loaded table.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvData {
    /// `x` of shape `(rows, features)`, `y` of shape `(rows,)` (or `(rows, 0)` without label).
    pub dataset: Dataset,
    /// Names of the feature columns (from the header, or their indices as text).
    pub feature_names: Vec<String>,
    /// Name of the label column.
    pub label_name: Option<String>,
    /// The class of each label index, when labels were encoded as classes.
    pub classes: Option<Vec<String>>,
}

/// Loads a CSV file (raw or gzip).
pub fn load(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<CsvData> {
    let path = path.as_ref();
    let bytes = io::read_maybe_gz(path)?;
    parse(&bytes, path, opts)
}

/// Parses CSV bytes; `path` names the source in errors.
pub fn parse(bytes: &[u8], path: impl AsRef<Path>, opts: &CsvOptions) -> Result<CsvData> {
    let path = path.as_ref();
    let err = |m: String| DataError::format(path, m);
    let mut rows = records(bytes, path, opts.delimiter)?
        .into_iter()
        .skip(opts.skip_rows);
    let header: Option<(u64, Vec<String>)> = if opts.has_header {
        Some(rows.next().ok_or_else(|| err("no header line".into()))?)
    } else {
        None
    };
    let rows: Vec<(u64, Vec<String>)> = rows.collect();
    let (ref_line, ncols) = match (&header, rows.first()) {
        (Some((l, h)), _) => (*l, h.len()),
        (None, Some((l, r))) => (*l, r.len()),
        (None, None) => return Err(err("no data rows".into())),
    };
    if rows.is_empty() {
        return Err(err("no data rows after the header".into()));
    }
    let names: Vec<String> = match &header {
        Some((_, h)) => h.iter().map(|s| s.trim().to_string()).collect(),
        None => (0..ncols).map(|i| i.to_string()).collect(),
    };
    let resolve = |c: &Column| -> Result<usize> {
        match c {
            Column::Index(i) if *i < ncols => Ok(*i),
            Column::Index(i) => Err(err(format!(
                "column {i} does not exist: rows have {ncols} columns"
            ))),
            Column::Last => Ok(ncols - 1),
            Column::Name(n) => {
                if header.is_none() {
                    return Err(err(format!(
                        "column {n:?} chosen by name but the file is read without a header"
                    )));
                }
                names
                    .iter()
                    .position(|x| x == n.trim())
                    .ok_or_else(|| err(format!("no column named {n:?}; the header has {names:?}")))
            }
        }
    };
    let label = opts.label.as_ref().map(resolve).transpose()?;
    let features: Vec<usize> = match &opts.features {
        Some(cols) => cols.iter().map(resolve).collect::<Result<_>>()?,
        None => (0..ncols).filter(|&i| Some(i) != label).collect(),
    };
    let n = rows.len();
    let mut x = Vec::with_capacity(n * features.len());
    let mut labels: Vec<&str> = Vec::with_capacity(n);
    for (line, rec) in &rows {
        if rec.len() != ncols {
            return Err(err(format!(
                "line {line}: {} fields, expected {ncols} (as in line {ref_line})",
                rec.len()
            )));
        }
        for &j in &features {
            let v = rec[j].trim();
            let parsed = v.parse::<f32>().map_err(|_| {
                err(format!(
                    "line {line}, column {j} ({}): {} as a number",
                    names[j],
                    if v.is_empty() {
                        "empty field cannot be read".to_string()
                    } else {
                        format!("cannot read {v:?}")
                    }
                ))
            })?;
            x.push(parsed);
        }
        if let Some(l) = label {
            labels.push(rec[l].trim());
        }
    }
    let x = Array2::from_shape_vec((n, features.len()), x).expect("n * features");
    let feature_names = features.iter().map(|&j| names[j].clone()).collect();
    let Some(lcol) = label else {
        let dataset = Dataset::new(x, Array2::<f32>::zeros((n, 0)))?;
        return Ok(CsvData {
            dataset,
            feature_names,
            label_name: None,
            classes: None,
        });
    };
    let line_of = |i: usize| rows[i].0;
    let numeric = |labels: &[&str]| -> Result<Vec<f32>> {
        labels
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse::<f32>().map_err(|_| {
                    err(format!(
                        "line {}, label column {lcol} ({}): cannot read {s:?} as a number",
                        line_of(i),
                        names[lcol]
                    ))
                })
            })
            .collect()
    };
    let encode = |enc: &LabelEncoder<String>| -> Result<Vec<f32>> {
        labels
            .iter()
            .enumerate()
            .map(|(i, s)| {
                enc.index_of(&s.to_string()).map(|k| k as f32).ok_or_else(|| {
                    err(format!(
                        "line {}: unknown class {s:?} in column {lcol} ({}); known classes: {:?}",
                        line_of(i),
                        names[lcol],
                        enc.classes()
                    ))
                })
            })
            .collect()
    };
    let (y, classes) = match &opts.label_encoding {
        LabelEncoding::Numeric => (numeric(&labels)?, None),
        LabelEncoding::Auto if labels.iter().all(|s| s.parse::<f32>().is_ok()) => (numeric(&labels)?, None),
        LabelEncoding::Auto | LabelEncoding::Classes => {
            let owned: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
            let enc = LabelEncoder::fit(&owned);
            (encode(&enc)?, Some(enc.classes().to_vec()))
        }
        LabelEncoding::ClassList(list) => {
            let enc = LabelEncoder::with_classes(list.clone())?;
            (encode(&enc)?, Some(list.clone()))
        }
    };
    let dataset = Dataset::new(x, Array1::from(y))?;
    Ok(CsvData {
        dataset,
        feature_names,
        label_name: Some(names[lcol].clone()),
        classes,
    })
}

/// All non-empty records with their 1-based line numbers.
fn records(bytes: &[u8], path: &Path, delim: Delimiter) -> Result<Vec<(u64, Vec<String>)>> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        DataError::format(path, format!("line {line}: not valid UTF-8 text"))
    })?;
    match delim {
        Delimiter::Whitespace => Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i as u64 + 1, l.split_whitespace().map(str::to_string).collect()))
            .collect()),
        Delimiter::Byte(d) => {
            let mut rdr = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(d)
                .from_reader(text.as_bytes());
            let mut out = Vec::new();
            for rec in rdr.records() {
                let rec = rec.map_err(|e| {
                    let line = e.position().map_or(0, |p| p.line());
                    DataError::format(path, format!("line {line}: {e}"))
                })?;
                let line = rec.position().map_or(0, |p| p.line());
                if rec.len() == 1 && rec[0].trim().is_empty() {
                    continue; // blank line
                }
                out.push((line, rec.iter().map(str::to_string).collect()));
            }
            Ok(out)
        }
    }
}
