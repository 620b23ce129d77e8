//! The `ralph-loop` skill: its text lives in the repository
//! (`install/skills/ralph-loop/SKILL.md`) and is embedded, so `cargo install` users need
//! no checkout. Install fills in the host's loop command, the installed binary's path and
//! the version, which doctor compares with its own.

use std::path::Path;

use super::command_line::utf8_path;
use crate::agent::Agent;
use crate::error::Result;
use crate::shell;

/// The skill as it is in the repository, with `{{…}}` placeholders.
pub const TEMPLATE: &str = include_str!("../../install/skills/ralph-loop/SKILL.md");

/// The marker line's prefix; the version follows it.
const VERSION_MARKER: &str = "ralph-hook-version: ";

/// The skill text for one host, naming the installed binary by its absolute path so the
/// agent can run `show` whatever its PATH is.
pub fn render(agent: Agent, binary: &Path) -> Result<String> {
    Ok(TEMPLATE
        .replace("{{LOOP}}", agent.loop_command())
        .replace("{{RALPH_HOOK}}", &shell::quote(utf8_path(binary)?))
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION")))
}

/// The version an installed skill was written by, if it carries the marker.
pub fn installed_version(text: &str) -> Option<&str> {
    let start = text.find(VERSION_MARKER)? + VERSION_MARKER.len();
    text[start..].split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_skill_has_no_placeholders_and_carries_the_version() {
        for agent in Agent::ALL {
            let text = render(agent, Path::new("/h/hooks/ralph-hook")).unwrap();
            assert!(!text.contains("{{"), "{text}");
            assert!(text.starts_with("---\nname: ralph-loop\ndescription: "));
            assert!(text.contains("\"/h/hooks/ralph-hook\" show"));
            assert!(text.contains(agent.loop_command()));
            assert_eq!(installed_version(&text), Some(env!("CARGO_PKG_VERSION")));
        }
    }
}
