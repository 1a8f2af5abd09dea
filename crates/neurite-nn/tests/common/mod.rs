//! Helpers shared by the integration tests (each test file that uses them
//! declares `mod common;`).

pub mod keras_fixture;
