//! Where everything lives in a host's home folder, and how the homes are found.

use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::shell;

/// One host's home and the paths ralph-hook uses inside it.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub agent: Agent,
    /// The home folder, absolute.
    pub home: PathBuf,
    /// Whether the user named the home with a flag (then fix commands repeat it).
    pub explicit: bool,
}

impl Layout {
    /// The layout for `agent`, with the home from the flag or the default.
    pub(crate) fn new(agent: Agent, flag: Option<&Path>) -> Result<Self> {
        let home = match flag {
            Some(dir) => dir.to_path_buf(),
            None => default_home(agent)?,
        };
        let home = std::path::absolute(&home)
            .map_err(|err| Error::io("find the absolute path of", &home, err))?;
        Ok(Layout {
            agent,
            home,
            explicit: flag.is_some(),
        })
    }

    /// `<home>/hooks`: the binary, the entry point and the install record.
    pub(crate) fn hooks_dir(&self) -> PathBuf {
        self.home.join("hooks")
    }

    /// The installed binary the hook commands run.
    pub(crate) fn binary(&self) -> PathBuf {
        self.hooks_dir().join("ralph-hook")
    }

    /// The entry point for Stop dispatchers (Codex only).
    pub(crate) fn entry_point(&self) -> PathBuf {
        self.hooks_dir().join("ralph-loop-stop.sh")
    }

    /// The install record.
    pub(crate) fn record(&self) -> PathBuf {
        self.hooks_dir().join(super::record::FILE_NAME)
    }

    /// `<home>/skills/ralph-loop`.
    pub(crate) fn skill_dir(&self) -> PathBuf {
        self.home.join("skills").join("ralph-loop")
    }

    /// The installed skill.
    pub(crate) fn skill(&self) -> PathBuf {
        self.skill_dir().join("SKILL.md")
    }

    /// The JSON file that holds the hooks: hooks.json or settings.json.
    pub(crate) fn hooks_file_name(&self) -> &'static str {
        match self.agent {
            Agent::Codex => "hooks.json",
            Agent::Claude => "settings.json",
        }
    }

    /// Path of [`Self::hooks_file_name`].
    pub(crate) fn hooks_file(&self) -> PathBuf {
        self.home.join(self.hooks_file_name())
    }

    /// Codex's config.toml.
    pub(crate) fn config_toml(&self) -> PathBuf {
        self.home.join("config.toml")
    }

    /// The flags that select this host and home, for the fix commands we print.
    pub(crate) fn flags(&self) -> String {
        let mut flags = format!("--agent {}", self.agent);
        if self.explicit {
            let name = match self.agent {
                Agent::Codex => "--codex-home",
                Agent::Claude => "--claude-home",
            };
            flags.push_str(&format!(
                " {name} {}",
                shell::quote(&self.home.to_string_lossy())
            ));
        }
        flags
    }
}

/// `$CODEX_HOME` or `~/.codex`; `~/.claude`.
fn default_home(agent: Agent) -> Result<PathBuf> {
    if agent == Agent::Codex
        && let Some(dir) = std::env::var_os("CODEX_HOME").filter(|dir| !dir.is_empty())
    {
        return Ok(PathBuf::from(dir));
    }
    let name = match agent {
        Agent::Codex => ".codex",
        Agent::Claude => ".claude",
    };
    dirs::home_dir().map(|home| home.join(name)).ok_or_else(|| {
        Error::usage(format!(
            "cannot find your home folder; pass --{}-home DIR",
            agent.as_str()
        ))
    })
}
