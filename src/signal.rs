//! Recognising the completion and continuation signals in an assistant message.
//!
//! A signal counts only as a real tag in prose: a promise quoted in a fenced code block
//! or in inline code is an example, not a promise. Whitespace inside the tag is trimmed
//! and collapsed, and the configured signal is normalised the same way, so
//! `<promise> ALL  DONE </promise>` matches the promise `ALL DONE`.

/// Which signal an assistant message carried, for the history and the reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// The completion signal.
    Promise,
    /// The continuation signal (and not the completion signal).
    Continue,
    /// Neither.
    None,
}

impl Tag {
    /// The name written to the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Promise => "promise",
            Tag::Continue => "continue",
            Tag::None => "none",
        }
    }
}

/// Classifies `message` against the loop's two signals.
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

/// Codex shows continuation prompts to the model with `<` and `>` escaped (measured on
/// 0.169.0), so a model may copy the signal back as `&lt;promise&gt;DONE&lt;/promise&gt;`;
/// that is the same tag.
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
    if close[2..close.len().checked_sub(1)?].trim() != name || !close.ends_with('>') {
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

#[cfg(test)]
mod tests {
    use super::*;

    const DONE: &str = "<promise>DONE</promise>";
    const CONT: &str = "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";

    #[test]
    fn the_exact_tag_in_prose_counts() {
        assert_eq!(
            classify("All tests pass.\n\n<promise>DONE</promise>", DONE, CONT),
            Tag::Promise
        );
    }

    #[test]
    fn whitespace_inside_the_tag_is_trimmed_and_collapsed() {
        assert!(carries("<promise>  DONE \n</promise>", DONE));
        assert!(carries(
            "<promise>ALL \t DONE</promise>",
            "<promise>ALL DONE</promise>"
        ));
        assert!(carries(
            "<promise>ALL DONE</promise>",
            "<promise> ALL   DONE </promise>"
        ));
    }

    #[test]
    fn a_bare_promise_word_does_not_count() {
        assert_eq!(classify("DONE", DONE, CONT), Tag::None);
        assert_eq!(classify("promise DONE", DONE, CONT), Tag::None);
    }

    #[test]
    fn a_promise_in_a_fenced_code_block_does_not_count() {
        let message =
            "I will write this when done:\n```\n<promise>DONE</promise>\n```\nstill working";
        assert_eq!(classify(message, DONE, CONT), Tag::None);
        let tilde = "~~~text\n<promise>DONE</promise>\n~~~\n";
        assert!(!carries(tilde, DONE));
    }

    #[test]
    fn an_unclosed_fence_hides_the_rest_of_the_message() {
        assert!(!carries("```\n<promise>DONE</promise>", DONE));
    }

    #[test]
    fn a_promise_in_inline_code_does_not_count() {
        assert!(!carries("the signal is `<promise>DONE</promise>`", DONE));
        assert!(!carries("the signal is ``<promise>DONE</promise>``", DONE));
    }

    #[test]
    fn a_promise_after_a_closed_fence_counts() {
        let message = "```rust\nfn main() {}\n```\n<promise>DONE</promise>";
        assert!(carries(message, DONE));
    }

    #[test]
    fn an_unmatched_backtick_does_not_hide_the_tag() {
        assert!(carries("a stray ` here <promise>DONE</promise>", DONE));
    }

    #[test]
    fn another_promise_does_not_count() {
        assert!(!carries("<promise>NOT DONE</promise>", DONE));
        assert!(carries(
            "<promise>NOT DONE</promise> <promise>DONE</promise>",
            DONE
        ));
    }

    #[test]
    fn the_continuation_tag_is_recognised() {
        assert_eq!(
            classify(&format!("more to do {CONT}"), DONE, CONT),
            Tag::Continue
        );
    }

    #[test]
    fn a_message_with_both_tags_is_a_promise() {
        assert_eq!(
            classify(&format!("{CONT} {DONE}"), DONE, CONT),
            Tag::Promise
        );
    }

    #[test]
    fn a_signal_that_is_not_a_tag_matches_as_normalised_text() {
        assert!(carries("we are\nALL   DONE now", "ALL DONE"));
        assert!(!carries("`ALL DONE`", "ALL DONE"));
    }

    #[test]
    fn a_signal_copied_back_html_escaped_still_counts() {
        assert!(carries("done &lt;promise&gt;DONE&lt;/promise&gt;", DONE));
        assert!(!carries("`&lt;promise&gt;DONE&lt;/promise&gt;`", DONE));
    }

    #[test]
    fn non_ascii_text_around_the_tag_is_fine() {
        assert!(carries("Готово ✅ <promise>DONE</promise> 完成", DONE));
        assert!(!carries("`é` ``x`` ` <promise>DON</promise>", DONE));
    }
}
