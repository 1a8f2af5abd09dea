//! Index splitters for validation: train/test split and the cross-validation splitters
//! [`KFold`], [`StratifiedKFold`], [`GroupKFold`] and [`LeaveOneOut`].
//!
//! Every splitter returns `Vec<(train, test)>` of sample indices, sorted ascending inside each
//! part, that can be fed to [`crate::Dataset::subset`] or to any other model. Without shuffling
//! the folds are exactly scikit-learn's.

use std::collections::BTreeMap;

use crate::error::{DataError, Result};
use crate::rng::{self, STREAM_FOLDS, STREAM_SPLIT};

/// One split: `(train indices, test indices)`.
pub type Split = (Vec<usize>, Vec<usize>);

/// Refuses a split whose index lists (`elements` indices in all) cannot be allocated: the
/// count overflows, exceeds `isize::MAX` bytes, or the allocator refuses it. A probe
/// reservation of the whole size is made and released, so the answer is an error, not an
/// abort in the middle of the split.
fn check_alloc(what: &str, n: usize, elements: Option<usize>) -> Result<()> {
    let too_big = || {
        DataError::arg(format!(
            "{what}: the index lists for {n} samples are too large to allocate"
        ))
    };
    let elements = elements
        .filter(|&e| e <= isize::MAX as usize / std::mem::size_of::<usize>())
        .ok_or_else(too_big)?;
    let mut probe: Vec<usize> = Vec::new();
    probe.try_reserve_exact(elements).map_err(|_| too_big())?;
    Ok(())
}

fn check_fraction(test_fraction: f64, n: usize) -> Result<usize> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::arg(format!(
            "test_fraction must be in (0, 1), got {test_fraction}"
        )));
    }
    let n_test = (test_fraction * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(DataError::arg(format!(
            "test_fraction {test_fraction} of {n} samples leaves an empty train or test set"
        )));
    }
    Ok(n_test)
}

/// Splits `0..n` at random: `ceil(test_fraction * n)` indices go to test (as in scikit-learn).
pub fn train_test_split(n: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    let n_test = check_fraction(test_fraction, n)?;
    check_alloc("train_test_split", n, n.checked_mul(2))?;
    let perm = rng::permutation(n, &mut rng::rng_for(seed, &[STREAM_SPLIT, 1]));
    let mut test = perm[..n_test].to_vec();
    let mut train = perm[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    Ok((train, test))
}

/// Train/test split keeping class proportions: class `c` with `n_c` samples puts
/// `floor` or `ceil` of `n_test * n_c / n` samples in test, where `n_test = ceil(test_fraction * n)`.
pub fn stratified_train_test_split<T: Ord>(labels: &[T], test_fraction: f64, seed: u64) -> Result<Split> {
    let n = labels.len();
    let n_test = check_fraction(test_fraction, n)?;
    let groups = group_by_class(labels);
    // Largest-remainder apportionment of n_test over the classes.
    let mut alloc: Vec<usize> = groups.iter().map(|g| n_test * g.len() / n).collect();
    let mut left = n_test - alloc.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..groups.len()).collect();
    // Remainder n_test * n_c mod n, largest first; ties by class order.
    order.sort_by_key(|&c| std::cmp::Reverse((n_test * groups[c].len()) % n));
    for &c in &order {
        if left == 0 {
            break;
        }
        if alloc[c] < groups[c].len() {
            alloc[c] += 1;
            left -= 1;
        }
    }
    let mut rng = rng::rng_for(seed, &[STREAM_SPLIT, 2]);
    let mut train = Vec::with_capacity(n - n_test);
    let mut test = Vec::with_capacity(n_test);
    for (g, &k) in groups.iter().zip(&alloc) {
        let mut g = g.clone();
        rng::shuffle(&mut g, &mut rng);
        test.extend_from_slice(&g[..k]);
        train.extend_from_slice(&g[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Sample indices of each distinct label, labels in sorted order.
fn group_by_class<T: Ord>(labels: &[T]) -> Vec<Vec<usize>> {
    let mut map: BTreeMap<&T, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        map.entry(l).or_default().push(i);
    }
    map.into_values().collect()
}

/// Turns a per-sample fold assignment into `(train, test)` pairs.
fn folds_from_assignment(fold_of: &[usize], k: usize) -> Vec<Split> {
    (0..k)
        .map(|f| {
            let mut train = Vec::new();
            let mut test = Vec::new();
            for (i, &g) in fold_of.iter().enumerate() {
                if g == f {
                    test.push(i);
                } else {
                    train.push(i);
                }
            }
            (train, test)
        })
        .collect()
}

fn check_k(k: usize, n: usize, what: &str) -> Result<()> {
    if k < 2 {
        return Err(DataError::arg(format!("{what} needs at least 2 splits, got {k}")));
    }
    if k > n {
        return Err(DataError::arg(format!(
            "{what}: cannot have {k} splits with only {n} samples"
        )));
    }
    Ok(())
}

/// K-fold cross-validation: `0..n` (shuffled first if asked) cut into `k` consecutive folds,
/// the first `n % k` folds one sample larger (scikit-learn's `KFold`).
///
/// ```
/// use neurite_data::KFold;
/// let folds = KFold::new(3).split(7).unwrap();
/// assert_eq!(folds[0].1, vec![0, 1, 2]);
/// assert_eq!(folds[2], (vec![0, 1, 2, 3, 4], vec![5, 6]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KFold {
    /// Number of folds (at least 2).
    pub n_splits: usize,
    /// `Some(seed)`: shuffle the indices before cutting them into folds.
    pub shuffle: Option<u64>,
}

impl KFold {
    /// `k` folds, no shuffling.
    pub fn new(n_splits: usize) -> Self {
        KFold {
            n_splits,
            shuffle: None,
        }
    }

    /// Shuffle with `seed` before cutting into folds.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// The `k` splits of `0..n_samples`.
    pub fn split(&self, n_samples: usize) -> Result<Vec<Split>> {
        let k = self.n_splits;
        check_k(k, n_samples, "KFold")?;
        check_alloc("KFold", n_samples, n_samples.checked_mul(k.saturating_add(2)))?;
        let order: Vec<usize> = match self.shuffle {
            Some(seed) => rng::permutation(n_samples, &mut rng::rng_for(seed, &[STREAM_FOLDS, 1])),
            None => (0..n_samples).collect(),
        };
        let mut fold_of = vec![0; n_samples];
        let mut start = 0;
        for f in 0..k {
            let size = n_samples / k + usize::from(f < n_samples % k);
            for &i in &order[start..start + size] {
                fold_of[i] = f;
            }
            start += size;
        }
        Ok(folds_from_assignment(&fold_of, k))
    }
}

/// Stratified k-fold: like [`KFold`] but each fold holds `floor` or `ceil` of `n_c / k` samples
/// of every class `c`, and fold sizes differ by at most one (scikit-learn's
/// `StratifiedKFold`, whose folds it reproduces exactly when not shuffling).
///
/// ```
/// use neurite_data::StratifiedKFold;
/// let y = [0, 0, 0, 0, 1, 1, 1, 1];
/// let folds = StratifiedKFold::new(2).split(&y).unwrap();
/// assert_eq!(folds[0].1, vec![0, 1, 4, 5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StratifiedKFold {
    /// Number of folds (at least 2).
    pub n_splits: usize,
    /// `Some(seed)`: shuffle which samples of each class go to which fold.
    pub shuffle: Option<u64>,
}

impl StratifiedKFold {
    /// `k` folds, no shuffling.
    pub fn new(n_splits: usize) -> Self {
        StratifiedKFold {
            n_splits,
            shuffle: None,
        }
    }

    /// Shuffle the samples within each class with `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// The `k` splits for the labels `y` (any ordered label type).
    pub fn split<T: Ord>(&self, y: &[T]) -> Result<Vec<Split>> {
        let k = self.n_splits;
        let n = y.len();
        check_k(k, n, "StratifiedKFold")?;
        // Encode classes in order of first appearance, as scikit-learn does.
        let mut sorted: Vec<(&T, usize)> = y.iter().zip(0..).collect();
        sorted.sort();
        let mut first_seen: Vec<(usize, usize)> = Vec::new(); // (first index, sorted class id)
        let mut sorted_class = vec![0usize; n];
        let mut cls = 0;
        for (j, &(v, i)) in sorted.iter().enumerate() {
            if j > 0 && sorted[j - 1].0 != v {
                cls += 1;
            }
            if j == 0 || sorted[j - 1].0 != v {
                first_seen.push((i, cls));
            }
            sorted_class[i] = cls;
        }
        let n_classes = first_seen.len();
        first_seen.sort();
        let mut remap = vec![0usize; n_classes];
        for (new, &(_, old)) in first_seen.iter().enumerate() {
            remap[old] = new;
        }
        let enc: Vec<usize> = sorted_class.iter().map(|&c| remap[c]).collect();
        let mut counts = vec![0usize; n_classes];
        for &c in &enc {
            counts[c] += 1;
        }
        if counts.iter().all(|&c| c < k) {
            return Err(DataError::arg(format!(
                "StratifiedKFold: n_splits={k} is greater than the number of members in every class"
            )));
        }
        let mut y_order = enc.clone();
        y_order.sort_unstable();
        // alloc[c][f]: samples of class c in fold f = how many of positions f, f+k, ... of
        // the sorted label list carry class c.
        let mut alloc = vec![vec![0usize; k]; n_classes];
        for (pos, &c) in y_order.iter().enumerate() {
            alloc[c][pos % k] += 1;
        }
        let mut fold_of = vec![0usize; n];
        let mut rng = self.shuffle.map(|s| rng::rng_for(s, &[STREAM_FOLDS, 2]));
        for (c, per_fold) in alloc.iter().enumerate() {
            let mut folds_for_class: Vec<usize> = per_fold
                .iter()
                .enumerate()
                .flat_map(|(f, &m)| std::iter::repeat_n(f, m))
                .collect();
            if let Some(r) = rng.as_mut() {
                rng::shuffle(&mut folds_for_class, r);
            }
            let members = enc.iter().enumerate().filter(|&(_, &e)| e == c).map(|(i, _)| i);
            for (i, f) in members.zip(folds_for_class) {
                fold_of[i] = f;
            }
        }
        Ok(folds_from_assignment(&fold_of, k))
    }
}

/// Group k-fold: samples of one group are never split between train and test. Without
/// shuffling, groups go largest first to the currently smallest fold (scikit-learn's
/// `GroupKFold`); with shuffling, the distinct groups are permuted and cut into `k` runs of
/// (almost) equal group counts.
///
/// ```
/// use neurite_data::GroupKFold;
/// let groups = ["a", "a", "a", "b", "b", "c"];
/// let folds = GroupKFold::new(2).split(&groups).unwrap();
/// assert_eq!(folds[0].1, vec![0, 1, 2]);
/// assert_eq!(folds[1].1, vec![3, 4, 5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupKFold {
    /// Number of folds (at least 2, at most the number of groups).
    pub n_splits: usize,
    /// `Some(seed)`: assign shuffled groups instead of balancing sizes.
    pub shuffle: Option<u64>,
}

impl GroupKFold {
    /// `k` folds, balanced by size.
    pub fn new(n_splits: usize) -> Self {
        GroupKFold {
            n_splits,
            shuffle: None,
        }
    }

    /// Shuffle the groups with `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// The `k` splits for per-sample group ids (any ordered type).
    pub fn split<G: Ord>(&self, groups: &[G]) -> Result<Vec<Split>> {
        let k = self.n_splits;
        check_k(k, groups.len(), "GroupKFold")?;
        let members = group_by_class(groups); // sorted distinct groups
        let n_groups = members.len();
        if k > n_groups {
            return Err(DataError::arg(format!(
                "GroupKFold: cannot have {k} splits with only {n_groups} groups"
            )));
        }
        let mut group_to_fold = vec![0usize; n_groups];
        match self.shuffle {
            Some(seed) => {
                let perm = rng::permutation(n_groups, &mut rng::rng_for(seed, &[STREAM_FOLDS, 3]));
                let mut start = 0;
                for f in 0..k {
                    let size = n_groups / k + usize::from(f < n_groups % k);
                    for &g in &perm[start..start + size] {
                        group_to_fold[g] = f;
                    }
                    start += size;
                }
            }
            None => {
                // Stable ascending sort by size, then reversed (numpy's argsort(kind="stable")[::-1]).
                let mut order: Vec<usize> = (0..n_groups).collect();
                order.sort_by_key(|&g| members[g].len());
                order.reverse();
                let mut load = vec![0usize; k];
                for g in order {
                    let lightest = (0..k).min_by_key(|&f| (load[f], f)).expect("k >= 2");
                    load[lightest] += members[g].len();
                    group_to_fold[g] = lightest;
                }
            }
        }
        let mut fold_of = vec![0usize; groups.len()];
        for (g, m) in members.iter().enumerate() {
            for &i in m {
                fold_of[i] = group_to_fold[g];
            }
        }
        Ok(folds_from_assignment(&fold_of, k))
    }
}

/// Leave-one-out: `n` splits, split `i` tests on sample `i` alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaveOneOut;

impl LeaveOneOut {
    /// The leave-one-out splitter.
    pub fn new() -> Self {
        LeaveOneOut
    }

    /// The `n_samples` splits (needs at least 2 samples).
    pub fn split(&self, n_samples: usize) -> Result<Vec<Split>> {
        if n_samples < 2 {
            return Err(DataError::arg(format!(
                "LeaveOneOut needs at least 2 samples, got {n_samples}"
            )));
        }
        check_alloc("LeaveOneOut", n_samples, n_samples.checked_mul(n_samples))?;
        Ok((0..n_samples)
            .map(|i| {
                let train = (0..n_samples).filter(|&j| j != i).collect();
                (train, vec![i])
            })
            .collect())
    }
}
