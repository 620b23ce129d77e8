//! Reading `$ralph-loop TASK --max-iterations N …` (Codex) or `/ralph-loop …` (Claude
//! Code) out of the user's raw prompt: known flags may stand anywhere, with a bare or a
//! quoted value; everything else, verbatim, is the task.

use crate::engine::settings::RawLoopFlags;

/// What a `$ralph-loop` prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoopCommand {
    /// Start a loop on `task` with these flags.
    Start {
        /// The task, verbatim apart from the flags taken out of it.
        task: String,
        /// The flags, unchecked.
        flags: RawLoopFlags,
        /// `--replace`: the user asks to replace whatever loop runs here, even another
        /// live session's (a word of the prompt, not a setting of the loop).
        replace: bool,
    },
    /// `$ralph-loop cancel`.
    Cancel,
    /// `$ralph-loop status`.
    Status,
}

/// The flags a prompt may carry, with where each value goes.
const FLAGS: [&str; 7] = [
    "--max-iterations",
    "--completion-promise",
    "--magic-word",
    "--max-duration",
    "--no-progress",
    "--verify",
    "--verify-timeout",
];

/// Parses a raw prompt; `None` when it is not a ralph-loop command.
///
/// A flag whose value is missing or has an unclosed quote is an error naming the flag.
pub fn parse(prompt: &str) -> Option<Result<LoopCommand, String>> {
    let trimmed = prompt.trim_start();
    let rest = ["$ralph-loop", "/ralph-loop"]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix))?;
    if rest.chars().next().is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    match rest.trim() {
        "cancel" => return Some(Ok(LoopCommand::Cancel)),
        "status" => return Some(Ok(LoopCommand::Status)),
        _ => {}
    }
    Some(
        extract_flags(rest).map(|(task, flags, replace)| LoopCommand::Start {
            task,
            flags,
            replace,
        }),
    )
}

/// The word that replaces another session's live loop.
pub const REPLACE: &str = "--replace";

fn extract_flags(text: &str) -> Result<(String, RawLoopFlags, bool), String> {
    let mut flags = RawLoopFlags::default();
    let mut replace = false;
    let mut task = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        let at_word_start = i == 0 || text[..i].ends_with(char::is_whitespace);
        if at_word_start
            && text[i..].starts_with(REPLACE)
            && text[i + REPLACE.len()..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace)
        {
            replace = true;
            task.push_str(text[copied..i].trim_end_matches([' ', '\t']));
            copied = i + REPLACE.len();
            i = copied;
            continue;
        }
        let flag = at_word_start
            .then(|| {
                FLAGS.iter().copied().find(|flag| {
                    text[i..].starts_with(flag)
                        && text[i + flag.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| c == '=' || c.is_whitespace())
                })
            })
            .flatten();
        let Some(flag) = flag else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let (value, end) = read_value(text, i + flag.len())
            .ok_or_else(|| format!("{flag} needs a value, e.g. `{}`", example(flag)))??;
        *slot(&mut flags, flag) = Some(value);
        task.push_str(text[copied..i].trim_end_matches([' ', '\t']));
        copied = end;
        i = end;
    }
    task.push_str(&text[copied..]);
    Ok((task.trim().to_string(), flags, replace))
}

/// Reads the value after a flag: `=value`, ` value`, ` "quoted value"` or ` 'quoted'`.
/// Returns the value and the index just past it; `None` when there is no value.
fn read_value(text: &str, mut i: usize) -> Option<Result<(String, usize), String>> {
    if text[i..].starts_with('=') {
        i += 1;
    } else {
        let skipped = text[i..].len() - text[i..].trim_start_matches([' ', '\t']).len();
        if skipped == 0 {
            return None;
        }
        i += skipped;
    }
    let rest = &text[i..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
    if let Some(quote) = quote {
        let mut value = String::new();
        let mut chars = rest[1..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '\\' if quote == '"' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                c if c == quote => return Some(Ok((value, i + 1 + offset + 1))),
                c => value.push(c),
            }
        }
        return Some(Err(format!(
            "a value starting with {quote} has no closing {quote}"
        )));
    }
    let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    (len > 0).then(|| Ok((rest[..len].to_string(), i + len)))
}

fn slot<'a>(flags: &'a mut RawLoopFlags, flag: &str) -> &'a mut Option<String> {
    match flag {
        "--max-iterations" => &mut flags.max_iterations,
        "--completion-promise" => &mut flags.completion_promise,
        "--magic-word" => &mut flags.magic_word,
        "--max-duration" => &mut flags.max_duration,
        "--no-progress" => &mut flags.no_progress,
        "--verify" => &mut flags.verify,
        _ => &mut flags.verify_timeout,
    }
}

fn example(flag: &str) -> String {
    let value = match flag {
        "--max-iterations" => "20",
        "--completion-promise" => "DONE",
        "--magic-word" => "KEEP_GOING",
        "--max-duration" => "2h",
        "--no-progress" => "3",
        "--verify" => "'cargo test'",
        _ => "300",
    };
    format!("{flag} {value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(prompt: &str) -> (String, RawLoopFlags) {
        match parse(prompt) {
            Some(Ok(LoopCommand::Start { task, flags, .. })) => (task, flags),
            other => panic!("{prompt:?} → {other:?}"),
        }
    }

    #[test]
    fn both_hosts_prompt_forms_start_a_loop() {
        for prompt in [
            "$ralph-loop fix the tests --max-iterations 3",
            "/ralph-loop fix the tests --max-iterations 3",
        ] {
            let (task, flags) = start(prompt);
            assert_eq!(task, "fix the tests");
            assert_eq!(flags.max_iterations.as_deref(), Some("3"));
        }
    }

    #[test]
    fn other_prompts_are_not_loop_commands() {
        assert_eq!(parse("fix the tests"), None);
        assert_eq!(parse("$ralph-loopy fix"), None);
        assert_eq!(parse("please run $ralph-loop later"), None);
    }

    #[test]
    fn flags_may_stand_anywhere_and_the_rest_is_the_task_verbatim() {
        let (task, flags) = start(
            "$ralph-loop --max-iterations=7 Fix \"quoted\" $(rm -rf /) and `code`\nline two ünï --completion-promise 'ALL DONE' end",
        );
        assert_eq!(
            task,
            "Fix \"quoted\" $(rm -rf /) and `code`\nline two ünï end"
        );
        assert_eq!(flags.max_iterations.as_deref(), Some("7"));
        assert_eq!(flags.completion_promise.as_deref(), Some("ALL DONE"));
    }

    #[test]
    fn unknown_flags_stay_in_the_task() {
        let (task, flags) =
            start("$ralph-loop make `cargo test --release` pass --verify \"cargo test --release\"");
        assert_eq!(task, "make `cargo test --release` pass");
        assert_eq!(flags.verify.as_deref(), Some("cargo test --release"));
    }

    #[test]
    fn replace_is_a_word_of_the_prompt_not_of_the_task() {
        for prompt in [
            "/ralph-loop --replace fix the tests --max-iterations 3",
            "/ralph-loop fix the tests --replace --max-iterations 3",
            "/ralph-loop fix the tests --max-iterations 3 --replace",
        ] {
            match parse(prompt) {
                Some(Ok(LoopCommand::Start {
                    task,
                    flags,
                    replace,
                })) => {
                    assert_eq!(task, "fix the tests", "{prompt}");
                    assert_eq!(flags.max_iterations.as_deref(), Some("3"), "{prompt}");
                    assert!(replace, "{prompt}");
                }
                other => panic!("{prompt:?} → {other:?}"),
            }
        }
        match parse("$ralph-loop add a --replace-all flag and x--replace") {
            Some(Ok(LoopCommand::Start { task, replace, .. })) => {
                assert_eq!(task, "add a --replace-all flag and x--replace");
                assert!(!replace);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cancel_and_status_are_commands() {
        assert_eq!(parse("$ralph-loop cancel"), Some(Ok(LoopCommand::Cancel)));
        assert_eq!(
            parse("/ralph-loop  status \n"),
            Some(Ok(LoopCommand::Status))
        );
    }

    #[test]
    fn a_flag_without_a_value_is_an_error_naming_it() {
        let err = parse("$ralph-loop fix --max-iterations")
            .unwrap()
            .unwrap_err();
        assert!(err.contains("--max-iterations needs a value"), "{err}");
        let err = parse("$ralph-loop fix --verify \"cargo test")
            .unwrap()
            .unwrap_err();
        assert!(err.contains("no closing"), "{err}");
    }
}
