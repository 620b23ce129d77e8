//! The completion-signal matcher as it was before it was made linear (commit 19cf355):
//! simple, obviously faithful to its spec, and quadratic on hostile input. The fuzz
//! target and the property tests check that the fast matcher in `src/engine/signal.rs` gives
//! exactly the same answers. Keep inputs small: this version is slow on long ones.
//! Carried over since: the HTML-unescaping added on main (705dc14) and one fix (see
//! `split_tag`): the original panicked there.
#![allow(dead_code)]

use ralph_hook::testing::engine::signal::Tag;

pub fn classify(message: &str, completion_signal: &str, continue_signal: &str) -> Tag {
    let prose = unescape_angle_brackets(prose(message));
    if contains_signal(&prose, completion_signal) {
        Tag::Promise
    } else if !continue_signal.is_empty() && contains_signal(&prose, continue_signal) {
        Tag::Continue
    } else {
        Tag::None
    }
}

/// True when `signal` appears in `message` as a real tag outside code.
pub fn carries(message: &str, signal: &str) -> bool {
    contains_signal(&unescape_angle_brackets(prose(message)), signal)
}

/// As on main since 705dc14: a signal copied back HTML-escaped is the same tag.
fn unescape_angle_brackets(prose: String) -> String {
    if prose.contains("&lt;") || prose.contains("&gt;") {
        prose.replace("&lt;", "<").replace("&gt;", ">")
    } else {
        prose
    }
}

/// Trims and collapses every run of whitespace to one space.
pub fn normalize_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn contains_signal(prose: &str, signal: &str) -> bool {
    match split_tag(signal) {
        Some((open, inner, close)) => {
            let wanted = normalize_whitespace(inner);
            let mut rest = prose;
            while let Some(start) = rest.find(open) {
                let after_open = &rest[start + open.len()..];
                let Some(end) = after_open.find(close) else {
                    return false;
                };
                if normalize_whitespace(&after_open[..end]) == wanted {
                    return true;
                }
                rest = after_open;
            }
            false
        }
        None => {
            let wanted = normalize_whitespace(signal);
            !wanted.is_empty() && normalize_whitespace(prose).contains(&wanted)
        }
    }
}

/// `<name>inner</name>` → (`<name>`, `inner`, `</name>`); other shapes → None.
fn split_tag(signal: &str) -> Option<(&str, &str, &str)> {
    let signal = signal.trim();
    if !signal.starts_with('<') {
        return None;
    }
    let open_end = signal.find('>')? + 1;
    let open = &signal[..open_end];
    let name = open[1..open.len() - 1].trim();
    if name.is_empty() || name.starts_with('/') || name.contains(char::is_whitespace) {
        return None;
    }
    let rest = &signal[open_end..];
    let close_start = rest.rfind("</")?;
    let close = &rest[close_start..];
    // The one change from 19cf355: `>` is checked before slicing (that order panicked).
    if !close.ends_with('>') || close[2..close.len() - 1].trim() != name {
        return None;
    }
    Some((open, &rest[..close_start], close))
}

/// The message with fenced code blocks and inline code spans blanked out.
pub fn prose(message: &str) -> String {
    let mut kept = String::with_capacity(message.len());
    let mut fence: Option<(char, usize)> = None;
    for line in message.split_inclusive('\n') {
        let marker = fence_marker(line);
        match (fence, marker) {
            (None, Some(open)) => fence = Some(open),
            (None, None) => kept.push_str(line),
            (Some((ch, len)), Some((mark_ch, mark_len)))
                if mark_ch == ch
                    && mark_len >= len
                    && line.trim_start().trim_start_matches(ch).trim().is_empty() =>
            {
                fence = None;
                kept.push('\n');
            }
            (Some(_), _) => {}
        }
    }
    strip_inline_code(&kept)
}

/// A line that opens or closes a fence: up to three spaces, then three or more ` or ~.
fn fence_marker(line: &str) -> Option<(char, usize)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.chars().take_while(|c| *c == ch).count();
    (len >= 3).then_some((ch, len))
}

fn strip_inline_code(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
        match find_closing_run(&bytes[i + run..], run) {
            Some(offset) => {
                out.push_str(&text[copied..i]);
                out.push(' ');
                i += run + offset + run;
                copied = i;
            }
            None => i += run,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Offset of the next run of exactly `run` backticks in `bytes`.
fn find_closing_run(bytes: &[u8], run: usize) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let len = bytes[i..].iter().take_while(|b| **b == b'`').count();
            if len == run {
                return Some(i);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}
