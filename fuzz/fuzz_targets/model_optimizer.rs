//! Model loading with a fuzzed `optimizer.safetensors` beside valid other files: Ok or Err, never a
//! panic, abort or runaway allocation (see model_common.rs for the checks on what loads).
#![no_main]

#[path = "model_common.rs"]
mod model_common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| model_common::run(model_common::Fuzzed::Optimizer, data));
