//! Cross-validation splitters: scikit-learn's folds reproduced exactly (unshuffled), and the
//! invariants as properties.

use neurite_data::{
    stratified_train_test_split, train_test_split, GroupKFold, KFold, LeaveOneOut, StratifiedKFold,
};
use proptest::prelude::*;

fn tests(folds: &[(Vec<usize>, Vec<usize>)]) -> Vec<Vec<usize>> {
    folds.iter().map(|(_, t)| t.clone()).collect()
}

/// Checks that each split is a partition of 0..n and the test sets partition 0..n.
fn check_partition(folds: &[(Vec<usize>, Vec<usize>)], n: usize) {
    let mut count = vec![0usize; n];
    for (train, test) in folds {
        let mut seen = vec![false; n];
        for &i in train.iter().chain(test) {
            assert!(!seen[i], "index {i} twice in one split");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s), "split does not cover 0..{n}");
        assert!(train.windows(2).all(|w| w[0] < w[1]), "train sorted");
        assert!(test.windows(2).all(|w| w[0] < w[1]), "test sorted");
        for &i in test {
            count[i] += 1;
        }
    }
    assert!(count.iter().all(|&c| c == 1), "every index is test exactly once");
}

#[test]
fn kfold_matches_sklearn() {
    // sklearn.model_selection.KFold(4).split(np.zeros(10))
    let f = KFold::new(4).split(10).unwrap();
    assert_eq!(
        tests(&f),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7], vec![8, 9]]
    );
    assert_eq!(f[1].0, vec![0, 1, 2, 6, 7, 8, 9]);
}

#[test]
fn stratified_kfold_matches_sklearn() {
    let y = [2, 0, 1, 1, 0, 2, 2, 0, 1, 1, 0, 0, 2, 1, 1, 0, 2];
    let f = StratifiedKFold::new(4).split(&y).unwrap();
    assert_eq!(
        tests(&f),
        vec![
            vec![0, 1, 2, 3, 5],
            vec![4, 6, 7, 8],
            vec![9, 10, 11, 12],
            vec![13, 14, 15, 16]
        ]
    );
    // Labels of any ordered type.
    let names: Vec<String> = y.iter().map(|c| format!("class{c}")).collect();
    assert_eq!(StratifiedKFold::new(4).split(&names).unwrap(), f);
}

#[test]
fn group_kfold_matches_sklearn() {
    let g = [5, 5, 5, 5, 1, 1, 3, 3, 3, 7, 9, 9, 9, 9, 9, 2];
    let f = GroupKFold::new(3).split(&g).unwrap();
    assert_eq!(
        tests(&f),
        vec![
            vec![10, 11, 12, 13, 14, 15],
            vec![0, 1, 2, 3, 9],
            vec![4, 5, 6, 7, 8]
        ]
    );
}

#[test]
fn leave_one_out() {
    let f = LeaveOneOut.split(4).unwrap();
    assert_eq!(f.len(), 4);
    assert_eq!(f[2], (vec![0, 1, 3], vec![2]));
    check_partition(&f, 4);
    assert!(LeaveOneOut.split(1).is_err());
}

#[test]
fn bad_arguments_are_errors() {
    assert!(KFold::new(1).split(10).is_err());
    assert!(KFold::new(11).split(10).is_err());
    assert!(StratifiedKFold::new(5).split(&[0, 0, 1, 1]).is_err());
    assert!(StratifiedKFold::new(3).split(&[0, 1, 1, 2, 2]).is_err()); // 3 > every class count
    assert!(GroupKFold::new(3).split(&[1, 1, 2, 2]).is_err());
    assert!(train_test_split(10, 0.0, 0).is_err());
    assert!(train_test_split(10, 1.0, 0).is_err());
    assert!(train_test_split(1, 0.5, 0).is_err());
}

#[test]
fn train_test_split_sizes() {
    let (tr, te) = train_test_split(10, 0.25, 3).unwrap();
    assert_eq!((tr.len(), te.len()), (7, 3)); // ceil(2.5) = 3, as scikit-learn
    let (tr2, te2) = train_test_split(10, 0.25, 3).unwrap();
    assert_eq!((tr, te), (tr2, te2));
}

#[test]
fn shuffled_folds_depend_on_seed_only() {
    let a = KFold::new(5).shuffle(1).split(50).unwrap();
    let b = KFold::new(5).shuffle(1).split(50).unwrap();
    let c = KFold::new(5).shuffle(2).split(50).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    check_partition(&a, 50);
}

proptest! {
    #[test]
    fn kfold_properties(n in 2usize..200, k in 2usize..12, seed in any::<u64>(), shuffle in any::<bool>()) {
        prop_assume!(k <= n);
        let kf = if shuffle { KFold::new(k).shuffle(seed) } else { KFold::new(k) };
        let f = kf.split(n).unwrap();
        prop_assert_eq!(f.len(), k);
        check_partition(&f, n);
        let sizes: Vec<usize> = f.iter().map(|(_, t)| t.len()).collect();
        let (mn, mx) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
        prop_assert!(mx - mn <= 1, "fold sizes {:?}", sizes);
        // First n % k folds are the larger ones.
        for (i, &s) in sizes.iter().enumerate() {
            prop_assert_eq!(s, n / k + usize::from(i < n % k));
        }
    }

    #[test]
    fn stratified_kfold_properties(
        y in prop::collection::vec(0usize..5, 2..150),
        k in 2usize..8,
        seed in any::<u64>(),
        shuffle in any::<bool>(),
    ) {
        let n = y.len();
        let mut counts = [0usize; 5];
        for &c in &y { counts[c] += 1; }
        prop_assume!(k <= n && counts.iter().any(|&c| c >= k));
        let skf = if shuffle { StratifiedKFold::new(k).shuffle(seed) } else { StratifiedKFold::new(k) };
        let f = skf.split(&y).unwrap();
        prop_assert_eq!(f.len(), k);
        check_partition(&f, n);
        let sizes: Vec<usize> = f.iter().map(|(_, t)| t.len()).collect();
        prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1, "fold sizes {:?}", sizes);
        // Each class's count in each test fold is within one sample of its share n_c / k.
        for (c, &nc) in counts.iter().enumerate() {
            for (_, test) in &f {
                let in_fold = test.iter().filter(|&&i| y[i] == c).count();
                prop_assert!(in_fold == nc / k || in_fold == nc.div_ceil(k),
                    "class {} has {} of {} samples in a fold of k={}", c, in_fold, nc, k);
            }
        }
    }

    #[test]
    fn group_kfold_properties(
        groups in prop::collection::vec(0u8..20, 2..120),
        k in 2usize..6,
        seed in any::<u64>(),
        shuffle in any::<bool>(),
    ) {
        let mut distinct = groups.clone();
        distinct.sort();
        distinct.dedup();
        prop_assume!(k <= distinct.len());
        let gkf = if shuffle { GroupKFold::new(k).shuffle(seed) } else { GroupKFold::new(k) };
        let f = gkf.split(&groups).unwrap();
        check_partition(&f, groups.len());
        for (train, test) in &f {
            for &i in test {
                prop_assert!(train.iter().all(|&j| groups[j] != groups[i]), "group split across train/test");
            }
        }
    }

    #[test]
    fn stratified_split_keeps_shares(
        y in prop::collection::vec(0usize..4, 4..200),
        frac in 0.1f64..0.9,
        seed in any::<u64>(),
    ) {
        let n = y.len();
        let n_test = (frac * n as f64).ceil() as usize;
        prop_assume!(n_test > 0 && n_test < n);
        let (train, test) = stratified_train_test_split(&y, frac, seed).unwrap();
        prop_assert_eq!(test.len(), n_test);
        prop_assert_eq!(train.len() + test.len(), n);
        for c in 0..4 {
            let nc = y.iter().filter(|&&v| v == c).count();
            let tc = test.iter().filter(|&&i| y[i] == c).count();
            let share = n_test as f64 * nc as f64 / n as f64;
            prop_assert!((tc as f64 - share).abs() < 1.0 + 1e-9, "class {} got {} test samples for a share of {}", c, tc, share);
        }
    }
}
