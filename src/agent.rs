//! The two hosts ralph-hook serves, and the few facts that differ between them.

use std::fmt;

/// A coding agent that runs ralph-hook as its Stop and UserPromptSubmit hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Agent {
    /// OpenAI Codex CLI.
    Codex,
    /// Anthropic Claude Code.
    Claude,
}

impl Agent {
    /// Every host, in the order the installer and doctor report them.
    pub const ALL: [Agent; 2] = [Agent::Codex, Agent::Claude];

    /// The folder inside a workspace where this host's loop state lives.
    pub fn state_dir_name(self) -> &'static str {
        match self {
            Agent::Codex => ".codex",
            Agent::Claude => ".claude",
        }
    }

    /// How the user starts a loop in this host's prompt box.
    pub fn loop_command(self) -> &'static str {
        match self {
            Agent::Codex => "$ralph-loop",
            Agent::Claude => "/ralph-loop",
        }
    }

    /// Environment variables through which the host tells commands the agent runs
    /// which session they belong to, most specific first.
    pub fn session_env_vars(self) -> &'static [&'static str] {
        match self {
            Agent::Codex => &["CODEX_THREAD_ID", "CODEX_SESSION_ID"],
            Agent::Claude => &["CLAUDE_CODE_SESSION_ID"],
        }
    }

    /// The name used on the command line and in state files.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Codex => "codex",
            Agent::Claude => "claude",
        }
    }

    /// The product name, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Agent::Codex => "Codex",
            Agent::Claude => "Claude Code",
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl clap::ValueEnum for Agent {
    fn value_variants<'a>() -> &'a [Self] {
        &Agent::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}
