//! Recognising the completion and continuation signals in an assistant message.
//!
//! A signal counts only as a real tag in prose: a promise quoted in a fenced code block
//! or in inline code is an example, not a promise. Whitespace inside the tag is trimmed
//! and collapsed, and the configured signal is normalised the same way, so
//! `<promise> ALL  DONE </promise>` matches the promise `ALL DONE`.
//!
//! The blocked signal, `<ralph-blocked>reason</ralph-blocked>`, is matched the same way
//! (outside code, HTML-escaped or not) and carries the agent's reason, kept whole except
//! that its whitespace is collapsed: inline code inside the reason stays, so
//! `` need `DATABASE_URL` `` reaches the user as written.

use std::collections::HashMap;

/// Opens the signal with which the agent says it cannot go on without the user.
pub const BLOCKED_OPEN: &str = "<ralph-blocked>";
/// Closes the blocked signal.
pub const BLOCKED_CLOSE: &str = "</ralph-blocked>";
/// The blocked signal as the rules show it to the agent. Its reason is a placeholder, so
/// an agent that repeats the rules in prose has not blocked.
pub const BLOCKED_EXAMPLE: &str = "<ralph-blocked>what you need from the user</ralph-blocked>";
/// Reasons that only repeat a placeholder (compared without case).
const PLACEHOLDER_REASONS: [&str; 3] = ["reason", "what you need from the user", "why"];
/// The longest reason kept, in characters; a longer one is cut and ends in `…`.
pub const MAX_BLOCKED_REASON_CHARS: usize = 2000;

/// Which signal an assistant message carried, for the history and the reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tag {
    /// The completion signal.
    Promise,
    /// The continuation signal (and not the completion signal).
    Continue,
    /// The blocked signal (and not the completion signal). `classify` never gives it;
    /// [`classify_signal`] does.
    Blocked,
    /// Neither.
    None,
}

impl Tag {
    /// The name written to the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Promise => "promise",
            Tag::Continue => "continue",
            Tag::Blocked => "blocked",
            Tag::None => "none",
        }
    }
}

/// What an assistant message signals, the blocked signal included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The completion signal: it wins over everything else in the message.
    Promise,
    /// The blocked signal, with the agent's reason (whitespace collapsed, at most
    /// [`MAX_BLOCKED_REASON_CHARS`] characters). It wins over the continuation signal,
    /// which agents add to every non-final message by habit.
    Blocked(String),
    /// The continuation signal alone.
    Continue,
    /// No signal.
    None,
}

impl Signal {
    /// The tag written to the history.
    pub fn tag(&self) -> Tag {
        match self {
            Signal::Promise => Tag::Promise,
            Signal::Blocked(_) => Tag::Blocked,
            Signal::Continue => Tag::Continue,
            Signal::None => Tag::None,
        }
    }
}

/// Classifies `message` against the loop's two signals and the blocked signal. The
/// promise is judged exactly as `classify` judges it.
pub fn classify_signal(message: &str, completion_signal: &str, continue_signal: &str) -> Signal {
    let prose = unescape_angle_brackets(prose(message));
    if contains_signal(&prose, completion_signal) {
        Signal::Promise
    } else if let Some(reason) = blocked_in(message, &prose) {
        Signal::Blocked(reason)
    } else if !continue_signal.is_empty() && contains_signal(&prose, continue_signal) {
        Signal::Continue
    } else {
        Signal::None
    }
}

/// The reason of the first real blocked signal in `message`: outside code, not empty and
/// not a placeholder.
#[cfg(any(test, feature = "testing"))]
pub fn blocked_reason(message: &str) -> Option<String> {
    blocked_in(message, &unescape_angle_brackets(prose(message)))
}

/// The blocked reason, given the message's prose with code blanked out (which tells
/// cheaply whether a tag is there at all).
fn blocked_in(message: &str, blanked: &str) -> Option<String> {
    memchr::memmem::find(blanked.as_bytes(), BLOCKED_OPEN.as_bytes())?;
    // Read the reason from the prose that keeps inline code (defused), so code the agent
    // quotes in its reason stays; the tags found are the same, since code can hold none.
    let kept = unescape_angle_brackets(prose_keeping_inline_code(message));
    first_reason(&kept)
}

/// The first usable reason: for each closing tag, the text after the last opening tag
/// before it. Every byte is searched at most twice, so a hostile message of tags costs
/// linear time.
fn first_reason(prose: &str) -> Option<String> {
    let bytes = prose.as_bytes();
    let mut from = 0;
    while let Some(found) = memchr::memmem::find(&bytes[from..], BLOCKED_CLOSE.as_bytes()) {
        let close = from + found;
        if let Some(open) = memchr::memmem::rfind(&bytes[from..close], BLOCKED_OPEN.as_bytes()) {
            // Tags are ASCII and begin with `<`, so these offsets are char boundaries.
            let reason = normalize_whitespace(&prose[from + open + BLOCKED_OPEN.len()..close]);
            if !is_placeholder(&reason) {
                return Some(cut(reason));
            }
        }
        from = close + BLOCKED_CLOSE.len();
    }
    None
}

fn is_placeholder(reason: &str) -> bool {
    !reason.chars().any(char::is_alphanumeric)
        || PLACEHOLDER_REASONS
            .iter()
            .any(|placeholder| reason.eq_ignore_ascii_case(placeholder))
}

/// At most [`MAX_BLOCKED_REASON_CHARS`] characters.
fn cut(reason: String) -> String {
    match reason.char_indices().nth(MAX_BLOCKED_REASON_CHARS) {
        Some((end, _)) => {
            let mut short = reason[..end].trim_end().to_string();
            short.push('…');
            short
        }
        None => reason,
    }
}

/// Classifies `message` against the loop's two signals.
#[cfg(any(test, feature = "testing"))]
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
#[cfg(any(test, feature = "testing"))]
pub fn carries(message: &str, signal: &str) -> bool {
    contains_signal(&unescape_angle_brackets(prose(message)), signal)
}

/// True when `signal` appears anywhere in `text` as a tag, code blocks included: for
/// checking that a task does not contain its own completion signal (an agent quoting
/// its task, code and all, would end the loop).
pub fn mentions(text: &str, signal: &str) -> bool {
    contains_signal(&unescape_angle_brackets(text.to_string()), signal)
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
            let wanted: Vec<&str> = inner.split_whitespace().collect();
            // Each opening tag is judged with the text up to the first closing tag after
            // it. Many opening tags share one closing tag, so the closing tag found last
            // is reused while it still lies ahead, and the comparison stops at the first
            // difference: a message full of opening tags costs linear time, not quadratic.
            let mut from = 0;
            let mut close_at: Option<usize> = None;
            // `open` and `close` begin with `<` and end with `>`, so every offset found
            // here is a char boundary.
            while let Some(found) = memchr::memmem::find(&prose.as_bytes()[from..], open.as_bytes())
            {
                let inner_start = from + found + open.len();
                let end = match close_at {
                    Some(end) if end >= inner_start => end,
                    _ => match memchr::memmem::find(
                        &prose.as_bytes()[inner_start..],
                        close.as_bytes(),
                    ) {
                        Some(offset) => inner_start + offset,
                        None => return false,
                    },
                };
                close_at = Some(end);
                if same_words(&prose[inner_start..end], &wanted) {
                    return true;
                }
                from = inner_start;
            }
            false
        }
        None => {
            let wanted = normalize_whitespace(signal);
            !wanted.is_empty() && normalize_whitespace(prose).contains(&wanted)
        }
    }
}

/// True when `text`, trimmed and with its whitespace collapsed, is `words` joined by
/// single spaces — `normalize_whitespace(text) == words.join(" ")` without building
/// either string, stopping at the first difference.
fn same_words(text: &str, words: &[&str]) -> bool {
    let mut rest = text.trim_start();
    for word in words {
        let Some(after) = rest.strip_prefix(word) else {
            return false;
        };
        let trimmed = after.trim_start();
        if trimmed.len() == after.len() && !after.is_empty() {
            return false;
        }
        rest = trimmed;
    }
    rest.is_empty()
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
    // `>` first: slicing off the last byte of a close that ends in a multi-byte
    // character would panic (found by fuzzing: `<promise>x</promise€`).
    if !close.ends_with('>') || close[2..close.len() - 1].trim() != name {
        return None;
    }
    Some((open, &rest[..close_start], close))
}

/// The message with fenced code blocks and inline code spans blanked out.
pub fn prose(message: &str) -> String {
    prose_with(message, InlineCode::Blank)
}

/// The message with fenced code blocks blanked out and inline code spans kept with their
/// `<`, `>` and `&` replaced by look-alikes (`‹`, `›`, `＆`), so that no tag, escaped or
/// not, can come out of code.
fn prose_keeping_inline_code(message: &str) -> String {
    prose_with(message, InlineCode::Defuse)
}

/// What becomes of an inline code span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InlineCode {
    /// One space.
    Blank,
    /// The span, backticks included, with its markup characters replaced.
    Defuse,
}

fn prose_with(message: &str, inline_code: InlineCode) -> String {
    let bytes = message.as_bytes();
    let mut kept = String::with_capacity(message.len());
    let mut fence: Option<(char, usize)> = None;
    // Text outside fences is copied in whole stretches, not line by line.
    let mut kept_from = 0;
    let mut line_start = 0;
    while line_start < message.len() {
        let line_end = memchr::memchr(b'\n', &bytes[line_start..])
            .map_or(message.len(), |offset| line_start + offset + 1);
        let line = &message[line_start..line_end];
        match fence {
            None => {
                if let Some(open) = fence_marker(line) {
                    kept.push_str(&message[kept_from..line_start]);
                    fence = Some(open);
                }
            }
            Some((ch, len)) => {
                if fence_marker(line).is_some_and(|(mark_ch, mark_len)| {
                    mark_ch == ch
                        && mark_len >= len
                        && line.trim_start().trim_start_matches(ch).trim().is_empty()
                }) {
                    fence = None;
                    kept.push('\n');
                    kept_from = line_end;
                }
            }
        }
        line_start = line_end;
    }
    if fence.is_none() {
        kept.push_str(&message[kept_from..]);
    }
    strip_inline_code(&kept, inline_code)
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

/// Blanks out (or defuses) inline code spans: a run of N backticks up to the next run of
/// exactly N backticks is one span; a run without such a partner stays as text.
fn strip_inline_code(text: &str, inline_code: InlineCode) -> String {
    // Every maximal run of backticks, as (start, length).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for at in memchr::memchr_iter(b'`', text.as_bytes()) {
        match runs.last_mut() {
            Some((start, len)) if *start + *len == at => *len += 1,
            _ => runs.push((at, 1)),
        }
    }
    if runs.is_empty() {
        return text.to_string();
    }
    // partner[j]: the next run after run j with the same length. Computed once from the
    // end, so a message with many unmatched runs of different lengths stays linear.
    // Short runs (all real ones) index an array; longer ones a map.
    let mut partner = vec![None; runs.len()];
    let mut next_of_short_len = [None; 16];
    let mut next_of_len: HashMap<usize, usize> = HashMap::new();
    for (j, &(_, len)) in runs.iter().enumerate().rev() {
        partner[j] = match next_of_short_len.get_mut(len) {
            Some(slot) => slot.replace(j),
            None => next_of_len.insert(len, j),
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut j = 0;
    while j < runs.len() {
        match partner[j] {
            Some(k) => {
                let (start, _) = runs[j];
                let (close, close_len) = runs[k];
                out.push_str(&text[copied..start]);
                match inline_code {
                    InlineCode::Blank => out.push(' '),
                    InlineCode::Defuse => {
                        let span = &text[start..close + close_len];
                        if span.contains(['<', '>', '&']) {
                            out.extend(span.chars().map(|c| match c {
                                '<' => '‹',
                                '>' => '›',
                                '&' => '＆',
                                other => other,
                            }));
                        } else {
                            out.push_str(span);
                        }
                    }
                }
                copied = close + close_len;
                j = k + 1;
            }
            None => j += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
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
    fn an_inline_code_span_inside_a_tag_is_not_glued_away() {
        // The span becomes a space, so the words around it stay apart.
        let message = "<promise>DO`x`NE</promise>";
        assert_eq!(classify(message, DONE, CONT), Tag::None);
        assert_eq!(prose("a`x`b"), "a b");
    }

    #[test]
    fn a_fence_line_with_an_info_string_does_not_close_an_open_fence() {
        let message = "```\n```rust\n<promise>DONE</promise>\n```\n";
        assert_eq!(classify(message, DONE, CONT), Tag::None);
        let closed = "```\ncode\n```\n<promise>DONE</promise>";
        assert_eq!(classify(closed, DONE, CONT), Tag::Promise);
    }

    #[test]
    fn a_shorter_or_other_fence_does_not_close_an_open_fence() {
        for message in [
            "````\n```\n<promise>DONE</promise>\n````",
            "~~~\n```\n<promise>DONE</promise>\n~~~",
            "```\n    ```\n<promise>DONE</promise>\n```",
        ] {
            assert_eq!(classify(message, DONE, CONT), Tag::None, "{message:?}");
        }
    }

    #[test]
    fn a_fence_indented_up_to_three_spaces_still_hides_the_promise() {
        let message = "   ```\n<promise>DONE</promise>\n   ```\n";
        assert_eq!(classify(message, DONE, CONT), Tag::None);
    }

    #[test]
    fn a_rule_or_heading_underline_is_not_a_fence() {
        for message in [
            "All green.\n\n---\n\n<promise>DONE</promise>",
            "Summary\n=======\n<promise>DONE</promise>",
            "***\n<promise>DONE</promise>",
        ] {
            assert_eq!(classify(message, DONE, CONT), Tag::Promise, "{message:?}");
        }
    }

    #[test]
    fn a_run_of_backticks_pairs_only_with_a_run_of_the_same_length() {
        // Two backticks, a backtick, two backticks: one span. The lone backtick after the tag has no
        // partner, so the tag between them is prose.
        let message = "`` ` `` marks code <promise>DONE</promise> (a lone ` is fine)";
        assert_eq!(classify(message, DONE, CONT), Tag::Promise);
        let triple = "a ```x``` b <promise>DONE</promise> ` c";
        assert_eq!(classify(triple, DONE, CONT), Tag::Promise);
    }

    #[test]
    fn a_signal_with_only_its_less_than_signs_escaped_still_counts() {
        assert!(carries("done &lt;promise>DONE&lt;/promise>", DONE));
        assert!(carries("done <promise&gt;DONE</promise&gt;", DONE));
    }

    #[test]
    fn only_a_named_open_tag_with_its_close_makes_a_tag_signal() {
        assert_eq!(
            split_tag(" <done>ALL DONE</done> "),
            Some(("<done>", "ALL DONE", "</done>"))
        );
        for signal in [
            "<>DONE</>",
            "</p>DONE<//p>",
            "<p q>DONE</p q>",
            "<p>DONE</q>",
            "<p>DONE",
            "DONE</p>",
        ] {
            assert_eq!(split_tag(signal), None, "{signal:?}");
        }
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
    fn a_signal_whose_close_ends_in_a_multibyte_character_does_not_panic() {
        assert!(!carries(
            "<promise>DONE</promise",
            "<promise>DONE</promise\u{20ac}"
        ));
        assert!(carries(
            "x <promise>DONE</promise\u{20ac}",
            "<promise>DONE</promise\u{20ac}"
        ));
    }

    #[test]
    fn non_ascii_text_around_the_tag_is_fine() {
        assert!(carries("Готово ✅ <promise>DONE</promise> 完成", DONE));
        assert!(!carries("`é` ``x`` ` <promise>DON</promise>", DONE));
    }

    fn blocked(message: &str) -> Signal {
        classify_signal(message, DONE, CONT)
    }

    fn because(reason: &str) -> Signal {
        Signal::Blocked(reason.to_string())
    }

    #[test]
    fn the_blocked_tag_in_prose_carries_its_reason() {
        let message = "I cannot reach the staging database.\n\n<ralph-blocked>Need the staging database password</ralph-blocked>";
        assert_eq!(
            blocked(message),
            because("Need the staging database password")
        );
        assert_eq!(
            blocked_reason(message).as_deref(),
            Some("Need the staging database password")
        );
        assert_eq!(blocked(message).tag(), Tag::Blocked);
        assert_eq!(Tag::Blocked.as_str(), "blocked");
    }

    #[test]
    fn a_blocked_tag_in_code_does_not_count() {
        for message in [
            "If I get stuck I will write `<ralph-blocked>need keys</ralph-blocked>`.",
            "Like this:\n```\n<ralph-blocked>need keys</ralph-blocked>\n```\nbut I am fine.",
            "~~~\n<ralph-blocked>need keys</ralph-blocked>\n~~~",
            "```\n<ralph-blocked>need keys</ralph-blocked>",
            "``<ralph-blocked>need keys</ralph-blocked>``",
            "escaped in code: `&lt;ralph-blocked&gt;need keys&lt;/ralph-blocked&gt;`",
            "half in code: `<ralph-blocked>` need keys </ralph-blocked>",
            "half in code: <ralph-blocked> need keys `</ralph-blocked>`",
        ] {
            assert_eq!(blocked(message), Signal::None, "{message}");
            assert_eq!(blocked_reason(message), None, "{message}");
        }
    }

    #[test]
    fn a_mention_or_a_placeholder_does_not_block() {
        for message in [
            "I am not ralph-blocked, just slow.",
            "I could use <ralph-blocked> but I will not.",
            "</ralph-blocked> before <ralph-blocked>",
            "<ralph-blocked reason=\"keys\">need keys</ralph-blocked>",
            "<RALPH-BLOCKED>need keys</RALPH-BLOCKED>",
            "<ralph-blocked></ralph-blocked>",
            "<ralph-blocked>  \n </ralph-blocked>",
            "<ralph-blocked>...</ralph-blocked>",
            "<ralph-blocked>…</ralph-blocked>",
            "<ralph-blocked>REASON</ralph-blocked>",
            "The rules say: <ralph-blocked>what you need from the user</ralph-blocked>.",
            BLOCKED_EXAMPLE,
        ] {
            assert_eq!(blocked(message), Signal::None, "{message}");
        }
    }

    #[test]
    fn the_first_real_reason_counts_after_placeholders() {
        let message = "Rules: <ralph-blocked>reason</ralph-blocked>.\n<ralph-blocked>Which region, eu or us?</ralph-blocked>";
        assert_eq!(blocked(message), because("Which region, eu or us?"));
    }

    #[test]
    fn the_innermost_opening_tag_starts_the_reason() {
        assert_eq!(
            blocked("<ralph-blocked>outer <ralph-blocked>inner</ralph-blocked>"),
            because("inner")
        );
    }

    #[test]
    fn a_blocked_signal_copied_back_html_escaped_still_counts() {
        assert_eq!(
            blocked("&lt;ralph-blocked&gt;need the API key&lt;/ralph-blocked&gt;"),
            because("need the API key")
        );
    }

    #[test]
    fn inline_code_inside_the_reason_is_kept_and_defused() {
        assert_eq!(
            blocked("<ralph-blocked>Set `DATABASE_URL` in `.env`</ralph-blocked>"),
            because("Set `DATABASE_URL` in `.env`")
        );
        assert_eq!(
            blocked("<ralph-blocked>is `a<b && c>d` right?</ralph-blocked>"),
            because("is `a‹b ＆＆ c›d` right?")
        );
        // A closing tag quoted in code inside the reason does not end it.
        assert_eq!(
            blocked("<ralph-blocked>what does `</ralph-blocked>` mean</ralph-blocked>"),
            because("what does `‹/ralph-blocked›` mean")
        );
    }

    #[test]
    fn the_reason_is_one_line_and_cut_when_long() {
        assert_eq!(
            blocked("<ralph-blocked>\n  Need:\n  - the key\n  - the region\n</ralph-blocked>"),
            because("Need: - the key - the region")
        );
        let long = "é".repeat(MAX_BLOCKED_REASON_CHARS + 500);
        let Signal::Blocked(reason) = blocked(&format!("<ralph-blocked>{long}</ralph-blocked>"))
        else {
            panic!("a long reason still blocks");
        };
        assert_eq!(reason.chars().count(), MAX_BLOCKED_REASON_CHARS + 1);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn the_promise_wins_over_blocked_and_blocked_over_continue() {
        let both = format!("<ralph-blocked>need keys</ralph-blocked> {DONE}");
        assert_eq!(blocked(&both), Signal::Promise);
        let habit = format!("<ralph-blocked>need keys</ralph-blocked>\n{CONT}");
        assert_eq!(blocked(&habit), because("need keys"));
        assert_eq!(blocked(&format!("go on {CONT}")), Signal::Continue);
        assert_eq!(blocked("nothing"), Signal::None);
    }

    #[test]
    fn classify_is_unchanged_by_the_blocked_signal() {
        let habit = format!("<ralph-blocked>need keys</ralph-blocked>\n{CONT}");
        assert_eq!(classify(&habit, DONE, CONT), Tag::Continue);
        assert_eq!(
            classify("<ralph-blocked>need keys</ralph-blocked>", DONE, CONT),
            Tag::None
        );
    }

    #[test]
    fn huge_hostile_messages_are_judged_in_linear_time() {
        // Quadratic matching would take hours on these; linear takes milliseconds.
        let opens = format!("{}</ralph-blocked>", BLOCKED_OPEN.repeat(100_000));
        assert_eq!(blocked(&opens), Signal::None, "empty innermost reason");
        let closes = format!("{BLOCKED_OPEN}x{}", BLOCKED_CLOSE.repeat(100_000));
        assert_eq!(blocked(&closes), because("x"));
        let placeholders = "<ralph-blocked>reason</ralph-blocked>".repeat(50_000);
        assert_eq!(blocked(&placeholders), Signal::None);
        let backticks: String = (1..2_000)
            .map(|n| format!("{} <ralph-blocked>", "`".repeat(n % 40 + 1)))
            .collect();
        assert_eq!(
            blocked(&format!("{backticks}k</ralph-blocked>")),
            because("k")
        );
        let escaped = "&lt;ralph-blocked&gt;".repeat(100_000);
        assert_eq!(blocked(&escaped), Signal::None);
    }

    #[test]
    fn non_ascii_around_and_inside_the_blocked_tag_is_fine() {
        assert_eq!(
            blocked("Готово? 🚧 <ralph-blocked>нужен ключ API ✅</ralph-blocked> 完成"),
            because("нужен ключ API ✅")
        );
    }

    #[test]
    fn a_message_of_many_opening_promise_tags_is_judged_in_linear_time() {
        // A message can hold megabytes of opening tags (an agent's output, or a file it
        // quotes). Looking for a fresh closing tag after each one would take hours here and
        // the Stop hook would time out instead of deciding; the closing tag found once is
        // reused while it still lies ahead.
        let message = format!("{}DONE</promise>", "<promise>".repeat(300_000));
        assert!(carries(&message, DONE));
    }

    #[test]
    fn a_fence_indented_three_spaces_hides_the_promise_where_no_inline_code_could() {
        // A lone run of backticks, or two runs of different lengths, make no inline code
        // span: only the fence, indented by the three spaces Markdown allows, hides these.
        for message in [
            "   ```\n<promise>DONE</promise>",
            "   ```\n<promise>DONE</promise>\n   ````\n",
        ] {
            assert_eq!(classify(message, DONE, CONT), Tag::None, "{message:?}");
        }
        // Four spaces make an indented code line, not a fence: the tag after it counts.
        assert_eq!(
            classify("    ```\n<promise>DONE</promise>", DONE, CONT),
            Tag::Promise
        );
    }
}
