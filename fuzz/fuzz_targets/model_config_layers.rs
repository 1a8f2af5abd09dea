//! Model loading with a fuzzed `config.json` beside the valid weights and
//! optimizer state of a model holding every built-in layer class (Embedding,
//! the recurrent layers, the normalizations, Reshape, Conv2D, the poolings,
//! Flatten, Activation, Dropout, Dense), so that mutations of each class's
//! fields are reached: Ok or Err, never a panic, abort or runaway allocation
//! (see model_common.rs for the checks on what loads).
#![no_main]

#[path = "model_common.rs"]
mod model_common;

use libfuzzer_sys::fuzz_target;
use model_common::{Fuzzed, SeedModel};

fuzz_target!(|data: &[u8]| model_common::run_beside(SeedModel::EveryLayer, Fuzzed::Config, data));
