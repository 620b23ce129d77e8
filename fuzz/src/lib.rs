//! Fuzz target bodies for ralph-hook; see `checks`. The targets in `fuzz_targets/`
//! only hand libFuzzer's bytes to these functions.

pub mod checks;
pub mod reference;
