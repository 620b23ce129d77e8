//! Reading `$ralph-loop TASK --max-iterations N …` (Codex) or `/ralph-loop …` (Claude
//! Code) out of the user's raw prompt: known flags may stand anywhere, with a bare or a
//! quoted value; everything else, verbatim, is the task. A `--word` that is nearly a
//! flag is refused with the flag it was probably meant as, so a typo never turns into
//! a loop with default budgets; other `--words` stay in the task.
//!
//! The flags, their value names, help lines and defaults come from one place, the flag
//! table [`RawLoopFlags`]: the parser, the typo check (the one `did_you_mean`) and the
//! in-agent usage text ([`usage`]) all read it.
//!
//! Installed as a plugin, the skill is namespaced: `$ralph-hook:ralph-loop` (Codex 0.169)
//! and `/ralph-hook:ralph-loop` (Claude Code 2.1.328). Measured with both clients: the
//! UserPromptSubmit hook gets the user's text as typed, in either form, and Claude Code
//! also resolves the bare `/ralph-loop` to the plugin's skill. All four forms start a loop.

use clap::Args;

use crate::agent::Agent;
use crate::clock;
use crate::did_you_mean::did_you_mean;
use crate::engine::liveness;
use crate::engine::settings::RawLoopFlags;

/// What a `$ralph-loop` prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
// Made once per process and matched at once: boxing the large variant gains nothing.
#[allow(clippy::large_enum_variant)]
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
    /// `$ralph-loop resume`: the loop goes on after a pause (the agent's block, or the
    /// user's `pause`).
    Resume,
    /// `$ralph-loop help`, `--help`, `-h`, or nothing at all: the usage, no loop.
    Help,
}

/// A loop flag as the prompt parser needs it, read from its one clap definition.
struct FlagSpec {
    /// `--max-iterations`.
    name: String,
    /// `N`.
    value_name: String,
    /// The flag's help line, for the error when its value is missing.
    help: String,
}

fn flag_specs(command: &clap::Command) -> Vec<FlagSpec> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            Some(FlagSpec {
                name: format!("--{long}"),
                value_name: arg
                    .get_value_names()
                    .and_then(|names| names.first())
                    .map_or_else(|| "VALUE".to_string(), ToString::to_string),
                help: arg.get_help().map(ToString::to_string).unwrap_or_default(),
            })
        })
        .collect()
}

/// The words that start a ralph-loop command: each host's bare form and the plugin's
/// namespaced one.
const PREFIXES: [&str; 4] = [
    "$ralph-loop",
    "/ralph-loop",
    "$ralph-hook:ralph-loop",
    "/ralph-hook:ralph-loop",
];

/// Parses a raw prompt; `None` when it is not a ralph-loop command.
///
/// A flag whose value is missing or has an unclosed quote is an error naming the flag.
pub fn parse(prompt: &str) -> Option<Result<LoopCommand, String>> {
    let trimmed = prompt.trim_start();
    let rest = PREFIXES
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix))?;
    if rest.chars().next().is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    match rest.trim() {
        "cancel" => return Some(Ok(LoopCommand::Cancel)),
        "status" => return Some(Ok(LoopCommand::Status)),
        "resume" => return Some(Ok(LoopCommand::Resume)),
        "" | "help" | "--help" | "-h" => return Some(Ok(LoopCommand::Help)),
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
    let mut replace = false;
    let specs = flag_specs(&RawLoopFlags::command());
    let mut given = Vec::new();
    let mut errors = Vec::new();
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
        let spec = at_word_start
            .then(|| {
                specs.iter().find(|spec| {
                    text[i..].starts_with(&spec.name)
                        && text[i + spec.name.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| c == '=' || c.is_whitespace())
                })
            })
            .flatten();
        let Some(spec) = spec else {
            if at_word_start
                && let Some(word) = flag_like_word(&text[i..])
                && let Some(meant) = did_you_mean(word, specs.iter().map(|spec| spec.name.as_str()))
            {
                errors.push(format!(
                    "`{word}` is not a flag: did you mean `{meant}`? (if `{word}` belongs to the task, put it in backticks)"
                ));
                i += word.len();
                continue;
            }
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let (value, end) = match read_value(text, i + spec.name.len()) {
            Some(Ok(read)) => read,
            Some(Err(unclosed)) => {
                errors.push(format!("{}: {unclosed}", spec.name));
                break;
            }
            None => {
                errors.push(format!(
                    "{} needs a value: `{} {}`, {}",
                    spec.name, spec.name, spec.value_name, spec.help
                ));
                i += spec.name.len();
                continue;
            }
        };
        given.push(format!("{}={value}", spec.name));
        task.push_str(text[copied..i].trim_end_matches([' ', '\t']));
        copied = end;
        i = end;
    }
    task.push_str(&text[copied..]);
    // Every mistake at once: a user who fixes one should not meet the next on resend.
    match (RawLoopFlags::from_words(given), errors.is_empty()) {
        (Ok(flags), true) => Ok((task.trim().to_string(), flags, replace)),
        (Ok(_), false) => Err(errors.join("; ")),
        (Err(err), _) => {
            errors.push(err);
            Err(errors.join("; "))
        }
    }
}

/// The `--word` (or `—word`, as some editors turn two hyphens into a dash) at the start
/// of `text`, up to a space or `=`; `None` when `text` does not start with one.
fn flag_like_word(text: &str) -> Option<&str> {
    let rest = text
        .strip_prefix("--")
        .or_else(|| text.strip_prefix(['\u{2014}', '\u{2013}']))?;
    if !rest.starts_with(|c: char| c.is_alphabetic()) {
        return None;
    }
    let end = text
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(text.len());
    Some(&text[..end])
}

/// The usage of the in-agent command in `agent`'s own syntax, rendered by clap from the
/// loop flags' definition: what `$ralph-loop help` answers.
pub fn usage(agent: Agent) -> String {
    let cmd = agent.loop_command();
    let idle = clock::human(liveness::IDLE_AFTER);
    let examples = format!(
        "Examples:\n  \
         {cmd} Fix the failing tests --max-iterations 20\n  \
         {cmd} Make the build green --verify \"cargo test\" --max-duration 2h\n\n\
         Without spending a model turn:\n  \
         {cmd} status    how the loop stands\n  \
         {cmd} cancel    end the loop; the next stop is allowed\n  \
         {cmd} resume    go on after a pause (a blocked agent also resumes with your next message)\n  \
         {cmd} help      this text\n\n\
         Another session's loop in this workspace: replaced when that session has shown no \
         sign of life for {idle}; `{cmd} --replace TASK` replaces a live one.\n\n\
         While work remains the agent ends each message with the continuation signal; it \
         writes the completion signal only when the task is done."
    );
    let mut command = RawLoopFlags::augment_args(
        clap::Command::new(cmd)
            .disable_help_flag(true)
            .next_help_heading("Flags (anywhere in the prompt; the rest is the task)"),
    )
    .about(
        "Keep the agent working on one task, in this session, until it writes the completion signal or a budget runs out.",
    )
    .override_usage(format!("{cmd} TASK [FLAGS]"))
    .help_template("{about}\n\n{usage-heading} {usage}\n\n{all-args}{after-help}")
    .after_help(examples);
    command.render_help().to_string().trim_end().to_string()
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
            "$ralph-hook:ralph-loop fix the tests --max-iterations 3",
            "/ralph-hook:ralph-loop fix the tests --max-iterations 3",
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
        assert_eq!(parse("/ralph-hook:ralph-loopy fix"), None);
        assert_eq!(parse("/ralph-hook:other fix"), None);
        assert_eq!(parse("/ralph-hook fix"), None);
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
    fn every_flag_lands_in_its_own_field() {
        let (task, flags) = start(
            "$ralph-loop task --max-iterations 1 --completion-promise P2 --magic-word W3 \
             --max-duration 4m --no-progress 5 --verify 'v 6' --verify-timeout 7 \
             --max-tokens 8k --notify 'n 9' --max-cost 10 --count weighted --warn-at 50 --wrap-up on",
        );
        assert_eq!(task, "task");
        assert_eq!(
            flags,
            RawLoopFlags {
                max_iterations: Some("1".into()),
                completion_promise: Some("P2".into()),
                magic_word: Some("W3".into()),
                max_duration: Some("4m".into()),
                no_progress: Some("5".into()),
                verify: Some("v 6".into()),
                verify_timeout: Some("7".into()),
                max_tokens: Some("8k".into()),
                notify: Some("n 9".into()),
                max_cost: Some("10".into()),
                count: Some("weighted".into()),
                warn_at: Some("50".into()),
                wrap_up: Some("on".into()),
                ..RawLoopFlags::default()
            }
        );
    }

    #[test]
    fn every_start_flag_is_a_prompt_flag() {
        let names: Vec<String> = flag_specs(&RawLoopFlags::command())
            .into_iter()
            .map(|spec| spec.name)
            .collect();
        for flag in [
            "--max-iterations",
            "--completion-promise",
            "--magic-word",
            "--max-duration",
            "--no-progress",
            "--verify",
            "--verify-timeout",
            "--max-tokens",
            "--notify",
        ] {
            assert!(names.iter().any(|name| name == flag), "{flag} in {names:?}");
        }
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
        match parse("$ralph-loop add a replace-all flag and x--replace") {
            Some(Ok(LoopCommand::Start { task, replace, .. })) => {
                assert_eq!(task, "add a replace-all flag and x--replace");
                assert!(!replace);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_usage_says_how_to_replace_another_sessions_loop_in_the_hosts_syntax() {
        assert!(usage(Agent::Claude).contains("`/ralph-loop --replace TASK`"));
        assert!(usage(Agent::Codex).contains("`$ralph-loop --replace TASK`"));
        assert!(usage(Agent::Codex).contains("no sign of life for 10m"));
    }

    #[test]
    fn a_later_copy_of_a_flag_wins() {
        let (_, flags) = start("$ralph-loop t --max-iterations 3 --max-iterations 4");
        assert_eq!(flags.max_iterations.as_deref(), Some("4"));
    }

    #[test]
    fn a_flag_glued_to_a_word_is_part_of_the_task() {
        let (task, flags) = start("$ralph-loop fix foo--verify x");
        assert_eq!(task, "fix foo--verify x");
        assert_eq!(flags.verify, None);
    }

    #[test]
    fn escaped_quotes_inside_a_double_quoted_value_are_kept() {
        let (_, flags) = start(r#"$ralph-loop t --verify "grep \"x\" f""#);
        assert_eq!(flags.verify.as_deref(), Some(r#"grep "x" f"#));
    }

    #[test]
    fn a_backslash_inside_a_single_quoted_value_is_literal() {
        let (task, flags) = start(r"$ralph-loop t --verify 'grep -E \d+ f' --max-iterations 2");
        assert_eq!(flags.verify.as_deref(), Some(r"grep -E \d+ f"));
        assert_eq!(flags.max_iterations.as_deref(), Some("2"));
        assert_eq!(task, "t");
    }

    #[test]
    fn an_empty_value_after_a_flag_is_an_error_not_an_empty_setting() {
        for (prompt, flag) in [
            ("$ralph-loop fix --max-iterations= 3", "--max-iterations"),
            ("$ralph-loop fix --verify \ncargo test", "--verify"),
            ("$ralph-loop fix --no-progress\t\n2", "--no-progress"),
        ] {
            let err = parse(prompt).unwrap().unwrap_err();
            assert!(
                err.starts_with(&format!("{flag} needs a value")),
                "{prompt:?} → {err}"
            );
        }
    }

    #[test]
    fn cancel_and_status_are_commands() {
        assert_eq!(parse("$ralph-loop cancel"), Some(Ok(LoopCommand::Cancel)));
        assert_eq!(
            parse("/ralph-loop  status \n"),
            Some(Ok(LoopCommand::Status))
        );
        assert_eq!(
            parse("/ralph-hook:ralph-loop cancel"),
            Some(Ok(LoopCommand::Cancel))
        );
        assert_eq!(
            parse("$ralph-hook:ralph-loop status"),
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

    #[test]
    fn help_in_every_form_asks_for_the_usage() {
        for prompt in [
            "$ralph-loop help",
            "/ralph-loop --help",
            "/ralph-loop -h",
            "$ralph-loop",
            "/ralph-loop   \n",
        ] {
            assert_eq!(parse(prompt), Some(Ok(LoopCommand::Help)), "{prompt:?}");
        }
        let (task, _) = start("$ralph-loop help me fix the tests");
        assert_eq!(task, "help me fix the tests");
    }

    #[test]
    fn a_mistyped_flag_is_refused_with_the_flag_it_was_meant_as() {
        for (prompt, meant) in [
            (
                "$ralph-loop Fix the tests --max-iteration 3",
                "--max-iterations",
            ),
            ("$ralph-loop Fix --max_iterations 3", "--max-iterations"),
            ("$ralph-loop Fix --Max-Iterations=3", "--max-iterations"),
            ("$ralph-loop Fix --max-iter 3", "--max-iterations"),
            (
                "$ralph-loop Fix --completion-promis OK",
                "--completion-promise",
            ),
            ("$ralph-loop Fix --verfy 'cargo test'", "--verify"),
            ("$ralph-loop Fix --verify-timout 30", "--verify-timeout"),
            ("$ralph-loop Fix --noprogress 2", "--no-progress"),
            ("$ralph-loop Fix --max-durations 2h", "--max-duration"),
            (
                "$ralph-loop Fix \u{2014}max-iterations 3",
                "--max-iterations",
            ),
        ] {
            let err = parse(prompt).unwrap().unwrap_err();
            assert!(
                err.contains(&format!("did you mean `{meant}`?")),
                "{prompt:?} → {err}"
            );
        }
    }

    #[test]
    fn other_double_dash_words_stay_in_the_task() {
        for prompt in [
            "$ralph-loop add a --verbose flag to the CLI",
            "$ralph-loop support --verified and --magic in the parser",
            "$ralph-loop make --max work and drop --no-prompt",
            "$ralph-loop keep `--max-iteration` as the old spelling",
            "$ralph-loop -- is fine, so is --- and --42",
            "$ralph-loop document --mixed-iterations and --iterations mode",
        ] {
            let (task, flags) = start(prompt);
            assert_eq!(
                task,
                prompt.trim_start_matches("$ralph-loop "),
                "{prompt:?}"
            );
            assert_eq!(flags, RawLoopFlags::default());
        }
    }

    #[test]
    fn the_usage_lists_every_flag_with_its_default_in_the_hosts_syntax() {
        for agent in Agent::ALL {
            let text = usage(agent);
            for spec in flag_specs(&RawLoopFlags::command()) {
                assert!(text.contains(&spec.name), "{} missing:\n{text}", spec.name);
            }
            assert!(text.contains("[default: 50]"), "{text}");
            for word in ["status", "cancel", "resume", "help"] {
                assert!(
                    text.contains(&format!("{} {word}", agent.loop_command())),
                    "{text}"
                );
            }
            let other = match agent {
                Agent::Codex => "/ralph-loop",
                Agent::Claude => "$ralph-loop",
            };
            assert!(!text.contains(other), "{agent}: {text}");
        }
    }
}
