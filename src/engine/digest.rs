//! A small, stable content digest (64-bit FNV-1a) for comparing messages and workspace
//! snapshots between stops. Stable across builds, unlike std's hasher; not for security.

/// Hex digest of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a(bytes))
}

/// Hex digest of `text` with its whitespace trimmed and collapsed to single spaces: the
/// same value as `hex(signal::normalize_whitespace(text).as_bytes())`, computed word by
/// word without building the normalised copy (a 1 MB message would need two more
/// megabytes and a vector of every word).
pub fn normalized_text_hex(text: &str) -> String {
    let mut hash = OFFSET;
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            hash = step(hash, b' ');
        }
        hash = word.bytes().fold(hash, step);
    }
    format!("{hash:016x}")
}

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

fn step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(PRIME)
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_more(OFFSET, bytes)
}

/// Continues an FNV-1a digest with more bytes: `fnv1a_more(fnv1a(a), b)` is the digest
/// of `a` followed by `b`, without joining them.
pub fn fnv1a_more(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().copied().fold(hash, step)
}

#[cfg(test)]
mod tests {
    use crate::engine::signal;

    #[test]
    fn matches_the_published_fnv1a_test_vectors() {
        assert_eq!(super::fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(super::fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn the_normalised_digest_equals_the_digest_of_the_normalised_text() {
        for text in ["", "  ", "a", " a  b\n\tc ", "Готово ✅\u{2003}done"] {
            let normalized = signal::normalize_whitespace(text);
            assert_eq!(
                super::normalized_text_hex(text),
                super::hex(normalized.as_bytes())
            );
        }
    }
}
