//! Dataset helpers, label encoding and scalers (checked against scikit-learn's numbers).
#![allow(clippy::excessive_precision)] // reference values printed by scikit-learn

use ndarray::{array, Array1, Array2, Array4, ArrayD, Axis, IxDyn};
use neurite_data::{one_hot, DataError, Dataset, LabelEncoder, MinMaxScaler, StandardScaler};

fn toy(n: usize) -> Dataset {
    let x = Array4::from_shape_fn((n, 2, 2, 1), |(i, y, x, _)| (i * 10 + y * 2 + x) as f32);
    let y = Array1::from_iter((0..n).map(|i| (i % 3) as f32));
    Dataset::new(x, y).unwrap()
}

#[test]
fn new_checks_lengths() {
    let e = Dataset::new(Array2::<f32>::zeros((3, 2)), Array1::<f32>::zeros(4)).unwrap_err();
    assert!(matches!(e, DataError::Shape(_)), "{e}");
    assert!(e.to_string().contains("3 samples"), "{e}");
}

#[test]
fn subset_concat_flatten() {
    let d = toy(5);
    let s = d.subset(&[4, 0, 4]).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s.x.index_axis(Axis(0), 0), d.x.index_axis(Axis(0), 4));
    assert_eq!(s.y.as_slice().unwrap(), &[1.0, 0.0, 1.0]);
    assert!(d.subset(&[5]).is_err());
    let c = d.concat(&s).unwrap();
    assert_eq!(c.x.shape(), &[8, 2, 2, 1]);
    assert_eq!(c.x.index_axis(Axis(0), 5), d.x.index_axis(Axis(0), 4));
    let f = d.flatten().unwrap();
    assert_eq!(f.x.shape(), &[5, 4]);
    assert_eq!(f.x.row_iter_first(), vec![0.0, 1.0, 2.0, 3.0]);
    assert_eq!(f.reshape_samples(&[2, 2, 1]).unwrap(), d);
    assert!(f.reshape_samples(&[3]).is_err());
    let other = Dataset::new(Array2::<f32>::zeros((2, 3)), Array1::<f32>::zeros(2)).unwrap();
    assert!(d.concat(&other).is_err());
}

trait FirstRow {
    fn row_iter_first(&self) -> Vec<f32>;
}
impl FirstRow for ArrayD<f32> {
    fn row_iter_first(&self) -> Vec<f32> {
        self.index_axis(Axis(0), 0).iter().copied().collect()
    }
}

#[test]
fn splits_partition_the_samples() {
    let d = toy(30);
    let (tr, te) = d.train_test_split(0.2, 1).unwrap();
    assert_eq!((tr.len(), te.len()), (24, 6));
    let (tr, te) = d.stratified_train_test_split(0.3, 1).unwrap();
    assert_eq!((tr.len(), te.len()), (21, 9));
    assert_eq!(te.class_counts().unwrap(), vec![3, 3, 3]);
    let mut all: Vec<f32> =
        tr.x.axis_iter(Axis(0))
            .chain(te.x.axis_iter(Axis(0)))
            .map(|s| s[[0, 0, 0]])
            .collect();
    all.sort_by(f32::total_cmp);
    let want: Vec<f32> = (0..30).map(|i| (i * 10) as f32).collect();
    assert_eq!(all, want);
}

#[test]
fn shuffled_is_a_permutation() {
    let d = toy(20);
    let s = d.shuffled(9).unwrap();
    assert_ne!(s, d);
    assert_eq!(s, d.shuffled(9).unwrap());
    let mut firsts: Vec<f32> = s.x.axis_iter(Axis(0)).map(|v| v[[0, 0, 0]]).collect();
    firsts.sort_by(f32::total_cmp);
    assert_eq!(firsts, (0..20).map(|i| (i * 10) as f32).collect::<Vec<_>>());
}

#[test]
fn classes_and_one_hot() {
    let d = toy(4);
    assert_eq!(d.class_indices().unwrap(), vec![0, 1, 2, 0]);
    assert_eq!(d.num_classes().unwrap(), 3);
    let o = d.one_hot(None).unwrap();
    assert_eq!(o.y.shape(), &[4, 3]);
    assert_eq!(o.class_indices().unwrap(), vec![0, 1, 2, 0]);
    assert_eq!(
        one_hot(&[1, 0], 3).unwrap(),
        array![[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    );
    assert!(one_hot(&[3], 3).is_err());
    let bad = Dataset::new(Array2::<f32>::zeros((2, 1)), array![0.5f32, 1.0]).unwrap();
    let e = bad.class_indices().unwrap_err().to_string();
    assert!(e.contains("sample 0"), "{e}");
}

#[test]
fn label_encoder() {
    let labels = ["b", "a", "c", "a"];
    let (enc, idx) = LabelEncoder::fit_transform(&labels);
    assert_eq!(idx, vec![1, 0, 2, 0]);
    assert_eq!(enc.inverse_transform(&idx).unwrap(), labels.to_vec());
    let e = enc.transform(&["z"]).unwrap_err().to_string();
    assert!(e.contains("\"z\""), "{e}");
    assert!(enc.inverse_transform(&[3]).is_err());
    let fixed = LabelEncoder::with_classes(vec!["dog", "cat"]).unwrap();
    assert_eq!(fixed.transform(&["cat", "dog"]).unwrap(), vec![1, 0]);
    assert!(LabelEncoder::with_classes(vec!["a", "a"]).is_err());
}

fn sk_x() -> Array2<f32> {
    array![
        [1.0, 2.0, 5.0],
        [3.0, -1.0, 5.0],
        [4.0, 7.0, 5.0],
        [0.5, 0.0, 5.0]
    ]
}

#[test]
fn standard_scaler_matches_sklearn() {
    let x = sk_x();
    let mut s = StandardScaler::new();
    assert!(matches!(s.transform(&x), Err(DataError::NotFitted(_))));
    let z = s.fit_transform(&x).unwrap();
    // sklearn.preprocessing.StandardScaler().fit(X): mean_, scale_, transform(X)
    let mean = array![2.125f32, 2.0, 5.0];
    let scale = array![1.4306903927824497f32, 3.082207001484488, 1.0];
    close(s.mean().unwrap(), &mean, 1e-6);
    close(s.scale().unwrap(), &scale, 1e-6);
    let want = array![
        [-0.7863336205482483f32, 0.0, 0.0],
        [0.6115928292274475, -0.9733285307884216, 0.0],
        [1.3105560541152954, 1.6222141981124878, 0.0],
        [-1.1358152627944946, -0.6488856673240662, 0.0]
    ];
    close(&z, &want, 1e-6);
    close(&s.inverse_transform(&z).unwrap(), &x, 1e-5);
    assert!(s.transform(&array![[1.0f32, 2.0]]).is_err()); // 2 features, fitted on 3
}

#[test]
fn min_max_scaler_matches_sklearn() {
    let x = sk_x();
    let mut s = MinMaxScaler::with_range(-1.0, 2.0);
    let z = s.fit_transform(&x).unwrap();
    // sklearn.preprocessing.MinMaxScaler((-1, 2)).fit(X).transform(X)
    let want = array![
        [-0.5714285969734192f32, 0.125, -1.0],
        [1.1428570747375488, -1.0, -1.0],
        [2.0, 2.0, -1.0],
        [-1.0, -0.625, -1.0]
    ];
    close(&z, &want, 1e-6);
    close(&s.inverse_transform(&z).unwrap(), &x, 1e-5);
    let mut clip = MinMaxScaler::new();
    clip.clip = true;
    clip.fit(&x).unwrap();
    let t = clip.transform(&array![[100.0f32, -100.0, 5.0]]).unwrap();
    assert_eq!(t, array![[1.0, 0.0, 0.0]]);
    assert!(MinMaxScaler::with_range(1.0, 1.0).fit(&x).is_err());
}

#[test]
fn scalers_work_per_channel_on_images() {
    let x = ArrayD::from_shape_fn(IxDyn(&[4, 3, 3, 2]), |i| {
        if i[3] == 0 {
            i[0] as f32
        } else {
            10.0 + 2.0 * i[1] as f32
        }
    });
    let mut s = StandardScaler::new();
    let z = s.fit_transform(&x).unwrap();
    assert_eq!(z.shape(), x.shape());
    assert_eq!(s.mean().unwrap().len(), 2);
    for ch in 0..2 {
        let v = z.index_axis(Axis(3), ch);
        let mean = v.mean().unwrap();
        let var = v.mapv(|a| (a - mean) * (a - mean)).mean().unwrap();
        assert!(mean.abs() < 1e-5);
        assert!((var - 1.0).abs() < 1e-4);
    }
}

fn close<D: ndarray::Dimension>(a: &ndarray::Array<f32, D>, b: &ndarray::Array<f32, D>, eps: f32) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= eps, "{a} != {b}");
    }
}
