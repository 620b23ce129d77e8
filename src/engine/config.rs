//! The user's own defaults for every loop flag, in `$XDG_CONFIG_HOME/ralph-hook/config.toml`
//! (`~/.config/ralph-hook/config.toml` when that is unset, on Linux and macOS alike;
//! `RALPH_HOOK_CONFIG` names another file, for tests). Flags given to a loop override the
//! file, and every value keeps where it came from, so `show` can say it.
//!
//! ```toml
//! max_iterations = 30
//! max_tokens = "2M"
//! max_duration = "2h"
//! notify = "notify-send ralph-hook \"$RALPH_OUTCOME: $RALPH_TASK\""
//! ```
//!
//! Prices for `--max-cost` are the one kind of section: `[prices."model-name"]` with
//! per-million-token prices in USD per kind (`input`, `cache_read`, `cache_write`,
//! `output`, `reasoning`), over ralph-hook's built-in table (`engine::prices`).
//!
//! ```toml
//! [prices."mock-model"]
//! input = 2.0
//! cache_read = 0.2
//! output = 8.0
//! ```
//!
//! There is no list of keys here: each key is a flag of the one flag table
//! ([`RawLoopFlags`]), named by its clap id, and its value is read as that flag's word
//! (`max_iterations = 30` as `--max-iterations=30`). Flags given to the loop are read
//! after the file's words, by the same table, so the later wins. Each value is checked
//! when the file is read, by the same rules as its flag, and a bad one is an error naming
//! the file, the line, the key and the fix. The file is the user's,
//! outside any workspace; it is read only if it is a regular file of at most 64 KiB (a
//! symbolic link to one is fine: dotfile managers make them).

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::did_you_mean::did_you_mean;
use crate::engine::prices::{self, PriceOverride, PriceSource, PriceTable};
use crate::engine::settings::{FlagKey, LoopSettings, RawLoopFlags, ValueKind};
use crate::error::{Error, Result};
use crate::regular_file::{self, Links};

/// Environment variable naming the config file instead of the standard place.
pub const CONFIG_ENV: &str = "RALPH_HOOK_CONFIG";

/// The largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Where a loop setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A flag of the command or of `$ralph-loop …`.
    Flag,
    /// The user's config file, at this line.
    Config {
        /// The file.
        path: PathBuf,
        /// Its line (from 1).
        line: usize,
    },
    /// ralph-hook's own default.
    BuiltIn,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Config { path, line } => write!(f, "{}:{line}", path.display()),
            Source::BuiltIn => f.write_str("default"),
        }
    }
}

/// A value as the flag would carry it (`"20"`, `"2h"`, `"500k"`), and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    /// The value, as text a flag would carry.
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// The user's defaults, each checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    /// The file they came from; `None` when there is none.
    path: Option<PathBuf>,
    /// Each value as flag text, with its key and line, in the flag table's order.
    values: Vec<(&'static FlagKey, String, usize)>,
    /// The `[prices."model"]` sections, checked: each model, what it sets, its line.
    prices: Vec<(String, PriceOverride, usize)>,
}

/// Why a config file someone else could have written is not obeyed: owned by another
/// user (root's is fine), or writable by group or others.
fn not_the_users(metadata: &std::fs::Metadata) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid only reads the process's own credentials.
        let me = unsafe { libc::geteuid() };
        if metadata.uid() != me && metadata.uid() != 0 {
            return Some(format!(
                "owned by uid {}, not by you (uid {me})",
                metadata.uid()
            ));
        }
        if metadata.mode() & 0o022 != 0 {
            return Some(format!(
                "writable by group or others (mode {:o})",
                metadata.mode() & 0o7777
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    None
}

/// Where the config file is: `$RALPH_HOOK_CONFIG`, else
/// `$XDG_CONFIG_HOME/ralph-hook/config.toml` (when that is an absolute path), else
/// `~/.config/ralph-hook/config.toml`. `None` without a home folder.
pub fn config_path() -> Option<PathBuf> {
    path_from(|name| std::env::var_os(name), dirs::home_dir())
}

fn path_from(var: impl Fn(&str) -> Option<OsString>, home: Option<PathBuf>) -> Option<PathBuf> {
    if let Some(file) = var(CONFIG_ENV).filter(|file| !file.is_empty()) {
        return Some(PathBuf::from(file));
    }
    let base = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| home.map(|home| home.join(".config")))?;
    Some(base.join("ralph-hook").join("config.toml"))
}

impl UserConfig {
    /// The user's defaults from [`config_path`]; no file (or no home) is no defaults.
    pub fn load() -> Result<UserConfig> {
        if let Some(file) = std::env::var_os(CONFIG_ENV).filter(|file| !file.is_empty())
            && !Path::new(&file).is_absolute()
        {
            // A hook runs in the workspace: a relative name would be the agent's file.
            return Err(Error::usage(format!(
                "{CONFIG_ENV}={} is a relative path, which a hook would read from the workspace it runs in; give it as an absolute path",
                Path::new(&file).display()
            )));
        }
        match config_path() {
            Some(path) => UserConfig::load_from(&path),
            None => Ok(UserConfig::default()),
        }
    }

    /// The defaults in the file at `path`; a missing file is no defaults.
    pub fn load_from(path: &Path) -> Result<UserConfig> {
        let (file, metadata) = match regular_file::open(path, Links::Follow) {
            Ok(opened) => opened,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(UserConfig::default());
            }
            Err(err) => {
                return Err(
                    Error::io("read the ralph-hook config", path, err).with_hint(
                        "make it a plain file you can read, or remove it to use the defaults",
                    ),
                );
            }
        };
        if let Some(why) = not_the_users(&metadata) {
            return Err(Error::input(
                path.display().to_string(),
                format!(
                    "the config file is {why}: another user could choose the commands your loops run; make it yours and writable by you only (chown, chmod 600), or remove it"
                ),
            ));
        }
        let too_big = || {
            Error::input(
                path.display().to_string(),
                format!(
                    "the config file is larger than {} KiB; it only holds a few defaults, e.g. `max_iterations = 20`",
                    MAX_CONFIG_BYTES / 1024
                ),
            )
        };
        if metadata.len() > MAX_CONFIG_BYTES {
            return Err(too_big());
        }
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| Error::io("read the ralph-hook config", path, err))?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(too_big());
        }
        let text = String::from_utf8(bytes).map_err(|err| {
            Error::input(
                path.display().to_string(),
                format!(
                    "the config file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
                    err.utf8_error().valid_up_to()
                ),
            )
        })?;
        UserConfig::parse(path, &text)
    }

    /// The defaults in `text`, the contents of the file at `path` (named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<UserConfig> {
        let document = toml_edit::Document::parse(text).map_err(|err| {
            Error::input(
                path.display().to_string(),
                format!("not valid TOML: {}", err.to_string().trim_end()),
            )
        })?;
        let mut values = Vec::new();
        let mut price_rows = Vec::new();
        for (name, item) in document.as_table() {
            let line = document
                .as_table()
                .key(name)
                .and_then(toml_edit::Key::span)
                .map_or(0, |span| line_of(text, span.start));
            let at = || format!("{}:{line}", path.display());
            if name == "prices" {
                price_rows = price_sections(path, text, item)?;
                continue;
            }
            let Some(key) = RawLoopFlags::key(name) else {
                return Err(Error::input(at(), unknown_key(name, item)));
            };
            let value = flag_text(key, item).map_err(|message| Error::input(at(), message))?;
            check(key, &value).map_err(|message| Error::input(at(), message))?;
            values.push((key, value, line));
        }
        values.sort_by_key(|(key, ..)| RawLoopFlags::KEYS.iter().position(|k| k == *key));
        let config = UserConfig {
            path: Some(path.to_path_buf()),
            values,
            prices: price_rows,
        };
        if let Err((source, message)) = PriceTable::with(&config.price_overrides()) {
            return Err(Error::input(source.to_string(), message));
        }
        Ok(config)
    }

    /// The user's price sections, with where each came from.
    fn price_overrides(&self) -> Vec<(String, PriceOverride, PriceSource)> {
        self.prices
            .iter()
            .map(|(model, set, line)| {
                (
                    model.clone(),
                    set.clone(),
                    PriceSource::Config {
                        path: self.path.clone().unwrap_or_default(),
                        line: *line,
                    },
                )
            })
            .collect()
    }

    /// The prices in force: ralph-hook's table with the file's `[prices."model"]`
    /// sections on top (checked when the file was read).
    pub fn prices(&self) -> PriceTable {
        PriceTable::with(&self.price_overrides()).unwrap_or_else(|_| PriceTable::built_in())
    }

    /// The file the defaults came from, when there was one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The default the file sets for the flag whose config key is `key`.
    pub fn get(&self, key: &str) -> Option<Sourced> {
        self.values()
            .find(|(k, _)| k.key == key)
            .map(|(_, sourced)| sourced)
    }

    /// Every default the file sets, in the flag table's order.
    pub fn values(&self) -> impl Iterator<Item = (&'static FlagKey, Sourced)> + '_ {
        self.values.iter().map(|(key, value, line)| {
            (
                *key,
                Sourced {
                    value: value.clone(),
                    source: Source::Config {
                        path: self.path.clone().unwrap_or_default(),
                        line: *line,
                    },
                },
            )
        })
    }

    /// The flags in force: the file's values as words of the flag table, then the flags
    /// given, read together by the table so that a flag given overrides the file; and
    /// where each flag of the table now comes from.
    pub fn apply(
        &self,
        flags: &RawLoopFlags,
    ) -> Result<(RawLoopFlags, Vec<(&'static str, Source)>)> {
        let given = flags.given();
        let words = self
            .values
            .iter()
            .map(|(key, value, _)| key.word(value))
            .chain(
                given
                    .iter()
                    .filter_map(|(key, value)| RawLoopFlags::key(key).map(|key| key.word(value))),
            );
        let raw = RawLoopFlags::from_words(words).map_err(Error::usage)?;
        let sources = RawLoopFlags::KEYS
            .iter()
            .map(|key| {
                let source = if given.iter().any(|(k, _)| *k == key.key) {
                    Source::Flag
                } else {
                    self.get(key.key)
                        .map_or(Source::BuiltIn, |sourced| sourced.source)
                };
                (key.key, source)
            })
            .collect();
        Ok((raw, sources))
    }

    /// The settings of a new loop: the user's flags, the file's defaults for the flags
    /// not given, ralph-hook's own for the rest, checked; each setting not at
    /// ralph-hook's default keeps where it came from, for `show`.
    pub fn settings(&self, task: &str, flags: &RawLoopFlags) -> Result<LoopSettings> {
        let (raw, sources) = self.apply(flags)?;
        let mut settings = LoopSettings::parse(task, &raw)?;
        settings.sources = sources
            .into_iter()
            .filter(|(_, source)| *source != Source::BuiltIn)
            .map(|(key, source)| (key.to_string(), source.to_string()))
            .collect();
        Ok(settings)
    }
}

/// The line (from 1) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The item as the text its flag would carry, when it has the key's type.
fn flag_text(key: &FlagKey, item: &toml_edit::Item) -> Result<String, String> {
    let value = item.as_value();
    let number = value.and_then(toml_edit::Value::as_integer);
    let text = value.and_then(toml_edit::Value::as_str);
    let found = match value {
        Some(toml_edit::Value::String(_)) => "a string",
        Some(toml_edit::Value::Integer(_)) => "a number",
        Some(toml_edit::Value::Float(_)) => "a decimal number",
        Some(toml_edit::Value::Boolean(_)) => "true or false",
        Some(toml_edit::Value::Datetime(_)) => "a date",
        Some(toml_edit::Value::Array(_)) => "a list",
        Some(toml_edit::Value::InlineTable(_)) | None => "a table",
    };
    let name = key.key;
    let example = key.example_line();
    if let (ValueKind::NumberOrText, Some(decimal)) =
        (key.kind, value.and_then(toml_edit::Value::as_float))
    {
        return Ok(decimal.to_string());
    }
    match (key.kind, number, text) {
        (ValueKind::Number | ValueKind::NumberOrText, Some(number), _) => Ok(number.to_string()),
        (ValueKind::Text | ValueKind::NumberOrText, _, Some(text)) => Ok(text.to_string()),
        (ValueKind::Number, _, _) => Err(format!(
            "`{name}` must be a whole number without quotes, found {found}; write it like `{example}`"
        )),
        (ValueKind::Text, _, _) => Err(format!(
            "`{name}` must be a quoted string, found {found}; write it like `{example}`"
        )),
        (ValueKind::NumberOrText, _, _) => Err(format!(
            "`{name}` must be a number or a string such as \"500k\", found {found}; write it like `{example}`"
        )),
    }
}

/// Checks `value` by the rules of its flag: read as the flag's word, alone, by the table.
fn check(key: &FlagKey, value: &str) -> Result<(), String> {
    let fix = |message: String| {
        format!(
            "`{}` is not valid: {message}\n  fix the value (e.g. `{}`) or delete the line to use the default",
            key.key,
            key.example_line()
        )
    };
    let raw = RawLoopFlags::from_words([key.word(value)]).map_err(fix)?;
    LoopSettings::parse("checking the config", &raw)
        .map(|_| ())
        .map_err(|err| fix(err.to_string()))
}

/// The `[prices."model"]` sections of the file: each a table of per-million-token prices
/// in USD by kind. Errors name the line, the model and the fix.
fn price_sections(
    path: &Path,
    text: &str,
    item: &toml_edit::Item,
) -> Result<Vec<(String, PriceOverride, usize)>> {
    let example = "[prices.\"gpt-5.5\"]\ninput = 5.0\ncache_read = 0.5\noutput = 30.0";
    let section_line = |model: &str| {
        text.lines()
            .position(|line| {
                let line = line.trim();
                line.starts_with("[prices.") && line.contains(model)
            })
            .map_or(0, |at| at + 1)
    };
    let Some(table) = item.as_table_like() else {
        return Err(Error::input(
            format!("{}:{}", path.display(), section_line("")),
            format!("`prices` must be sections of per-model prices, e.g.\n{example}"),
        ));
    };
    let mut rows = Vec::new();
    for (model, section) in table.iter() {
        let line = section_line(model);
        let at = || format!("{}:{line}", path.display());
        let model_text = render_model(model);
        let Some(section) = section.as_table_like() else {
            return Err(Error::input(
                at(),
                format!(
                    "`prices.{model_text}` must be a section of prices per kind, e.g.\n{example}"
                ),
            ));
        };
        if model.is_empty() || model.len() > 128 || model.chars().any(char::is_control) {
            return Err(Error::input(
                at(),
                format!("{model_text} is not a model name a host writes"),
            ));
        }
        let mut set = PriceOverride::default();
        for (kind, value) in section.iter() {
            let usd = value
                .as_value()
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)));
            let micros = usd.and_then(prices::micros_per_million);
            let known = PriceOverride::KEYS.contains(&kind);
            match (known, micros) {
                (true, Some(micros)) => {
                    set.set(kind, micros);
                }
                (true, None) => {
                    return Err(Error::input(
                        at(),
                        format!(
                            "`{kind}` of [prices.{model_text}] must be a number of US dollars per million tokens, at least 0, e.g. `{kind} = 1.25`"
                        ),
                    ));
                }
                (false, _) => {
                    let hint = did_you_mean(kind, PriceOverride::KEYS)
                        .map(|key| format!("did you mean `{key}`? "))
                        .unwrap_or_default();
                    return Err(Error::input(
                        at(),
                        format!(
                            "unknown price `{kind}` in [prices.{model_text}]: {hint}the kinds are {}",
                            PriceOverride::KEYS.join(", ")
                        ),
                    ));
                }
            }
        }
        rows.push((model.to_string(), set, line));
    }
    Ok(rows)
}

/// A model name as a TOML key, for messages: quoted.
fn render_model(model: &str) -> String {
    format!("{model:?}")
}

fn unknown_key(name: &str, item: &toml_edit::Item) -> String {
    let keys = || RawLoopFlags::KEYS.iter().map(|key| key.key);
    let known = keys().collect::<Vec<_>>().join(", ");
    if item.is_table() || item.is_array_of_tables() {
        return format!(
            "unknown section `[{name}]`: the config's only sections are `[prices.\"model\"]`; write the other keys at the top of the file ({known})"
        );
    }
    match did_you_mean(name, keys()) {
        Some(key) => format!("unknown key `{name}`: did you mean `{key}`? (known keys: {known})"),
        None => format!("unknown key `{name}`: the known keys are {known}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::settings::parse_max_tokens;
    use crate::error;

    fn parse(text: &str) -> Result<UserConfig> {
        UserConfig::parse(Path::new("/home/u/.config/ralph-hook/config.toml"), text)
    }

    #[track_caller]
    fn error(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert_eq!(err.code(), error::EXIT_DATA, "{err}");
        err.to_string()
    }

    #[test]
    fn the_keys_are_exactly_the_loop_flags_of_the_one_flag_table() {
        let command = RawLoopFlags::command();
        let flags: Vec<(String, String)> = command
            .get_arguments()
            .filter_map(|arg| {
                let long = arg.get_long()?;
                Some((arg.get_id().to_string(), format!("--{long}")))
            })
            .collect();
        let keys: Vec<(String, String)> = RawLoopFlags::KEYS
            .iter()
            .map(|key| (key.key.to_string(), key.flag()))
            .collect();
        assert_eq!(
            keys, flags,
            "a loop flag without a config key, or the other way"
        );
        for key in RawLoopFlags::KEYS {
            assert_eq!(key.key.replace('_', "-"), &key.flag()[2..], "{}", key.key);
        }
    }

    #[test]
    fn every_flag_can_have_a_default_with_its_line() {
        let config = parse(
            "# my defaults\nmax_iterations = 30\ncompletion_promise = \"ALL DONE\"\nmagic_word = \"GO\"\nmax_duration = \"1h30m\"\nno_progress = 0\nverify = \"cargo test\"\nverify_timeout = 120\nmax_tokens = \"2M\"\nnotify = \"notify-send done\"\n",
        )
        .unwrap();
        let expected = [
            ("max_iterations", "30", 2),
            ("completion_promise", "ALL DONE", 3),
            ("magic_word", "GO", 4),
            ("max_duration", "1h30m", 5),
            ("no_progress", "0", 6),
            ("verify", "cargo test", 7),
            ("verify_timeout", "120", 8),
            ("max_tokens", "2M", 9),
            ("notify", "notify-send done", 10),
        ];
        assert_eq!(
            config.values().map(|(key, _)| key.key).collect::<Vec<_>>(),
            expected.map(|(key, ..)| key),
            "in the table's order"
        );
        for (key, value, line) in expected {
            assert_eq!(
                config.get(key),
                Some(Sourced {
                    value: value.into(),
                    source: Source::Config {
                        path: "/home/u/.config/ralph-hook/config.toml".into(),
                        line
                    }
                }),
                "{key}"
            );
        }
    }

    #[test]
    fn flags_override_the_file_and_the_rest_keeps_its_source() {
        let config = parse("max_iterations = 30\nno_progress = 5\n").unwrap();
        let flags = RawLoopFlags {
            max_iterations: Some("7".into()),
            ..RawLoopFlags::default()
        };
        let (raw, sources) = config.apply(&flags).unwrap();
        assert_eq!(raw.max_iterations.as_deref(), Some("7"));
        assert_eq!(raw.no_progress.as_deref(), Some("5"));
        assert_eq!(raw.max_duration, None);
        let source = |key| {
            sources
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, s)| s.to_string())
        };
        assert_eq!(source("max_iterations").as_deref(), Some("flag"));
        assert_eq!(
            source("no_progress").as_deref(),
            Some("/home/u/.config/ralph-hook/config.toml:2")
        );
        assert_eq!(source("max_duration").as_deref(), Some("default"));
        let settings = LoopSettings::parse("task", &raw).unwrap();
        assert_eq!((settings.max_iterations, settings.no_progress), (7, 5));
        let tokens = RawLoopFlags {
            max_tokens: Some("500k".into()),
            ..RawLoopFlags::default()
        };
        let (raw, sources) = config.apply(&tokens).unwrap();
        assert_eq!(raw.max_tokens.as_deref(), Some("500k"));
        assert!(sources.contains(&("max_tokens", Source::Flag)));
        let (raw, sources) = config.apply(&RawLoopFlags::default()).unwrap();
        assert_eq!(raw.max_tokens, None);
        assert!(sources.contains(&("max_tokens", Source::BuiltIn)));
    }

    #[test]
    fn settings_take_every_key_from_the_file_and_keep_only_sources_that_are_not_defaults() {
        let config = parse("max_tokens = 500_000\nnotify = \"notify-send done\"\n").unwrap();
        let raw = RawLoopFlags {
            verify: Some("make test".into()),
            ..RawLoopFlags::default()
        };
        let settings = config.settings("task", &raw).unwrap();
        assert_eq!(settings.max_tokens, Some(500_000));
        assert_eq!(settings.notify.as_deref(), Some("notify-send done"));
        assert_eq!(settings.verify.as_deref(), Some("make test"));
        let sources: Vec<(&str, &str)> = settings
            .sources
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            sources,
            [
                ("max_tokens", "/home/u/.config/ralph-hook/config.toml:1"),
                ("notify", "/home/u/.config/ralph-hook/config.toml:2"),
                ("verify", "flag"),
            ]
        );
    }

    #[test]
    fn price_sections_add_and_override_models_with_their_lines() {
        let config = parse(
            "max_cost = 2.5\n\n[prices.\"mock-model\"]\ninput = 2\ncache_read = 0.2\noutput = 8.0\n\n[prices.\"claude-sonnet-4-5\"]\ncache_read = 0.15\n",
        )
        .unwrap();
        assert_eq!(config.get("max_cost").unwrap().value, "2.5");
        let prices = config.prices();
        let mock = prices.find("mock-model").unwrap();
        assert_eq!(
            (mock.price.input, mock.price.cache_read, mock.price.output),
            (2_000_000, 200_000, 8_000_000)
        );
        assert_eq!(
            mock.source.to_string(),
            "/home/u/.config/ralph-hook/config.toml:3"
        );
        let sonnet = prices.find("claude-sonnet-4-5").unwrap();
        assert_eq!(sonnet.price.cache_read, 150_000);
        assert_eq!(sonnet.price.input, 3_000_000);
        assert_eq!(
            sonnet.source.to_string(),
            "/home/u/.config/ralph-hook/config.toml:8"
        );
        for (text, expected) in [
            (
                "[prices.\"x\"]\ninput = 1\n",
                "needs both `input` and `output`",
            ),
            ("[prices.\"x\"]\ninput = -1\noutput = 1\n", "at least 0"),
            ("[prices.\"x\"]\ninptu = 1\n", "did you mean `input`?"),
            (
                "[prices.\"x\"]\ninput = \"cheap\"\n",
                "US dollars per million",
            ),
            ("prices = 3\n", "sections of per-model prices"),
            ("[limits]\nx = 1\n", "only sections are `[prices."),
        ] {
            let text = error(text);
            assert!(text.contains(expected), "{text} lacks {expected}");
        }
    }

    #[test]
    fn a_bad_value_names_the_file_line_key_and_fix() {
        let text = error("max_iterations = 3\nmax_duration = \"soon\"\n");
        assert!(
            text.starts_with(
                "/home/u/.config/ralph-hook/config.toml:2: `max_duration` is not valid"
            ),
            "{text}"
        );
        assert!(text.contains("max_duration = \"2h\""), "{text}");
        assert!(text.contains("delete the line"), "{text}");
        for (line, expected) in [
            ("max_iterations = -1", "cannot be below 0"),
            (
                "max_iterations = 99999999999",
                "--max-iterations needs a whole number",
            ),
            (
                "no_progress = \"3\"",
                "must be a whole number without quotes, found a string",
            ),
            ("verify_timeout = 9999", "between 1 and 540"),
            ("verify_timeout = 1.5", "found a decimal number"),
            ("magic_word = \"two words\"", "may only use letters"),
            ("completion_promise = \"`x`\"", "may not contain backticks"),
            ("verify = \"  \"", "--verify is empty"),
            (
                "verify = true",
                "must be a quoted string, found true or false",
            ),
            ("max_tokens = \"lots\"", "is not a token count"),
            (
                "max_tokens = [1]",
                "must be a number or a string such as \"500k\", found a list",
            ),
            ("notify = \"\"", "--notify is empty"),
            ("notify = \"a\\u0000b\"", "NUL"),
            (
                "max_duration = 7200",
                "must be a quoted string, found a number",
            ),
        ] {
            let text = error(line);
            assert!(text.contains(":1: `"), "{line}: {text}");
            assert!(text.contains(expected), "{line}: {text}");
        }
    }

    #[test]
    fn an_unknown_key_is_refused_with_a_suggestion() {
        let text = error("\n\nmax-iterations = 3\n");
        assert!(
            text.contains("config.toml:3: unknown key `max-iterations`"),
            "{text}"
        );
        assert!(text.contains("did you mean `max_iterations`"), "{text}");
        assert!(error("max_iteration = 3").contains("did you mean `max_iterations`"));
        assert!(error("colour = \"red\"").contains("the known keys are max_iterations"));
        assert!(error("[loop]\nmax_iterations = 3\n").contains("unknown section `[loop]`"));
    }

    #[test]
    fn a_value_that_looks_like_a_flag_is_a_value_and_sets_no_other_flag() {
        let config = parse(
            "magic_word = \"-x\"\nverify = \"--version\"\nnotify = \"--max-iterations=3 --no-progress 0\"\n",
        )
        .unwrap();
        let settings = config.settings("task", &RawLoopFlags::default()).unwrap();
        assert_eq!(settings.magic_word, "-x");
        assert_eq!(settings.verify.as_deref(), Some("--version"));
        assert_eq!(
            settings.notify.as_deref(),
            Some("--max-iterations=3 --no-progress 0")
        );
        assert_eq!(settings.max_iterations, 50);
        assert_eq!(settings.no_progress, 3);
        assert!(!settings.sources.contains_key("max_iterations"));
    }

    #[test]
    fn broken_toml_is_an_error_that_names_the_file_and_line() {
        let text = error("max_iterations = 3\nmax_tokens = \n");
        assert!(
            text.starts_with("/home/u/.config/ralph-hook/config.toml: not valid TOML"),
            "{text}"
        );
        assert!(text.contains("line 2"), "{text}");
        assert!(error("a = 1\na = 2\n").contains("not valid TOML"));
    }

    #[test]
    fn an_empty_or_missing_file_has_no_defaults() {
        assert_eq!(parse("").unwrap().get("max_iterations"), None);
        let dir = tempfile::tempdir().unwrap();
        let config = UserConfig::load_from(&dir.path().join("config.toml")).unwrap();
        assert_eq!(config, UserConfig::default());
        assert_eq!(config.path(), None);
    }

    #[test]
    fn a_file_on_disk_is_read_and_a_linked_one_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "max_tokens = 500000\n").unwrap();
        let config = UserConfig::load_from(&path).unwrap();
        assert_eq!(config.get("max_tokens").unwrap().value, "500000");
        assert_eq!(config.path(), Some(path.as_path()));
        #[cfg(unix)]
        {
            let link = dir.path().join("linked.toml");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            assert!(UserConfig::load_from(&link).is_ok());
        }
    }

    #[test]
    fn a_huge_or_binary_or_special_file_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.toml");
        std::fs::write(&huge, format!("# {}\n", "x".repeat(100_000))).unwrap();
        let err = UserConfig::load_from(&huge).unwrap_err().to_string();
        assert!(err.contains("larger than 64 KiB"), "{err}");
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, b"max_iterations = 3\n\xff\xfe").unwrap();
        let err = UserConfig::load_from(&binary).unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
        let err = UserConfig::load_from(dir.path()).unwrap_err().to_string();
        assert!(err.contains("directory"), "{err}");
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo.toml");
            let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
            assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
            let err = UserConfig::load_from(&fifo).unwrap_err().to_string();
            assert!(err.contains("FIFO"), "{err}");
            let err = UserConfig::load_from(Path::new("/dev/zero"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("device"), "{err}");
        }
    }

    #[test]
    fn the_path_follows_the_override_then_xdg_then_home() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            path_from(
                vars(&[(CONFIG_ENV, "/t/c.toml"), ("XDG_CONFIG_HOME", "/x")]),
                home.clone()
            ),
            Some(PathBuf::from("/t/c.toml"))
        );
        assert_eq!(
            path_from(
                vars(&[(CONFIG_ENV, ""), ("XDG_CONFIG_HOME", "/x")]),
                home.clone()
            ),
            Some(PathBuf::from("/x/ralph-hook/config.toml"))
        );
        assert_eq!(
            path_from(vars(&[("XDG_CONFIG_HOME", "relative")]), home.clone()),
            Some(PathBuf::from("/home/u/.config/ralph-hook/config.toml"))
        );
        assert_eq!(
            path_from(vars(&[]), home),
            Some(PathBuf::from("/home/u/.config/ralph-hook/config.toml"))
        );
        assert_eq!(path_from(vars(&[]), None), None);
    }

    #[test]
    fn token_budgets_read_as_people_write_them() {
        for (text, tokens) in [
            ("0", 0),
            ("500000", 500_000),
            ("500_000", 500_000),
            (" 500k ", 500_000),
            ("500K", 500_000),
            ("2M", 2_000_000),
            ("2m", 2_000_000),
            ("1.5M", 1_500_000),
            ("0.25k", 250),
            ("1G", 1_000_000_000),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse_max_tokens(text).unwrap(), tokens, "{text}");
        }
    }

    #[test]
    fn a_bad_token_budget_says_how_to_write_one() {
        for (text, why) in [
            ("", "is empty"),
            ("-5", "cannot be below 0"),
            ("lots", "is not a token count"),
            ("5 k", "is not a token count"),
            ("k", "is not a token count"),
            (".5k", "is not a token count"),
            ("1.2.3k", "is not a token count"),
            ("_5", "is not a token count"),
            ("1.5", "is not a whole number of tokens"),
            ("1.0001k", "is not a whole number of tokens"),
            ("2MB", "is not a token count"),
            ("18446744073709551616", "is too large"),
            ("99999999999999999999G", "is too large"),
            (
                "1.99999999999999999999999999999999999999999M",
                "is too large",
            ),
        ] {
            let err = parse_max_tokens(text).unwrap_err();
            assert_eq!(err.code(), error::EXIT_USAGE);
            let message = err.to_string();
            assert!(message.contains(why), "{text:?}: {message}");
            assert!(message.contains("--max-tokens 500k"), "{message}");
        }
    }

    #[test]
    fn every_key_has_a_valid_example() {
        for key in RawLoopFlags::KEYS {
            let line = key.example_line();
            let config = parse(&line).unwrap_or_else(|err| panic!("{line}: {err}"));
            assert!(config.get(key.key).is_some(), "{line}");
            assert!(key.flag().starts_with("--"));
        }
    }
}
