//! A loop's settings: the flags of `start` and of `$ralph-loop …`, checked once, in one
//! place, so both ways of starting a loop refuse the same mistakes with the same words.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine::prices;
use crate::engine::signal;
use crate::engine::tasks::OnStuck;
use crate::error::{Error, Result};

/// Iteration cap when none is given (the bash version's default).
pub const DEFAULT_MAX_ITERATIONS: u32 = 50;
/// Completion promise when none is given.
pub const DEFAULT_PROMISE: &str = "DONE";
/// Continuation word when none is given.
pub const DEFAULT_MAGIC_WORD: &str = "RALPH_AUTO_CONTINUE";
/// No-progress brake when none is given.
pub const DEFAULT_NO_PROGRESS: u32 = 3;
/// Which budgets end with a wrap-up turn (`--wrap-up`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrapUp {
    /// None: a budget that runs out ends the loop at that stop.
    #[default]
    Off,
    /// The time, token and money budgets (`on`): the iteration cap means the cap.
    Budgets,
    /// Those and the iteration cap (`all`).
    All,
}

/// The budget warnings' thresholds when none are given.
pub const DEFAULT_WARN_AT: [u8; 3] = [50, 80, 100];
/// The verify timeout when none is given.
pub const DEFAULT_VERIFY_TIMEOUT_SECS: u64 = 300;
/// The longest verify timeout: the installed Stop hook's own timeout is 600 s, and the
/// hook needs time left to answer after the command.
pub const MAX_VERIFY_TIMEOUT_SECS: u64 = 540;

/// The TOML type a loop flag's config key takes (the command line carries text only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A whole number, unquoted: `max_iterations = 20`.
    Number,
    /// A quoted string: `verify = "cargo test"`.
    Text,
    /// Either: a number, or a string such as `"500k"`.
    NumberOrText,
}

/// What the config file knows of one flag of the table: its key (the clap id, the field
/// name: `max_iterations` for `--max-iterations`), the TOML type and an example value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagKey {
    /// The key in the config file, also the flag's clap id.
    pub key: &'static str,
    /// The TOML type the key takes.
    pub kind: ValueKind,
    /// A TOML value for it, as the user would write it (`20`, `"2h"`), for error messages.
    pub example: &'static str,
}

impl FlagKey {
    /// The flag on the command line: `--max-iterations`.
    pub fn flag(&self) -> String {
        format!("--{}", self.key.replace('_', "-"))
    }

    /// A line of the config file that sets it: `max_iterations = 20`.
    pub fn example_line(&self) -> String {
        format!("{} = {}", self.key, self.example)
    }

    /// `value` as one word of the command line: `--max-iterations=30`.
    pub fn word(&self, value: &str) -> String {
        format!("{}={value}", self.flag())
    }
}

/// Declares the flag table: a struct whose every field is a loop flag (an
/// `Option<String>` with its clap attributes) followed by `: Kind = example`, the TOML
/// type and an example of its config key. It also writes [`RawLoopFlags::KEYS`] and
/// [`RawLoopFlags::given`] from the same fields, so nothing else lists the flags.
macro_rules! flag_table {
    (
        $(#[$struct_attr:meta])*
        pub struct $name:ident {
            $(
                $(#[$attr:meta])*
                $field:ident: $kind:ident = $example:literal,
            )*
        }
    ) => {
        $(#[$struct_attr])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
        pub struct $name {
            $(
                $(#[$attr])*
                pub $field: Option<String>,
            )*
        }

        impl $name {
            /// Every flag of the table as a config key, in the table's order.
            pub const KEYS: &'static [FlagKey] = &[$(
                FlagKey {
                    key: stringify!($field),
                    kind: ValueKind::$kind,
                    example: stringify!($example),
                },
            )*];

            /// The flags that are set, as (config key, value), in the table's order.
            pub fn given(&self) -> Vec<(&'static str, &str)> {
                let mut given = Vec::new();
                $(
                    if let Some(value) = &self.$field {
                        given.push((stringify!($field), value.as_str()));
                    }
                )*
                given
            }
        }
    };
}

flag_table! {
    /// The loop flags as the user typed them, before any check: the one table of every
    /// loop flag. `start` flattens it into its command line, the prompt hook reads
    /// `$ralph-loop …` with it ([`RawLoopFlags::command`], see `hook::loop_command`), and
    /// each key of the config file is read as its flag (`max_iterations = 30` as
    /// `--max-iterations=30`, see `engine::config`). So a new loop flag is one entry here
    /// plus its behaviour: its check in [`LoopSettings::parse`] and whatever uses it.
    pub struct RawLoopFlags {
        /// `--max-iterations`: the iteration cap.
        #[arg(long, value_name = "N", allow_hyphen_values = true,
              help = format!("Most continuation prompts before the loop ends; 0 = no cap [default: {DEFAULT_MAX_ITERATIONS}]"))]
        max_iterations: Number = 20,
        /// `--completion-promise`: the word that means done.
        #[arg(long, value_name = "TEXT",
              help = format!("The completion promise: `DONE` means the signal `<promise>DONE</promise>` [default: {DEFAULT_PROMISE}]"))]
        completion_promise: Text = "DONE",
        /// `--magic-word`: the word of the continuation signal.
        #[arg(long, value_name = "WORD",
              help = format!("The word of the continuation signal `<ralph-continue>WORD</ralph-continue>` [default: {DEFAULT_MAGIC_WORD}]"))]
        magic_word: Text = "KEEP_GOING",
        /// `--max-duration`: the time budget.
        #[arg(
            long,
            value_name = "DURATION",
            allow_hyphen_values = true,
            help = "End the loop once it has run this long: `90m`, `2h`, `1h30m` [default: none]"
        )]
        max_duration: Text = "2h",
        /// `--no-progress`: the no-progress brake.
        #[arg(long, value_name = "N", allow_hyphen_values = true,
              help = format!("End after N identical messages in a row, or N stops without a change to a git workspace; 0 = off [default: {DEFAULT_NO_PROGRESS}]"))]
        no_progress: Number = 3,
        /// `--verify`: the command that must pass before a completion counts.
        #[arg(
            long,
            value_name = "CMD",
            help = "A command (`sh -c`, in the workspace) that must exit 0 before a completion counts [default: none]"
        )]
        verify: Text = "cargo test",
        /// `--verify-timeout`: how long the verify command may run.
        #[arg(long, value_name = "SECONDS", allow_hyphen_values = true,
              help = format!("Seconds the verify command may run, at most {MAX_VERIFY_TIMEOUT_SECS} [default: {DEFAULT_VERIFY_TIMEOUT_SECS}]"))]
        verify_timeout: Number = 300,
        /// `--max-tokens`: the token budget.
        #[arg(
            long,
            value_name = "N",
            allow_hyphen_values = true,
            help = "End the loop once the session has used N tokens since it started: `500k`, `2M`; 0 = none [default: none]"
        )]
        max_tokens: NumberOrText = "2M",
        /// `--notify`: the user's command run when the loop ends or blocks.
        #[arg(
            long,
            value_name = "CMD",
            help = "A command (`sh -c`) run when the loop ends or the agent is blocked, with RALPH_OUTCOME, RALPH_REASON, RALPH_ITERATION, RALPH_WORKSPACE and RALPH_TASK set [default: none]"
        )]
        notify: Text = "notify-send ralph-hook \"$RALPH_OUTCOME\"",
        /// `--tasks`: the Markdown checklist worked item by item.
        #[arg(
            long,
            value_name = "FILE",
            help = "A Markdown checklist in the workspace (`- [ ] item`), worked item by item; an item counts only when checked with a change to the workspace (and --verify passing) [default: none]"
        )]
        tasks: Text = "PRD.md",
        /// `--max-iterations-per-task`: the cap on each item of the task list.
        #[arg(
            long,
            value_name = "N",
            allow_hyphen_values = true,
            help = "Most continuation prompts on one item of --tasks; then --on-stuck-task decides; 0 = no cap [default: 0]"
        )]
        max_iterations_per_task: Number = 10,
        /// `--on-stuck-task`: what an item that used up its cap does.
        #[arg(
            long,
            value_name = "stop|skip",
            help = "When an item of --tasks uses up --max-iterations-per-task: `stop` ends the loop (stuck_task), `skip` leaves it open and goes on [default: stop]"
        )]
        on_stuck_task: Text = "skip",
        /// `--max-cost`: the money budget.
        #[arg(
            long,
            value_name = "USD",
            allow_hyphen_values = true,
            help = "End the loop once the session's responses since it started cost this many US dollars at the model's prices (`ralph-hook config prices`): `5`, `2.50`; 0 = none [default: none]"
        )]
        max_cost: NumberOrText = "5",
        /// `--count`: how `--max-tokens` counts.
        #[arg(
            long,
            value_name = "HOW",
            help = "How --max-tokens counts: `raw` (every token, cached re-reads included) or `weighted` (each token by its price relative to the model's input price, `ralph-hook config prices`) [default: raw]"
        )]
        count: Text = "weighted",
        /// `--warn-at`: the budget warnings' thresholds.
        #[arg(
            long,
            value_name = "PERCENTS",
            help = "Percentages of each budget (iterations, duration, tokens, cost) at which the continuation prompt says what is left and --notify runs once with RALPH_OUTCOME=budget_warning; `off` = none [default: 50,80,100]"
        )]
        warn_at: Text = "50,80",
        /// `--wrap-up`: one last turn when a budget runs out.
        #[arg(
            long,
            value_name = "WHEN",
            help = "When a budget runs out, give the agent one last continuation to commit what works and write a hand-off note, then end with the budget's outcome: `on` (time, token and money budgets), `all` (the iteration cap too), `off` [default: off]"
        )]
        wrap_up: Text = "on",
    }
}

impl RawLoopFlags {
    /// The table as a command of its own, for reading `--flag=value` words (the prompt's
    /// flags, the config file's values): a later copy of a flag overrides an earlier one,
    /// as people expect when they correct themselves, and as the command line overrides
    /// the config file.
    pub fn command() -> clap::Command {
        use clap::Args as _;
        RawLoopFlags::augment_args(
            clap::Command::new("ralph-loop")
                .no_binary_name(true)
                .disable_help_flag(true)
                .args_override_self(true),
        )
    }

    /// Reads `--flag=value` words with [`RawLoopFlags::command`]; the later of two copies
    /// of a flag wins. The error is clap's, in one line.
    pub fn from_words<I, T>(words: I) -> std::result::Result<RawLoopFlags, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches as _;
        let matches = RawLoopFlags::command()
            .try_get_matches_from(words)
            .map_err(|err| err.to_string().trim().to_string())?;
        RawLoopFlags::from_arg_matches(&matches).map_err(|err| err.to_string().trim().to_string())
    }

    /// The flag whose config key is `key`.
    pub fn key(key: &str) -> Option<&'static FlagKey> {
        RawLoopFlags::KEYS.iter().find(|flag| flag.key == key)
    }
}

/// Checked settings of a new loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopSettings {
    /// The task, verbatim.
    pub task: String,
    /// 0 = no cap.
    pub max_iterations: u32,
    /// True when the user asked for no cap explicitly (worth a warning).
    pub uncapped: bool,
    /// The promise text.
    pub completion_promise: String,
    /// The exact completion signal.
    pub completion_signal: String,
    /// The continuation word.
    pub magic_word: String,
    /// The exact continuation signal.
    pub continue_signal: String,
    /// The time budget.
    pub max_duration: Option<Duration>,
    /// The no-progress brake (0 = off).
    pub no_progress: u32,
    /// The verify command.
    pub verify: Option<String>,
    /// The verify command's time limit.
    pub verify_timeout: Duration,
    /// The token budget (`None`: no budget).
    pub max_tokens: Option<u64>,
    /// The user's command to run when the loop ends or blocks.
    pub notify: Option<String>,
    /// The task list file, as given (`--tasks`); read and checked when the loop starts.
    pub tasks: Option<String>,
    /// Most continuation prompts per task item (0 = no cap).
    pub max_iterations_per_task: u32,
    /// What an item that used up its cap does.
    pub on_stuck_task: OnStuck,
    /// The money budget in nanodollars (`None`: no budget).
    pub max_cost: Option<u64>,
    /// `--count weighted`: `--max-tokens` counts tokens weighted by price.
    pub count_weighted: bool,
    /// The budget warnings' thresholds, percent, ascending (empty: none).
    pub warn_at: Vec<u8>,
    /// Which budgets get a wrap-up turn.
    pub wrap_up: WrapUp,
    /// Where each setting came from when it was not ralph-hook's default, setting name
    /// → `flag` or `<config file>:<line>` (filled by [`crate::engine::config`]).
    pub sources: BTreeMap<String, String>,
}

impl LoopSettings {
    /// Checks every flag; the first mistake is returned naming the flag and the fix.
    pub fn parse(task: &str, raw: &RawLoopFlags) -> Result<Self> {
        if task.trim().is_empty() {
            return Err(Error::usage(
                "the task is empty: say what the loop should work on, e.g. `fix the failing tests`",
            ));
        }
        let max_iterations = match &raw.max_iterations {
            None => DEFAULT_MAX_ITERATIONS,
            Some(text) => whole_number("--max-iterations", text, "(0 = no cap)")?,
        };
        let completion_promise = match &raw.completion_promise {
            None => DEFAULT_PROMISE.to_string(),
            Some(text) => {
                let text = text.trim();
                if text.is_empty() {
                    return Err(Error::usage(
                        "--completion-promise is empty: give the word that means done, e.g. `--completion-promise DONE`",
                    ));
                }
                if text.contains(['`', '\n', '\r']) {
                    return Err(Error::usage(format!(
                        "--completion-promise {text:?} may not contain backticks or line breaks: in the agent's message they make inline code or a code fence, where a signal does not count, so the loop could never complete; e.g. `--completion-promise 'ALL DONE'`"
                    )));
                }
                text.to_string()
            }
        };
        let completion_signal = signal_for_promise(&completion_promise);
        check_task_signal(task, &completion_signal)?;
        let magic_word = match &raw.magic_word {
            None => DEFAULT_MAGIC_WORD.to_string(),
            Some(text) => {
                if text.is_empty()
                    || !text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(Error::usage(format!(
                        "--magic-word {text:?} may only use letters, digits, `.`, `_` and `-`, e.g. `--magic-word KEEP_GOING`"
                    )));
                }
                text.clone()
            }
        };
        let continue_signal = format!("<ralph-continue>{magic_word}</ralph-continue>");
        let max_duration = raw
            .max_duration
            .as_deref()
            .map(parse_duration)
            .transpose()?;
        let no_progress = match &raw.no_progress {
            None => DEFAULT_NO_PROGRESS,
            Some(text) => whole_number("--no-progress", text, "(0 = off)")?,
        };
        let verify = match &raw.verify {
            None => None,
            Some(text) if text.trim().is_empty() => {
                return Err(Error::usage(
                    "--verify is empty: give the command that proves the task done, e.g. `--verify 'cargo test'`",
                ));
            }
            Some(text) => Some(text.trim().to_string()),
        };
        let verify_timeout = match &raw.verify_timeout {
            None => Duration::from_secs(DEFAULT_VERIFY_TIMEOUT_SECS),
            Some(text) => {
                let secs = u64::from(whole_number("--verify-timeout", text, "seconds")?);
                if secs == 0 || secs > MAX_VERIFY_TIMEOUT_SECS {
                    return Err(Error::usage(format!(
                        "--verify-timeout must be between 1 and {MAX_VERIFY_TIMEOUT_SECS} seconds (the Stop hook itself may run 600 s), got {secs}"
                    )));
                }
                Duration::from_secs(secs)
            }
        };
        let max_tokens = match &raw.max_tokens {
            None => None,
            Some(text) => Some(parse_max_tokens(text)?).filter(|tokens| *tokens > 0),
        };
        let notify = match &raw.notify {
            None => None,
            Some(text) if text.trim().is_empty() => {
                return Err(Error::usage(
                    "--notify is empty: give the command to run when the loop ends, e.g. `--notify 'notify-send ralph-loop \"$RALPH_OUTCOME\"'`",
                ));
            }
            Some(text) if text.contains('\0') => {
                return Err(Error::usage(
                    "--notify contains a NUL character, which no command can hold",
                ));
            }
            Some(text) => Some(text.trim().to_string()),
        };
        let tasks = match &raw.tasks {
            None => None,
            Some(text) if text.trim().is_empty() || text.contains('\0') => {
                return Err(Error::usage(
                    "--tasks needs the checklist file, e.g. `--tasks PRD.md`",
                ));
            }
            Some(text) => Some(text.trim().to_string()),
        };
        let max_iterations_per_task = match &raw.max_iterations_per_task {
            None => 0,
            Some(text) => whole_number("--max-iterations-per-task", text, "(0 = no cap)")?,
        };
        let on_stuck_task = match raw.on_stuck_task.as_deref().map(str::trim) {
            None | Some("stop") => OnStuck::Stop,
            Some("skip") => OnStuck::Skip,
            Some(other) => {
                return Err(Error::usage(format!(
                    "--on-stuck-task is `stop` or `skip`, got {other:?}"
                )));
            }
        };
        let max_cost = match &raw.max_cost {
            None => None,
            Some(text) => Some(prices::parse_usd("--max-cost", text).map_err(Error::usage)?)
                .filter(|nanos| *nanos > 0),
        };
        let count_weighted = match raw.count.as_deref().map(str::trim) {
            None | Some("raw") => false,
            Some("weighted") => true,
            Some(other) => {
                return Err(Error::usage(format!(
                    "--count {other:?} is not a way to count: `--count raw` (every token, the default) or `--count weighted` (tokens weighted by their price relative to input)"
                )));
            }
        };
        let warn_at = match raw.warn_at.as_deref().map(str::trim) {
            None => DEFAULT_WARN_AT.to_vec(),
            Some("off" | "") => Vec::new(),
            Some(text) => parse_warn_at(text)?,
        };
        let wrap_up = match raw.wrap_up.as_deref().map(str::trim) {
            None | Some("off") => WrapUp::Off,
            Some("on") => WrapUp::Budgets,
            Some("all") => WrapUp::All,
            Some(other) => {
                return Err(Error::usage(format!(
                    "--wrap-up {other:?} is not one of `on` (time, token and money budgets), `all` (the iteration cap too) or `off`, e.g. `--wrap-up on`"
                )));
            }
        };
        Ok(LoopSettings {
            tasks,
            max_iterations_per_task,
            on_stuck_task,
            wrap_up,
            warn_at,
            count_weighted,
            max_cost,
            task: task.to_string(),
            max_iterations,
            uncapped: max_iterations == 0,
            completion_promise,
            completion_signal,
            magic_word,
            continue_signal,
            max_duration,
            no_progress,
            verify,
            verify_timeout,
            max_tokens,
            notify,
            sources: BTreeMap::new(),
        })
    }
}

/// Refuses a task that contains its own completion signal: the loop would end as soon
/// as the agent quotes its task. Shared by `start`, the prompt hook and `adopt`.
pub fn check_task_signal(task: &str, completion_signal: &str) -> Result<()> {
    if signal::mentions(task, completion_signal) {
        return Err(Error::usage(format!(
            "the task contains its own completion signal {completion_signal}, so the loop would end as soon as the agent quotes its task; pick a promise the task does not contain, e.g. `--completion-promise ALL_TESTS_PASS`, or reword the task"
        )));
    }
    Ok(())
}

/// `DONE` → `<promise>DONE</promise>`; a promise that already has a tag is the signal.
pub fn signal_for_promise(promise: &str) -> String {
    if promise.contains('<') {
        promise.to_string()
    } else {
        format!("<promise>{promise}</promise>")
    }
}

fn whole_number(flag: &str, text: &str, meaning: &str) -> Result<u32> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(Error::usage(format!(
            "{flag} cannot be below 0, got {trimmed:?}: give a whole number {meaning}"
        )));
    }
    trimmed.parse::<u32>().map_err(|_| {
        Error::usage(format!(
            "{flag} needs a whole number {meaning}, got {trimmed:?}"
        ))
    })
}

/// Parses a token budget as people write it: `500000`, `500_000`, `500k`, `2M`, `1.5M`
/// (`k` = thousand, `M` = million, `G` = billion, either case). 0 means no token budget.
pub fn parse_max_tokens(text: &str) -> Result<u64> {
    let trimmed = text.trim();
    let bad = |why: &str| {
        Error::usage(format!(
            "--max-tokens {trimmed:?} {why}: write a whole number of tokens, optionally with k, M or G, e.g. `--max-tokens 500k` or `--max-tokens 2M`"
        ))
    };
    if trimmed.starts_with('-') {
        return Err(bad("cannot be below 0"));
    }
    let (number, scale): (&str, u128) = match trimmed.char_indices().last() {
        Some((at, 'k' | 'K')) => (&trimmed[..at], 1_000),
        Some((at, 'm' | 'M')) => (&trimmed[..at], 1_000_000),
        Some((at, 'g' | 'G')) => (&trimmed[..at], 1_000_000_000),
        Some(_) => (trimmed, 1),
        None => return Err(bad("is empty")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| {
        !part.starts_with('_')
            && !part.ends_with('_')
            && !part.contains("__")
            && part.chars().all(|c| c.is_ascii_digit() || c == '_')
    };
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(bad("is not a token count"));
    }
    let parse = |part: &str| -> Option<u128> {
        part.chars()
            .filter(char::is_ascii_digit)
            .try_fold(0u128, |acc, c| {
                acc.checked_mul(10)?
                    .checked_add(u128::from(c.to_digit(10)?))
            })
    };
    let too_big = || bad("is too large");
    let whole = parse(whole).ok_or_else(too_big)?;
    let fraction_digits = fraction.chars().filter(char::is_ascii_digit).count();
    let fraction_value = parse(fraction).ok_or_else(too_big)?;
    let denominator = u32::try_from(fraction_digits)
        .ok()
        .and_then(|digits| 10u128.checked_pow(digits))
        .ok_or_else(too_big)?;
    let scaled_fraction = fraction_value.checked_mul(scale).ok_or_else(too_big)?;
    if scaled_fraction % denominator != 0 {
        return Err(bad("is not a whole number of tokens"));
    }
    let total = whole
        .checked_mul(scale)
        .and_then(|value| value.checked_add(scaled_fraction / denominator))
        .ok_or_else(too_big)?;
    u64::try_from(total).map_err(|_| too_big())
}

/// `50,80,100` → the percentages, ascending, each once.
fn parse_warn_at(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let part = part.trim().trim_end_matches('%');
        match part.parse::<u8>() {
            Ok(percent @ 1..=100) => out.push(percent),
            _ => {
                return Err(Error::usage(format!(
                    "--warn-at {text:?} needs percentages from 1 to 100, comma-separated, e.g. `--warn-at 50,80,100`, or `--warn-at off`"
                )));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_duration(text: &str) -> Result<Duration> {
    let trimmed = text.trim();
    let duration = humantime::parse_duration(trimmed).map_err(|err| {
        Error::usage(format!(
            "--max-duration {trimmed:?} is not a duration ({err}): write it like `90m`, `2h` or `1h30m`"
        ))
    })?;
    if duration.as_secs() == 0 {
        return Err(Error::usage(
            "--max-duration must be at least one second, e.g. `--max-duration 2h`",
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(edit: impl FnOnce(&mut RawLoopFlags)) -> RawLoopFlags {
        let mut raw = RawLoopFlags::default();
        edit(&mut raw);
        raw
    }

    #[test]
    fn defaults_match_the_bash_start_script() {
        let settings = LoopSettings::parse("fix it", &RawLoopFlags::default()).unwrap();
        assert_eq!(settings.max_iterations, 50);
        assert_eq!(settings.completion_signal, "<promise>DONE</promise>");
        assert_eq!(
            settings.continue_signal,
            "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>"
        );
        assert_eq!(settings.no_progress, 3);
        assert_eq!(settings.verify_timeout, Duration::from_secs(300));
        assert!(!settings.uncapped);
    }

    #[test]
    fn a_promise_with_a_tag_is_the_signal_as_is() {
        let raw = flags(|r| r.completion_promise = Some("<done>ok</done>".into()));
        let settings = LoopSettings::parse("t", &raw).unwrap();
        assert_eq!(settings.completion_signal, "<done>ok</done>");
    }

    #[test]
    fn durations_accept_the_forms_people_write() {
        for (text, secs) in [("90m", 5400), ("2h", 7200), ("1h30m", 5400)] {
            let raw = flags(|r| r.max_duration = Some(text.into()));
            let settings = LoopSettings::parse("t", &raw).unwrap();
            assert_eq!(
                settings.max_duration,
                Some(Duration::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn each_bad_flag_is_named_in_its_error() {
        let cases: [(RawLoopFlags, &str); 9] = [
            (
                flags(|r| r.max_iterations = Some("x".into())),
                "--max-iterations",
            ),
            (
                flags(|r| r.magic_word = Some("no spaces".into())),
                "--magic-word",
            ),
            (
                flags(|r| r.max_duration = Some("soon".into())),
                "--max-duration",
            ),
            (
                flags(|r| r.no_progress = Some("-1".into())),
                "--no-progress cannot be below 0",
            ),
            (flags(|r| r.verify = Some("  ".into())), "--verify is empty"),
            (
                flags(|r| r.verify_timeout = Some("9999".into())),
                "--verify-timeout",
            ),
            (
                flags(|r| r.completion_promise = Some(" ".into())),
                "--completion-promise",
            ),
            (
                flags(|r| r.completion_promise = Some("`a`".into())),
                "may not contain backticks",
            ),
            (
                flags(|r| r.completion_promise = Some("a\n```".into())),
                "may not contain backticks or line breaks",
            ),
        ];
        for (raw, expected) in cases {
            let err = LoopSettings::parse("t", &raw).unwrap_err();
            assert_eq!(err.code(), 64);
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn a_task_that_contains_its_own_completion_signal_is_refused_with_the_way_out() {
        for task in [
            "Fix it, then say <promise>DONE</promise>",
            "Example:\n```\n<promise> DONE </promise>\n```",
        ] {
            let err = LoopSettings::parse(task, &RawLoopFlags::default()).unwrap_err();
            assert_eq!(err.code(), 64);
            assert!(err.to_string().contains("--completion-promise"), "{err}");
        }
        let other = flags(|r| r.completion_promise = Some("SHIPPED".into()));
        assert!(LoopSettings::parse("say <promise>DONE</promise> later", &other).is_ok());
        assert!(LoopSettings::parse("we are DONE when green", &RawLoopFlags::default()).is_ok());
    }

    #[test]
    fn the_verify_timeout_takes_one_to_the_documented_maximum() {
        for (text, ok) in [("0", false), ("1", true), ("540", true), ("541", false)] {
            let raw = flags(|r| r.verify_timeout = Some(text.into()));
            let result = LoopSettings::parse("t", &raw);
            assert_eq!(result.is_ok(), ok, "--verify-timeout {text}");
            if ok {
                assert_eq!(
                    result.unwrap().verify_timeout,
                    Duration::from_secs(text.parse().unwrap())
                );
            }
        }
    }

    #[test]
    fn good_values_of_every_flag_land_in_the_settings() {
        let raw = RawLoopFlags {
            max_iterations: Some(" 0 ".into()),
            completion_promise: Some(" ALL DONE ".into()),
            magic_word: Some("Keep_going.v-2".into()),
            max_duration: Some("1h30m".into()),
            no_progress: Some("0".into()),
            verify: Some("  cargo test  ".into()),
            verify_timeout: Some("540".into()),
            max_tokens: Some("1.5M".into()),
            notify: Some("  notify-send done  ".into()),
            tasks: Some(" PRD.md ".into()),
            max_iterations_per_task: Some("4".into()),
            on_stuck_task: Some("skip".into()),
            max_cost: Some("$2.50".into()),
            count: Some("weighted".into()),
            warn_at: Some("80, 50%".into()),
            wrap_up: Some("all".into()),
        };
        let settings = LoopSettings::parse("fix it", &raw).unwrap();
        assert_eq!(
            settings,
            LoopSettings {
                task: "fix it".into(),
                max_iterations: 0,
                uncapped: true,
                completion_promise: "ALL DONE".into(),
                completion_signal: "<promise>ALL DONE</promise>".into(),
                magic_word: "Keep_going.v-2".into(),
                continue_signal: "<ralph-continue>Keep_going.v-2</ralph-continue>".into(),
                max_duration: Some(Duration::from_secs(5400)),
                no_progress: 0,
                verify: Some("cargo test".into()),
                verify_timeout: Duration::from_secs(540),
                max_tokens: Some(1_500_000),
                notify: Some("notify-send done".into()),
                tasks: Some("PRD.md".into()),
                max_iterations_per_task: 4,
                on_stuck_task: OnStuck::Skip,
                max_cost: Some(2_500_000_000),
                count_weighted: true,
                warn_at: vec![50, 80],
                wrap_up: WrapUp::All,
                sources: BTreeMap::new(),
            }
        );
    }

    #[test]
    fn a_zero_duration_and_an_empty_magic_word_are_refused() {
        for (raw, expected) in [
            (
                flags(|r| r.max_duration = Some("0s".into())),
                "--max-duration must be at least one second",
            ),
            (
                flags(|r| r.magic_word = Some(String::new())),
                "--magic-word",
            ),
        ] {
            let err = LoopSettings::parse("t", &raw).unwrap_err();
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn a_token_budget_of_zero_is_none_and_bad_budgets_and_notify_commands_are_refused() {
        let zero = flags(|r| r.max_tokens = Some("0".into()));
        assert_eq!(LoopSettings::parse("t", &zero).unwrap().max_tokens, None);
        let one = flags(|r| r.max_tokens = Some("1".into()));
        assert_eq!(LoopSettings::parse("t", &one).unwrap().max_tokens, Some(1));
        for (raw, expected) in [
            (
                flags(|r| r.max_tokens = Some("lots".into())),
                "--max-tokens",
            ),
            (
                flags(|r| r.max_tokens = Some("-5k".into())),
                "cannot be below 0",
            ),
            (flags(|r| r.notify = Some(" ".into())), "--notify is empty"),
            (flags(|r| r.notify = Some("a\0b".into())), "NUL"),
        ] {
            let err = LoopSettings::parse("t", &raw).unwrap_err();
            assert_eq!(err.code(), 64);
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn an_empty_task_is_refused() {
        let err = LoopSettings::parse(" \n ", &RawLoopFlags::default()).unwrap_err();
        assert!(err.to_string().contains("task is empty"));
    }
}
