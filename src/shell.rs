//! Shell words: how ralph-hook quotes a path for a POSIX shell, both in the hook commands
//! it writes into the hosts' configuration and in the commands it tells people to run.
//! One escaping rule, so what is shown is what would be typed.

use std::path::Path;

/// Quotes `text` with double quotes, escaping the four characters that keep a meaning
/// inside them. Used for the hook commands written into hooks.json and settings.json,
/// which always quote the binary's path.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        if matches!(ch, '"' | '$' | '\\' | '`') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// A path as one shell word for a person to copy: bare when every character is safe,
/// quoted otherwise.
pub(crate) fn word(path: &Path) -> String {
    let text = path.display().to_string();
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,".contains(c))
    {
        text
    } else {
        quote(&text)
    }
}

/// Splits off the first word of a shell command, undoing double quotes, single quotes and
/// backslash escapes. Returns the word and the rest of the line; `None` when a quote is
/// left open.
pub(crate) fn first_word(command: &str) -> Option<(String, &str)> {
    let mut word = String::new();
    let mut chars = command.char_indices();
    let mut in_double = false;
    let mut in_single = false;
    while let Some((index, ch)) = chars.next() {
        match ch {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '\\' if !in_single => {
                let (_, escaped) = chars.next()?;
                if in_double && !matches!(escaped, '"' | '$' | '\\' | '`' | '\n') {
                    word.push('\\');
                }
                word.push(escaped);
            }
            c if c.is_whitespace() && !in_double && !in_single => {
                return Some((word, &command[index..]));
            }
            c => word.push(c),
        }
    }
    if in_double || in_single {
        return None;
    }
    Some((word, ""))
}

/// The command that shows a workspace's loop, by the running binary's absolute path, so
/// that it works whatever the agent's PATH is.
pub(crate) fn show_command(workspace: &Path) -> String {
    let exe = std::env::current_exe()
        .map(|path| word(&path))
        .unwrap_or_else(|_| "ralph-hook".into());
    format!("{exe} show --workspace {}", word(workspace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_the_characters_special_inside_double_quotes() {
        assert_eq!(quote("/home/a b/x"), "\"/home/a b/x\"");
        assert_eq!(
            quote("/h/\"q\"/$v/`c`/\\"),
            "\"/h/\\\"q\\\"/\\$v/\\`c\\`/\\\\\""
        );
    }

    #[test]
    fn a_safe_path_is_one_bare_word_and_any_other_is_quoted() {
        assert_eq!(word(Path::new("/home/dev/proj-1")), "/home/dev/proj-1");
        assert_eq!(word(Path::new("/home/a b")), "\"/home/a b\"");
        assert_eq!(word(Path::new("/x/$(rm -rf ~)")), "\"/x/\\$(rm -rf ~)\"");
        assert_eq!(word(Path::new("")), "\"\"");
    }

    #[test]
    fn a_quoted_word_reads_back_as_the_original() {
        for text in ["/plain", "/a b", "/h/\"q\"/$v/`c`/\\", "/it's"] {
            let quoted = quote(text);
            let (back, rest) = first_word(&quoted).unwrap();
            assert_eq!(back, text);
            assert_eq!(rest, "");
        }
        assert_eq!(
            first_word("'/x y/z' stop"),
            Some(("/x y/z".into(), " stop"))
        );
        assert_eq!(first_word("\"/x"), None);
    }
}
