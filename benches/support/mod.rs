//! What both benchmarks build their inputs from, so the in-process and whole-process
//! figures measure the same messages.

/// Prose of about `size` bytes with a fenced block and inline code (as agents write it),
/// ending in `tail`.
pub(crate) fn prose_message(size: usize, tail: &str) -> String {
    let mut text = String::from(
        "I ran the test suite and fixed two failures.\n\n```rust\nfn main() {}\n```\n",
    );
    let words = [
        "the", "parser", "now", "keeps", "`inline`", "state", "across", "calls;", "tests",
        "pass.\n",
    ];
    let mut i = 0;
    while text.len() + tail.len() + 12 < size {
        text.push_str(words[i % words.len()]);
        text.push(' ');
        i += 1;
    }
    text.push_str("\n\n");
    text.push_str(tail);
    text
}

/// A fresh private folder for a benchmark's homes and state folders, removed when dropped:
/// under `/var/tmp` where it exists (else cargo's target folder), never `/tmp` or
/// `$TMPDIR`, which ralph-hook refuses as a state folder (an agent's sandbox can write
/// them).
pub(crate) fn private_tempdir(prefix: &str) -> tempfile::TempDir {
    let var_tmp = std::path::Path::new("/var/tmp");
    let root = if var_tmp.is_dir() {
        var_tmp.to_path_buf()
    } else {
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root)
        .expect("temp dir")
}
