//! CIFAR-100 binary files (`train.bin`, `test.bin`): records of a coarse label byte (0..20), a
//! fine label byte (0..100) and 3072 pixel bytes (R, G, B planes). The number of records comes
//! from the file size; a partial record or an out-of-range label is an error naming the file
//! and the record.
//!
//! Images come out NHWC `(n, 32, 32, 3)`, scaled to `[0, 1]` by default; labels `(n,)`, fine or
//! coarse as chosen.

use std::path::Path;

use crate::cifar::{self, Layout};
use crate::dataset::Dataset;
use crate::error::Result;

/// Bytes per record.
pub const RECORD_BYTES: usize = 2 + cifar::PIXELS;

/// Which label becomes `y`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelKind {
    /// The 100 fine classes (default).
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// Fine class names by label.
pub const FINE_CLASS_NAMES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// Coarse class (superclass) names by label.
pub const COARSE_CLASS_NAMES: [&str; 20] = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
];

const LIMITS: &[(u8, &str)] = &[(20, "coarse"), (100, "fine")];

fn layout(kind: LabelKind) -> Layout {
    Layout {
        name: "CIFAR-100",
        label_limits: LIMITS,
        use_label: match kind {
            LabelKind::Coarse => 0,
            LabelKind::Fine => 1,
        },
    }
}

/// One file, pixels scaled to `[0, 1]`.
pub fn load_batch(path: impl AsRef<Path>, kind: LabelKind) -> Result<Dataset> {
    load_batch_with(path, kind, true)
}

/// One file; `scale: false` keeps pixel values 0..255.
pub fn load_batch_with(path: impl AsRef<Path>, kind: LabelKind, scale: bool) -> Result<Dataset> {
    cifar::load(path.as_ref(), &layout(kind), scale)
}

/// Parses file bytes; `path` names the source in errors.
pub fn parse_batch(bytes: &[u8], path: impl AsRef<Path>, kind: LabelKind, scale: bool) -> Result<Dataset> {
    cifar::parse(bytes, path.as_ref(), &layout(kind), scale)
}

/// Train (`train.bin`) and test (`test.bin`) from `dir` or `dir/cifar-100-binary`.
pub fn load(dir: impl AsRef<Path>, kind: LabelKind) -> Result<(Dataset, Dataset)> {
    let dir = dir.as_ref();
    let sub = "cifar-100-binary";
    let l = layout(kind);
    let train = cifar::load_files(dir, sub, &["train.bin"], &l, true)?;
    let test = cifar::load_files(dir, sub, &["test.bin"], &l, true)?;
    Ok((train, test))
}
