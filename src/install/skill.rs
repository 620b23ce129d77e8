//! The `ralph-loop` skill. Its one source is the plugin's copy in the repository
//! (`plugins/ralph-hook/skills/ralph-loop/SKILL.md`), which the Codex and Claude Code
//! plugins load as it is; `ralph-hook install` embeds the same file (so `cargo install`
//! users need no checkout) and writes it with the installed binary's absolute path in the
//! `show` command. The version marker in it is what doctor compares with its own.

use std::path::Path;

use super::command_line::utf8_path;
use crate::error::Result;
use crate::shell;

/// The skill as it is in the repository and in the plugin.
pub(super) const SKILL: &str = include_str!("../../plugins/ralph-hook/skills/ralph-loop/SKILL.md");

/// The line of the skill that names the binary; install writes the installed binary's
/// absolute path there, since the agent's PATH need not hold `ralph-hook`.
const SHOW_LINE: &str = "\n      ralph-hook show\n";

/// The marker line's prefix; the version follows it.
const VERSION_MARKER: &str = "ralph-hook-version: ";

/// The skill text install writes: the repository's, with `show` run by `binary`.
pub(super) fn render(binary: &Path) -> Result<String> {
    let line = format!("\n      {} show\n", shell::quote(utf8_path(binary)?));
    Ok(SKILL.replacen(SHOW_LINE, &line, 1))
}

/// The version an installed skill was written by, if it carries the marker.
pub(super) fn installed_version(text: &str) -> Option<&str> {
    let start = text.find(VERSION_MARKER)? + VERSION_MARKER.len();
    text[start..].split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;

    #[test]
    fn the_installed_skill_runs_the_installed_binary_and_carries_the_version() {
        let text = render(Path::new("/h/hooks/ralph-hook")).unwrap();
        assert!(text.starts_with("---\nname: ralph-loop\ndescription: "));
        assert!(
            text.contains("\n      \"/h/hooks/ralph-hook\" show\n"),
            "{text}"
        );
        assert!(!text.contains(SHOW_LINE));
        assert_eq!(installed_version(&text), Some(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn the_plugin_skill_is_complete_as_it_is_for_both_hosts() {
        assert!(SKILL.contains(SHOW_LINE), "install has no line to fill in");
        assert!(
            !SKILL.contains("{{"),
            "the plugin loads the file unrendered"
        );
        assert_eq!(
            installed_version(SKILL),
            Some(env!("CARGO_PKG_VERSION")),
            "bump the marker in plugins/ralph-hook/skills/ralph-loop/SKILL.md with Cargo.toml"
        );
        for agent in Agent::ALL {
            assert!(SKILL.contains(agent.loop_command()), "{agent:?}");
        }
        for form in ["$ralph-hook:ralph-loop", "/ralph-hook:ralph-loop"] {
            assert!(SKILL.contains(form), "{form}");
        }
    }
}
