//! How ralph-hook writes for a person reading a terminal (`show`, `log`, `doctor`):
//! colour only where it helps and only where it works, and plain ASCII marks where the
//! locale cannot show `✓`.
//!
//! Colour is decided by anstream for each stream: `--color always|never` wins, else
//! `NO_COLOR` turns it off, `CLICOLOR_FORCE` on, and otherwise only a terminal gets it.
//! The hooks never use this module: hosts read their stdout as JSON.

use std::fmt::Display;

use anstyle::{AnsiColor, Style};

pub(crate) use anstream::ColorChoice;

/// Something in place, a loop that runs on.
pub(crate) const GOOD: Style = AnsiColor::Green.on_default();
/// Something broken, a loop that ended badly.
pub(crate) const BAD: Style = AnsiColor::Red.on_default().bold();
/// Worth a look: a pause, a fix to run, a continuation.
pub(crate) const NOTE: Style = AnsiColor::Yellow.on_default();
/// Labels and other quiet text.
pub(crate) const QUIET: Style = Style::new().dimmed();
/// Titles.
pub(crate) const TITLE: Style = Style::new().bold();

/// Sets the colour choice for every stream this process writes (from `--color`).
pub(crate) fn set_choice(choice: ColorChoice) {
    choice.write_global();
}

/// `text` in `style`; the escape codes are stripped again by [`stdout`] wherever colour
/// is off.
pub(crate) fn paint(style: Style, text: impl Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Standard output for people: passes colour through or strips it, per [`set_choice`].
pub(crate) fn stdout() -> anstream::Stdout {
    anstream::stdout()
}

/// True when the locale says the terminal shows UTF-8 (`LC_ALL`, else `LC_CTYPE`, else
/// `LANG`, as the C library reads them). No locale at all is the "C" locale: ASCII.
pub(crate) fn unicode() -> bool {
    unicode_locale(|name| std::env::var(name).ok())
}

fn unicode_locale(var: impl Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .into_iter()
        .find_map(|name| var(name).filter(|value| !value.is_empty()))
        .is_some_and(|locale| {
            let locale = locale.to_ascii_lowercase();
            locale.contains("utf-8") || locale.contains("utf8")
        })
}

/// How a check or a line came out, as a mark at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Pass,
    Fail,
    Info,
}

impl Mark {
    /// `✓`, `✗`, `·` — or `ok`, `XX`, `--` where the locale is not UTF-8 — coloured.
    pub(crate) fn render(self, unicode: bool) -> String {
        let (fancy, plain, style) = match self {
            Mark::Pass => ("✓", "ok", GOOD),
            Mark::Fail => ("✗", "XX", BAD),
            Mark::Info => ("·", "--", QUIET),
        };
        paint(style, if unicode { fancy } else { plain })
    }
}

/// `text` with the few non-ASCII marks ralph-hook itself writes (`…`, `—`, `·`) spelled
/// in ASCII, where the locale is not UTF-8. The user's own text is left alone.
pub(crate) fn ascii_marks(text: &str) -> String {
    text.replace('…', "...")
        .replace(" — ", " - ")
        .replace('·', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locale<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn the_first_locale_variable_set_decides() {
        assert!(unicode_locale(locale(&[("LANG", "en_US.UTF-8")])));
        assert!(unicode_locale(locale(&[("LC_CTYPE", "C.utf8")])));
        assert!(!unicode_locale(locale(&[
            ("LC_ALL", "C"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!unicode_locale(locale(&[("LANG", "de_DE.ISO-8859-1")])));
        assert!(!unicode_locale(locale(&[])));
        assert!(unicode_locale(locale(&[
            ("LC_ALL", ""),
            ("LANG", "en_GB.UTF-8")
        ])));
    }

    #[test]
    fn marks_are_ascii_outside_a_utf8_locale() {
        for mark in [Mark::Pass, Mark::Fail, Mark::Info] {
            let plain = anstream::adapter::strip_str(&mark.render(false)).to_string();
            assert!(plain.is_ascii(), "{plain}");
            let fancy = anstream::adapter::strip_str(&mark.render(true)).to_string();
            assert!(!fancy.is_ascii(), "{fancy}");
        }
        assert_eq!(ascii_marks("a — b… ·"), "a - b... -");
    }
}
