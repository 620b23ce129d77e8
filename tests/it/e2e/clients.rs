//! The real clients under test: where `install/e2e-agents.sh` put them, which versions
//! (read from `install/e2e-agents.env`, the one place they are written, unless
//! `RALPH_E2E_CODEX_VERSION` / `RALPH_E2E_CLAUDE_VERSION` name others, as
//! `scripts/e2e-latest.sh` does), and the skip-or-fail rule when one is missing.

use std::io::Write as _;
use std::path::PathBuf;

use super::mock::Wire;

/// The pinned versions, exactly as the install script reads them.
const AGENTS_ENV: &str = include_str!("../../../install/e2e-agents.env");

/// Set to `1` to turn a missing client into a test failure (CI does).
pub const REQUIRE_VAR: &str = "RALPH_E2E_REQUIRE";

/// A client the suite drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Codex,
    Claude,
}

impl Client {
    /// The command name (and the name in messages).
    pub fn name(self) -> &'static str {
        match self {
            Client::Codex => "codex",
            Client::Claude => "claude",
        }
    }

    /// The version under test: `$RALPH_E2E_<CLIENT>_VERSION` when set (to run the suite
    /// against another release than the pin), else the pin.
    pub fn version(self) -> String {
        let var = match self {
            Client::Codex => "RALPH_E2E_CODEX_VERSION",
            Client::Claude => "RALPH_E2E_CLAUDE_VERSION",
        };
        match std::env::var(var) {
            Ok(version) if !version.trim().is_empty() => version.trim().to_string(),
            _ => self.pinned_version().to_string(),
        }
    }

    /// The pinned version from `install/e2e-agents.env`.
    pub fn pinned_version(self) -> &'static str {
        let key = match self {
            Client::Codex => "CODEX_VERSION=",
            Client::Claude => "CLAUDE_VERSION=",
        };
        AGENTS_ENV
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(str::trim)
            .expect("install/e2e-agents.env names both versions")
    }

    /// The wire protocol of its model API.
    pub fn wire(self) -> Wire {
        match self {
            Client::Codex => Wire::Codex,
            Client::Claude => Wire::Claude,
        }
    }

    /// The npm package directory, to check the installed version.
    fn package(self) -> &'static str {
        match self {
            Client::Codex => "@openai/codex",
            Client::Claude => "@anthropic-ai/claude-code",
        }
    }

    /// `<agents dir>/node_modules/.bin/<name>` when the pinned version is installed there.
    pub fn installed(self) -> Result<PathBuf, String> {
        let dir = agents_dir();
        let bin = dir.join("node_modules/.bin").join(self.name());
        let manifest = dir
            .join("node_modules")
            .join(self.package())
            .join("package.json");
        let found = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["version"].as_str().map(str::to_string));
        let version = self.version();
        match found {
            Some(v) if v == version && bin.exists() => Ok(bin),
            Some(v) => Err(format!(
                "{} {version} not installed ({v} found in {}): run install/e2e-agents.sh",
                self.name(),
                dir.display()
            )),
            None => Err(format!(
                "{} {version} not installed in {}: run install/e2e-agents.sh",
                self.name(),
                dir.display()
            )),
        }
    }

    /// The client binary, or `None` after printing one skip line. With
    /// `RALPH_E2E_REQUIRE=1` a missing client fails the test instead.
    pub fn require(self, test: &str) -> Option<PathBuf> {
        match self.installed() {
            Ok(bin) => Some(bin),
            Err(why) => {
                if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                    panic!("{test}: {why} ({REQUIRE_VAR}=1)");
                }
                // Straight to the process's stderr: libtest captures `eprintln!` of passing
                // tests, and a skip must never look like a silent pass.
                let line = format!("SKIPPED {test}: {why}\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
                None
            }
        }
    }
}

/// Where the install script puts the clients: `$RALPH_E2E_AGENTS`, else `<repo>/.e2e-agents`.
pub fn agents_dir() -> PathBuf {
    match std::env::var_os("RALPH_E2E_AGENTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".e2e-agents"),
    }
}
