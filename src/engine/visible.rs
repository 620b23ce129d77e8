//! Which characters a person would not see as themselves on a terminal: the one list
//! behind every place ralph-hook shows a task, reason, path or command (see
//! [`crate::engine::render::printable`]), so hidden text cannot ride along unseen.

/// True for a character a terminal would not show as itself: a control, a
/// bidirectional mark, override or isolate, a zero-width or other invisible format
/// character, a Unicode tag character (U+E0000 block) or a variation selector.
pub fn is_hidden(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{00ad}'
                | '\u{034f}'
                | '\u{061c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e007f}'
                | '\u{e0100}'..='\u{e01ef}'
        )
}

/// Text handed on from someone who is not the user (a task `adopt` takes over, the
/// agent's reason in a notify variable): every invisible or bidirectional character made visible as `\u{…}`, line breaks and
/// tabs kept, so the agent reads nothing the user could not see in `show`.
pub fn revealed(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if is_hidden(ch) && ch != '\n' && ch != '\t' {
                format!("\\u{{{:x}}}", u32::from(ch))
            } else {
                ch.to_string()
            }
        })
        .collect()
}
