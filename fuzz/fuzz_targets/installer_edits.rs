//! libFuzzer entry point; the checks live in `fuzz/src/checks.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ralph_hook_fuzz::checks::installer_edits(data);
});
