//! What a model's tokens cost, for `--max-cost`: a small built-in table of the current
//! OpenAI and Anthropic models, each row with the page it was read from and the day, and
//! the user's `[prices."model"]` sections of the config file on top (they add a model or
//! override some of a built-in row's prices). `ralph-hook config prices` prints the table
//! in force and where each row came from.
//!
//! Prices are per million tokens in USD, by kind: fresh input, cache reads (OpenAI's
//! "cached input", Anthropic's "cache hits"), cache writes (Anthropic's 5-minute write
//! price; OpenAI does not charge for them), output, and reasoning (billed as output by
//! both providers, so it defaults to the output price). Kept as whole micro-dollars per
//! million tokens, which is picodollars per token, so sums stay exact integers.
//!
//! A model is found by its exact name, else by the longest table name it starts with
//! followed by `-`, `[` or `@` (`claude-sonnet-4-5-20250929` and `claude-opus-5-5[1m]`
//! find `claude-sonnet-4-5` and `claude-opus-5-5`). A model with no row has no price:
//! its responses are never counted as free.

use std::fmt;
use std::path::PathBuf;

use crate::engine::usage::{Spent, Tokens};

/// Picodollars (1e-12 USD) per nanodollar, the unit the loop's spend is kept in.
const PICO_PER_NANO: u128 = 1_000;

/// One model's prices, in micro-dollars per million tokens (= picodollars per token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Fresh input (neither read from nor written to a prompt cache).
    pub input: u64,
    /// Input read from the prompt cache.
    pub cache_read: u64,
    /// Input written to the prompt cache.
    pub cache_write: u64,
    /// Output, reasoning included unless `reasoning` prices it apart.
    pub output: u64,
    /// Reasoning output (both providers bill it as output).
    pub reasoning: u64,
}

impl Price {
    /// The cost of `tokens` in picodollars (saturating).
    pub fn picodollars(&self, tokens: &Tokens) -> u128 {
        let plain_output = tokens.output.saturating_sub(tokens.reasoning);
        let reasoning = tokens.reasoning.min(tokens.output);
        [
            (tokens.input, self.input),
            (tokens.cache_read, self.cache_read),
            (tokens.cache_write, self.cache_write),
            (plain_output, self.output),
            (reasoning, self.reasoning),
        ]
        .into_iter()
        .map(|(count, price)| u128::from(count) * u128::from(price))
        .fold(0u128, u128::saturating_add)
    }

    /// `tokens` weighted by their price relative to fresh input (`--count weighted`): a
    /// cache read at a tenth of the input price counts a tenth of a token.
    pub fn weighted(&self, tokens: &Tokens) -> u64 {
        if self.input == 0 {
            return tokens.total();
        }
        u64::try_from(self.picodollars(tokens) / u128::from(self.input)).unwrap_or(u64::MAX)
    }
}

/// Where a row of the table came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceSource {
    /// ralph-hook's own table: the provider's page and the day it was read.
    BuiltIn {
        /// The provider's price list.
        url: &'static str,
        /// When it was read (YYYY-MM-DD).
        read: &'static str,
    },
    /// The user's config file, at this line.
    Config {
        /// The file.
        path: PathBuf,
        /// Its line (from 1).
        line: usize,
    },
}

impl fmt::Display for PriceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceSource::BuiltIn { url, read } => write!(f, "built in: {url}, read {read}"),
            PriceSource::Config { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

/// One model's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    /// The model's name as the host writes it.
    pub model: String,
    /// Its prices.
    pub price: Price,
    /// Where they came from.
    pub source: PriceSource,
}

/// The prices a user's `[prices."model"]` section sets, each per million tokens in
/// micro-dollars; unset kinds keep the built-in row's price (or, for a model the table
/// lacks, default as [`PriceOverride::complete`] says).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOverride {
    /// `input`.
    pub input: Option<u64>,
    /// `cache_read`.
    pub cache_read: Option<u64>,
    /// `cache_write`.
    pub cache_write: Option<u64>,
    /// `output`.
    pub output: Option<u64>,
    /// `reasoning`.
    pub reasoning: Option<u64>,
}

impl PriceOverride {
    /// The keys a `[prices."model"]` section may have.
    pub const KEYS: [&'static str; 5] =
        ["input", "cache_read", "cache_write", "output", "reasoning"];

    /// Sets the price of `key` (one of [`PriceOverride::KEYS`]); false for another key.
    pub fn set(&mut self, key: &str, micros: u64) -> bool {
        let slot = match key {
            "input" => &mut self.input,
            "cache_read" => &mut self.cache_read,
            "cache_write" => &mut self.cache_write,
            "output" => &mut self.output,
            "reasoning" => &mut self.reasoning,
            _ => return false,
        };
        *slot = Some(micros);
        true
    }

    /// These prices over `base`.
    fn over(&self, base: Price) -> Price {
        Price {
            input: self.input.unwrap_or(base.input),
            cache_read: self.cache_read.unwrap_or(base.cache_read),
            cache_write: self.cache_write.unwrap_or(base.cache_write),
            output: self.output.unwrap_or(base.output),
            reasoning: self.reasoning.or(self.output).unwrap_or(base.reasoning),
        }
    }

    /// The prices of a model the built-in table lacks: `input` and `output` are needed;
    /// cache reads and writes default to the input price (never cheaper than the user
    /// said), reasoning to the output price. `None` when `input` or `output` is missing.
    pub fn complete(&self) -> Option<Price> {
        let (input, output) = (self.input?, self.output?);
        Some(Price {
            input,
            cache_read: self.cache_read.unwrap_or(input),
            cache_write: self.cache_write.unwrap_or(input),
            output,
            reasoning: self.reasoning.unwrap_or(output),
        })
    }
}

/// Anthropic's price list.
const ANTHROPIC: &str = "https://platform.claude.com/docs/en/about-claude/pricing";
/// OpenAI's price list.
const OPENAI: &str = "https://developers.openai.com/api/docs/pricing";
/// When the built-in rows were read.
const READ: &str = "2026-12-02";

/// Dollars per million tokens as micro-dollars per million tokens, for the table below.
const fn usd(dollars: u64, hundredths: u64) -> u64 {
    dollars * 1_000_000 + hundredths * 10_000
}

/// A row of the built-in table: (model, input, cache read, cache write, output, page).
type BuiltIn = (&'static str, u64, u64, u64, u64, &'static str);

/// The built-in table (USD per million tokens, standard tier, 5-minute cache writes).
const BUILT_IN: &[BuiltIn] = &[
    // Anthropic (platform.claude.com pricing and model pages).
    (
        "claude-opus-5-5",
        usd(4, 0),
        usd(0, 20),
        usd(5, 0),
        usd(20, 0),
        ANTHROPIC,
    ),
    (
        "claude-opus-5",
        usd(5, 0),
        usd(0, 50),
        6_250_000,
        usd(25, 0),
        ANTHROPIC,
    ),
    (
        "claude-opus-4-8",
        usd(5, 0),
        usd(0, 50),
        6_250_000,
        usd(25, 0),
        ANTHROPIC,
    ),
    (
        "claude-opus-4-7",
        usd(5, 0),
        usd(0, 50),
        6_250_000,
        usd(25, 0),
        ANTHROPIC,
    ),
    (
        "claude-opus-4-6",
        usd(5, 0),
        usd(0, 50),
        6_250_000,
        usd(25, 0),
        ANTHROPIC,
    ),
    (
        "claude-opus-4-5",
        usd(5, 0),
        usd(0, 50),
        6_250_000,
        usd(25, 0),
        ANTHROPIC,
    ),
    (
        "claude-opus-4-1",
        usd(15, 0),
        usd(1, 50),
        usd(18, 75),
        usd(75, 0),
        ANTHROPIC,
    ),
    (
        "claude-sonnet-5-5",
        usd(2, 0),
        usd(0, 20),
        usd(2, 50),
        usd(10, 0),
        ANTHROPIC,
    ),
    (
        "claude-sonnet-5",
        usd(2, 0),
        usd(0, 20),
        usd(2, 50),
        usd(10, 0),
        ANTHROPIC,
    ),
    (
        "claude-sonnet-4-6",
        usd(3, 0),
        usd(0, 30),
        usd(3, 75),
        usd(15, 0),
        ANTHROPIC,
    ),
    (
        "claude-sonnet-4-5",
        usd(3, 0),
        usd(0, 30),
        usd(3, 75),
        usd(15, 0),
        ANTHROPIC,
    ),
    (
        "claude-sonnet-4",
        usd(3, 0),
        usd(0, 30),
        usd(3, 75),
        usd(15, 0),
        ANTHROPIC,
    ),
    (
        "claude-haiku-4-5",
        usd(1, 0),
        usd(0, 10),
        usd(1, 25),
        usd(5, 0),
        ANTHROPIC,
    ),
    // OpenAI (developers.openai.com pricing and model pages); no cache-write charge.
    ("gpt-5.5", usd(5, 0), usd(0, 50), 0, usd(30, 0), OPENAI),
    ("gpt-5.4", usd(2, 50), usd(0, 25), 0, usd(15, 0), OPENAI),
    ("gpt-5.4-mini", usd(0, 75), 75_000, 0, usd(4, 50), OPENAI),
    ("gpt-5.3-codex", usd(1, 75), 175_000, 0, usd(14, 0), OPENAI),
    ("gpt-5.2", usd(1, 75), 175_000, 0, usd(14, 0), OPENAI),
    ("gpt-5-codex", usd(1, 25), 125_000, 0, usd(10, 0), OPENAI),
    ("gpt-5", usd(1, 25), 125_000, 0, usd(10, 0), OPENAI),
    ("gpt-5-mini", usd(0, 25), 25_000, 0, usd(2, 0), OPENAI),
];

/// The prices in force: the built-in rows, then the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    rows: Vec<PriceRow>,
}

/// Why a response could not be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpriced {
    /// The transcript did not say which model answered.
    NoModel,
    /// The model has no row in the table.
    Model(String),
}

impl fmt::Display for Unpriced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unpriced::NoModel => f.write_str(
                "the transcript does not say which model answered, so its tokens have no price",
            ),
            Unpriced::Model(model) => write!(
                f,
                "the model {model:?} has no price in ralph-hook's table; add it to your config file as `[prices.\"{model}\"]` with `input = …` and `output = …` (USD per million tokens); `ralph-hook config prices` shows the table"
            ),
        }
    }
}

impl PriceTable {
    /// ralph-hook's own table.
    pub fn built_in() -> Self {
        let rows = BUILT_IN
            .iter()
            .map(
                |&(model, input, cache_read, cache_write, output, url)| PriceRow {
                    model: model.to_string(),
                    price: Price {
                        input,
                        cache_read,
                        cache_write,
                        output,
                        reasoning: output,
                    },
                    source: PriceSource::BuiltIn { url, read: READ },
                },
            )
            .collect();
        PriceTable { rows }
    }

    /// The built-in table with the user's sections on top: (model, prices set, where).
    /// A section for a model the table lacks must set `input` and `output`; the error
    /// names the section.
    pub fn with(
        overrides: &[(String, PriceOverride, PriceSource)],
    ) -> Result<Self, (PriceSource, String)> {
        let mut table = PriceTable::built_in();
        for (model, set, source) in overrides {
            match table.rows.iter_mut().find(|row| row.model == *model) {
                Some(row) => {
                    row.price = set.over(row.price);
                    row.source = source.clone();
                }
                None => {
                    let price = set.complete().ok_or_else(|| {
                        (
                            source.clone(),
                            format!(
                                "[prices.\"{model}\"] is a model ralph-hook has no price for, so it needs both `input` and `output` (USD per million tokens), e.g. `input = 1.25` and `output = 10`"
                            ),
                        )
                    })?;
                    table.rows.push(PriceRow {
                        model: model.clone(),
                        price,
                        source: source.clone(),
                    });
                }
            }
        }
        Ok(table)
    }

    /// Every row, built-in first, then the user's new models.
    pub fn rows(&self) -> &[PriceRow] {
        &self.rows
    }

    /// The row for `model`: its own, else the longest row name it starts with followed
    /// by `-`, `[` or `@` (a dated or context-size variant).
    pub fn find(&self, model: &str) -> Option<&PriceRow> {
        if let Some(row) = self.rows.iter().find(|row| row.model == model) {
            return Some(row);
        }
        self.rows
            .iter()
            .filter(|row| {
                model
                    .strip_prefix(row.model.as_str())
                    .is_some_and(|rest| rest.starts_with(['-', '[', '@']))
            })
            .max_by_key(|row| row.model.len())
    }

    /// What `spent` cost, in nanodollars (rounded up, so many small responses never sum
    /// to less than they cost). Spend without tokens needs no price.
    pub fn cost(&self, spent: &[Spent]) -> Result<u64, Unpriced> {
        let mut pico = 0u128;
        for part in spent.iter().filter(|part| part.tokens.total() > 0) {
            let model = part.model.as_deref().ok_or(Unpriced::NoModel)?;
            let row = self
                .find(model)
                .ok_or_else(|| Unpriced::Model(model.to_string()))?;
            pico = pico.saturating_add(row.price.picodollars(&part.tokens));
        }
        Ok(u64::try_from(pico.div_ceil(PICO_PER_NANO)).unwrap_or(u64::MAX))
    }

    /// `spent` weighted by price relative to each model's input price; a model without
    /// a price counts its raw tokens.
    pub fn weighted(&self, spent: &[Spent]) -> u64 {
        spent
            .iter()
            .map(|part| {
                part.model
                    .as_deref()
                    .and_then(|model| self.find(model))
                    .map_or(part.tokens.total(), |row| row.price.weighted(&part.tokens))
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// Nanodollars as people read money: `$12.34` from a dollar up and for whole cents,
/// `$0.0123` under a dollar otherwise (four decimals, rounded up, so a spend is never
/// shown as nothing).
pub fn money(nanos: u64) -> String {
    let dollars = nanos / 1_000_000_000;
    let rest = nanos % 1_000_000_000;
    if dollars > 0 || rest.is_multiple_of(10_000_000) {
        let cents = (rest + 5_000_000) / 10_000_000;
        let (dollars, cents) = if cents == 100 {
            (dollars + 1, 0)
        } else {
            (dollars, cents)
        };
        return format!("${dollars}.{cents:02}");
    }
    let tenth_millis = rest.div_ceil(100_000);
    if tenth_millis < 10_000 {
        format!("${}.{tenth_millis:04}", 0)
    } else {
        "$1.00".to_string()
    }
}

/// Nanodollars as an exact decimal amount of USD, for scripts: `0.012345`, `5`.
pub fn usd_decimal(nanos: u64) -> String {
    let whole = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    if fraction == 0 {
        return whole.to_string();
    }
    format!("{whole}.{fraction:09}")
        .trim_end_matches('0')
        .to_string()
}

/// Parses a money budget as people write it: `5`, `5.50`, `$5`, `0.25` (USD). 0 means
/// no money budget. The error says how to write it.
pub fn parse_usd(flag: &str, text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let bad = |why: &str| {
        format!("{flag} {trimmed:?} {why}: write US dollars, e.g. `{flag} 5` or `{flag} 2.50`")
    };
    let number = trimmed.strip_prefix('$').unwrap_or(trimmed).trim();
    if number.starts_with('-') {
        return Err(bad("cannot be below 0"));
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad("is not an amount"));
    }
    if fraction.len() > 9 {
        return Err(bad("has more decimals than a nanodollar"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad("is too large"))?
    };
    let padded = format!("{fraction:0<9}");
    let fraction: u64 = padded.parse().map_err(|_| bad("is not an amount"))?;
    whole
        .checked_mul(1_000_000_000)
        .and_then(|nanos| nanos.checked_add(fraction))
        .ok_or_else(|| bad("is too large"))
}

/// A per-million price from the config file (a TOML number, USD per million tokens) in
/// micro-dollars per million tokens; `None` for a negative, non-finite or absurd one.
pub fn micros_per_million(usd: f64) -> Option<u64> {
    (usd.is_finite() && (0.0..=1_000_000.0).contains(&usd))
        .then(|| (usd * 1_000_000.0).round() as u64)
}

/// A per-million price in micro-dollars as USD text: `0.3`, `15`, `6.25`.
pub fn per_million(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let text = format!("{whole}.{fraction:06}");
    text.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent(model: &str, tokens: Tokens) -> Spent {
        Spent {
            model: Some(model.to_string()),
            tokens,
        }
    }

    #[test]
    fn a_response_costs_each_kind_at_its_price() {
        let table = PriceTable::built_in();
        // Sonnet 4.5: $3 input, $0.30 cache read, $3.75 cache write, $15 output.
        let tokens = Tokens {
            input: 900,
            cache_read: 300,
            cache_write: 200,
            output: 100,
            reasoning: 0,
        };
        // 900×3 + 300×0.3 + 200×3.75 + 100×15 = 2700 + 90 + 750 + 1500 = 5040 µ$ per M
        // tokens → 5040e-6 $ … per token: 5040 pico × 1e6 / 1e6 = $0.00504.
        assert_eq!(
            table.cost(&[spent("claude-sonnet-4-5", tokens)]),
            Ok(5_040_000)
        );
        assert_eq!(money(5_040_000), "$0.0051");
        // A cache read costs a tenth of fresh input.
        let read = Tokens {
            cache_read: 1_000_000,
            ..Tokens::default()
        };
        assert_eq!(
            table.cost(&[spent("claude-sonnet-4-5", read)]),
            Ok(300_000_000)
        );
    }

    #[test]
    fn reasoning_is_output_unless_priced_apart() {
        let table = PriceTable::built_in();
        let tokens = Tokens {
            output: 1_000,
            reasoning: 400,
            ..Tokens::default()
        };
        assert_eq!(table.cost(&[spent("gpt-5", tokens)]), Ok(10_000_000));
        let mut cheaper = PriceOverride::default();
        cheaper.set("reasoning", 0);
        let table = PriceTable::with(&[(
            "gpt-5".into(),
            cheaper,
            PriceSource::Config {
                path: "/c".into(),
                line: 3,
            },
        )])
        .unwrap();
        assert_eq!(table.cost(&[spent("gpt-5", tokens)]), Ok(6_000_000));
    }

    #[test]
    fn models_are_found_by_name_or_by_a_variant_of_it() {
        let table = PriceTable::built_in();
        let name = |model: &str| table.find(model).map(|row| row.model.clone());
        assert_eq!(
            name("claude-sonnet-4-5-20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            name("claude-opus-5-5[1m]").as_deref(),
            Some("claude-opus-5-5")
        );
        assert_eq!(name("claude-opus-5").as_deref(), Some("claude-opus-5"));
        assert_eq!(name("gpt-5.4-mini").as_deref(), Some("gpt-5.4-mini"));
        assert_eq!(name("gpt-5-mini-2026-01-01").as_deref(), Some("gpt-5-mini"));
        assert_eq!(name("gpt-5x"), None);
        assert_eq!(name("mock-model"), None);
    }

    #[test]
    fn an_unknown_model_is_never_free() {
        let table = PriceTable::built_in();
        let tokens = Tokens {
            input: 1,
            ..Tokens::default()
        };
        assert_eq!(
            table.cost(&[spent("mock-model", tokens)]),
            Err(Unpriced::Model("mock-model".into()))
        );
        let anonymous = Spent {
            model: None,
            tokens,
        };
        assert_eq!(table.cost(&[anonymous]), Err(Unpriced::NoModel));
        // Nothing spent needs no price (Claude Code's `<synthetic>` lines).
        assert_eq!(
            table.cost(&[spent("<synthetic>", Tokens::default())]),
            Ok(0)
        );
    }

    #[test]
    fn the_users_rows_add_and_override() {
        let source = PriceSource::Config {
            path: "/home/u/config.toml".into(),
            line: 7,
        };
        let mut mock = PriceOverride::default();
        mock.set("input", 2_000_000);
        mock.set("output", 8_000_000);
        let mut half = PriceOverride::default();
        half.set("cache_read", 150_000);
        let table = PriceTable::with(&[
            ("mock-model".into(), mock, source.clone()),
            ("claude-sonnet-4-5".into(), half, source.clone()),
        ])
        .unwrap();
        let mock = table.find("mock-model").unwrap();
        assert_eq!(mock.price.cache_read, 2_000_000, "defaults to input");
        assert_eq!(mock.price.reasoning, 8_000_000);
        let sonnet = table.find("claude-sonnet-4-5").unwrap();
        assert_eq!(sonnet.price.cache_read, 150_000);
        assert_eq!(sonnet.price.input, 3_000_000, "the rest stays");
        assert_eq!(sonnet.source, source);
        let mut half_only = PriceOverride::default();
        half_only.set("input", 1);
        let err = PriceTable::with(&[("new".into(), half_only, source)]).unwrap_err();
        assert!(
            err.1.contains("needs both `input` and `output`"),
            "{}",
            err.1
        );
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(parse_usd("--max-cost", "5"), Ok(5_000_000_000));
        assert_eq!(parse_usd("--max-cost", "$2.50"), Ok(2_500_000_000));
        assert_eq!(parse_usd("--max-cost", "0.0005"), Ok(500_000));
        assert_eq!(parse_usd("--max-cost", ".5"), Ok(500_000_000));
        for bad in ["", "-1", "five", "1.2.3", "1e3", "99999999999999999999"] {
            assert!(parse_usd("--max-cost", bad).is_err(), "{bad}");
        }
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(200_000_000), "$0.20");
        assert_eq!(money(12_345_000_000), "$12.35");
        assert_eq!(money(1), "$0.0001");
        assert_eq!(money(999_900_000), "$0.9999");
        assert_eq!(money(999_999_999), "$1.00");
        assert_eq!(usd_decimal(5_000_000_000), "5");
        assert_eq!(usd_decimal(12_345_000), "0.012345");
        assert_eq!(per_million(300_000), "0.3");
        assert_eq!(per_million(15_000_000), "15");
        assert_eq!(per_million(6_250_000), "6.25");
        assert_eq!(micros_per_million(0.3), Some(300_000));
        assert_eq!(micros_per_million(-1.0), None);
        assert_eq!(micros_per_million(f64::NAN), None);
    }

    #[test]
    fn weighted_tokens_count_each_kind_by_its_price_relative_to_input() {
        let table = PriceTable::built_in();
        let tokens = Tokens {
            input: 1_000,
            cache_read: 10_000,
            output: 100,
            ..Tokens::default()
        };
        // 1000 + 10000×0.1 + 100×5 = 2500.
        assert_eq!(table.weighted(&[spent("claude-sonnet-4-5", tokens)]), 2_500);
        assert_eq!(table.weighted(&[spent("mock-model", tokens)]), 11_100);
    }
}
