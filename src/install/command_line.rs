//! The hook command lines ralph-hook writes into hooks.json and settings.json, and how it
//! recognises its own handlers later — by the command alone, because Codex may reject a
//! handler that carries keys it does not know.

use std::path::Path;

use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::shell;

/// The host events ralph-hook handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HookEvent {
    /// UserPromptSubmit: starts, cancels or reports a loop from `$ralph-loop …`.
    Prompt,
    /// Stop: lets the turn end or blocks it with a continuation prompt.
    Stop,
    /// SessionEnd (both hosts): the session is gone, its loop is orphaned.
    SessionEnd,
    /// StopFailure (Claude Code only): the turn ended on an API error.
    StopFailure,
}

impl HookEvent {
    /// Every event, in the order they are written: what `find` and uninstall look at,
    /// whichever host (a Codex file never holds StopFailure, which Codex ignores).
    pub(super) const ALL: [HookEvent; 4] = [
        HookEvent::Prompt,
        HookEvent::Stop,
        HookEvent::SessionEnd,
        HookEvent::StopFailure,
    ];

    /// The events `install` wires for `agent`. Codex 0.169.0 and 0.171.0 list a
    /// SessionEnd handler in `hooks/list` (key `…:session_end:…`) and skip a StopFailure
    /// one without a warning (measured), so Codex gets no StopFailure handler.
    pub(super) fn for_agent(agent: Agent) -> &'static [HookEvent] {
        match agent {
            Agent::Codex => &[HookEvent::Prompt, HookEvent::Stop, HookEvent::SessionEnd],
            Agent::Claude => &HookEvent::ALL,
        }
    }

    /// The event's key in hooks.json / settings.json.
    pub(super) fn json_name(self) -> &'static str {
        match self {
            HookEvent::Prompt => "UserPromptSubmit",
            HookEvent::Stop => "Stop",
            HookEvent::SessionEnd => "SessionEnd",
            HookEvent::StopFailure => "StopFailure",
        }
    }

    /// The event as Codex spells it inside a trust key (`…hooks.json:stop:0:0`), measured
    /// on Codex 0.169.0.
    pub(super) fn trust_key_name(self) -> &'static str {
        match self {
            HookEvent::Prompt => "user_prompt_submit",
            HookEvent::Stop => "stop",
            HookEvent::SessionEnd => "session_end",
            HookEvent::StopFailure => "stop_failure",
        }
    }

    /// The ralph-hook subcommand that serves the event.
    pub(super) fn subcommand(self) -> &'static str {
        match self {
            HookEvent::Prompt => "prompt",
            HookEvent::Stop => "stop",
            HookEvent::SessionEnd => "session-end",
            HookEvent::StopFailure => "stop-failure",
        }
    }

    /// Seconds the host waits for the hook. The stop hook may run a `--verify` command of
    /// up to 540 s, so it gets the hosts' usual maximum. Codex clamps a SessionEnd
    /// timeout to 3 s, with a warning for a longer one (measured on 0.169.0).
    pub(super) fn timeout_secs(self) -> u64 {
        match self {
            HookEvent::SessionEnd => 3,
            HookEvent::Prompt | HookEvent::StopFailure => 30,
            HookEvent::Stop => 600,
        }
    }

    /// What the host shows while the hook runs.
    pub(super) fn status_message(self) -> &'static str {
        match self {
            HookEvent::Prompt => "ralph-hook: reading the prompt",
            HookEvent::Stop => "ralph-hook: checking the loop",
            HookEvent::SessionEnd => "ralph-hook: noting the session's end",
            HookEvent::StopFailure => "ralph-hook: noting the API error",
        }
    }
}

/// The command line of one handler: the installed binary's absolute, quoted path, the
/// subcommand and the host.
pub(super) fn hook_command(binary: &Path, event: HookEvent, agent: Agent) -> Result<String> {
    let path = utf8_path(binary)?;
    Ok(format!(
        "{} {} --agent {}",
        shell::quote(path),
        event.subcommand(),
        agent.as_str()
    ))
}

/// The path as UTF-8, since it must go into JSON and TOML text.
pub(super) fn utf8_path(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| {
        Error::usage(format!(
            "the path {} is not valid UTF-8; use a home folder whose path is",
            path.display()
        ))
    })
}

/// Which ralph-hook handler a command line is, if it is one: a first word naming a file
/// called `ralph-hook` followed by `prompt`, `stop`, `session-end` or `stop-failure`.
pub(super) fn ralph_hook_event(command: &str) -> Option<HookEvent> {
    let (program, rest) = shell::first_word(command.trim_start())?;
    if !(program == "ralph-hook" || program.ends_with("/ralph-hook")) {
        return None;
    }
    let next = rest.split_whitespace().next()?;
    match next {
        "prompt" => Some(HookEvent::Prompt),
        "stop" => Some(HookEvent::Stop),
        "session-end" => Some(HookEvent::SessionEnd),
        "stop-failure" => Some(HookEvent::StopFailure),
        _ => None,
    }
}

/// True when a Stop handler is a dispatcher that reaches ralph-hook through the
/// `ralph-loop-stop.sh` entry point (cmux's `cmux-stop-dispatch.sh` does): then adding
/// ralph-hook's own Stop handler would run the stop hook twice.
pub(super) fn is_stop_dispatcher(command: &str) -> bool {
    command.contains("ralph-loop-stop.sh") || command.contains("cmux-stop-dispatch.sh")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_command_quotes_the_absolute_path() {
        let command = hook_command(
            Path::new("/home/dev/.codex/hooks/ralph-hook"),
            HookEvent::Stop,
            Agent::Codex,
        )
        .unwrap();
        assert_eq!(
            command,
            "\"/home/dev/.codex/hooks/ralph-hook\" stop --agent codex"
        );
    }

    #[test]
    fn written_commands_are_recognised_even_with_odd_paths() {
        for path in [
            "/plain/ralph-hook",
            "/a \"b\" $c `d` \\e/ralph-hook",
            "/x y/ralph-hook",
        ] {
            for event in HookEvent::ALL {
                for agent in Agent::ALL {
                    let command = hook_command(Path::new(path), event, agent).unwrap();
                    assert_eq!(ralph_hook_event(&command), Some(event), "{command}");
                }
            }
        }
    }

    #[test]
    fn other_commands_are_not_ours() {
        for command in [
            "/bin/true",
            "/x/ralph-hook-old stop",
            "/x/ralph-hook show",
            "/x/not-ralph-hook stop",
            "echo ralph-hook stop",
            "\"/x/ralph-hook",
            "",
        ] {
            assert_eq!(ralph_hook_event(command), None, "{command}");
        }
        assert_eq!(
            ralph_hook_event("ralph-hook prompt"),
            Some(HookEvent::Prompt)
        );
        assert_eq!(
            ralph_hook_event("'/x/ralph-hook' stop"),
            Some(HookEvent::Stop)
        );
    }

    #[test]
    fn dispatchers_are_recognised() {
        assert!(is_stop_dispatcher(
            "bash ~/.codex/hooks/cmux-stop-dispatch.sh"
        ));
        assert!(is_stop_dispatcher("\"/h/.codex/hooks/ralph-loop-stop.sh\""));
        assert!(!is_stop_dispatcher(
            "\"/h/.codex/hooks/ralph-hook\" stop --agent codex"
        ));
    }
}
