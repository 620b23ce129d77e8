//! One test's world: a temporary home (Codex and Claude homes inside it, XDG dirs, the
//! ralph-hook user state dir), a workspace, a mock model server, and the real client
//! pointed at it. Nothing outside the temporary directory is read or written: every
//! process the test starts gets a cleared environment with only what [`World::env`]
//! lists.
//!
//! When a test fails, dropping the world prints the mock's request log, every process's
//! stdout and stderr, and the loop and config files, so a broken loop is diagnosable from
//! the CI log alone. `RALPH_E2E_KEEP=1` also keeps the temporary directory;
//! `RALPH_E2E_REPORT=1` prints the report of passing tests too (with `--nocapture`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use super::clients::Client;
use super::mock::{MockServer, Reply};
use super::proc::{Finished, run_bounded};
use super::{claude, codex, install};

/// Longest a single client run may take before its process group is killed. A healthy
/// run against the mock takes about a second; this only bounds a broken one.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(120);

/// Longest a `ralph-hook` command may take.
pub const TOOL_DEADLINE: Duration = Duration::from_secs(60);

/// The `ralph-hook` binary under test: the one cargo built for this test run.
/// `RALPH_E2E_HOOK_BIN` points the suite at another build (to bisect, or to try a
/// release binary).
pub fn hook_source() -> PathBuf {
    match std::env::var_os("RALPH_E2E_HOOK_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_ralph-hook")),
    }
}

/// Where test worlds live. Not `/tmp`: Codex's `workspace-write` sandbox lets the agent
/// write `/tmp` and `$TMPDIR`, so homes under `/tmp` would be writable from the agent's
/// shell, unlike a real `~/.codex`. `/var/tmp` is outside that sandbox's writable roots
/// and outside any git repository (a world inside this repository's `target/` would make
/// the repository the workspace). `RALPH_E2E_TMP` overrides it.
fn temp_parent() -> PathBuf {
    if let Some(dir) = std::env::var_os("RALPH_E2E_TMP").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let var_tmp = Path::new("/var/tmp");
    if var_tmp.is_dir() {
        var_tmp.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A test's temporary world.
pub struct World {
    /// The client under test.
    pub client: Client,
    /// The client's executable.
    pub bin: PathBuf,
    /// The mock model every run talks to unless told otherwise.
    pub mock: Arc<MockServer>,
    tmp: TempDir,
    /// The temporary directory, canonical.
    pub root: PathBuf,
    /// `HOME` of every process.
    pub home: PathBuf,
    /// `CODEX_HOME` (`<home>/.codex`).
    pub codex_home: PathBuf,
    /// Claude Code's home (`<home>/.claude`).
    pub claude_home: PathBuf,
    /// `RALPH_HOOK_STATE_DIR`: ralph-hook's per-user state.
    pub state_dir: PathBuf,
    /// The workspace the client runs in (not a git repository unless a test makes it one).
    pub workspace: PathBuf,
    mocks: Mutex<Vec<Arc<MockServer>>>,
    runs: Mutex<Vec<Finished>>,
    notes: Mutex<Vec<String>>,
    extra_env: Mutex<Vec<(String, String)>>,
    client_deadline: Mutex<Duration>,
}

impl World {
    /// A world for `client` with the hooks installed and trusted, or `None` (after one
    /// skip line) when the client is not installed. `test` names the test in that line.
    pub fn setup(client: Client, test: &str, script: Vec<Reply>) -> Option<World> {
        let world = World::bare(client, test, script)?;
        world.install(true);
        Some(world)
    }

    /// Like [`World::setup`] but installs nothing: the test installs itself.
    pub fn bare(client: Client, test: &str, script: Vec<Reply>) -> Option<World> {
        let bin = client.require(test)?;
        let world = World::new(client, bin, script);
        world.note(format!("test {test}"));
        match client {
            Client::Codex => codex::write_config(&world),
            Client::Claude => {}
        }
        Some(world)
    }

    fn new(client: Client, bin: PathBuf, script: Vec<Reply>) -> World {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("ralph-e2e-{}-", client.name()))
            .tempdir_in(temp_parent())
            .unwrap();
        // Canonical paths: the clients report canonical cwds (macOS: /var is a link).
        let root = tmp.path().canonicalize().unwrap();
        let home = root.join("home");
        let codex_home = home.join(".codex");
        let claude_home = home.join(".claude");
        let state_dir = root.join("ralph-state");
        let workspace = root.join("workspace");
        for dir in [
            &home,
            &codex_home,
            &claude_home,
            &state_dir,
            &workspace,
            &root.join("xdg-config"),
            &root.join("xdg-state"),
            &root.join("xdg-cache"),
            &root.join("xdg-data"),
            &root.join("scratch"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let mock = Arc::new(MockServer::start(client.wire(), script));
        World {
            client,
            bin,
            mocks: Mutex::new(vec![Arc::clone(&mock)]),
            mock,
            tmp,
            root,
            home,
            codex_home,
            claude_home,
            state_dir,
            workspace,
            runs: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
            extra_env: Mutex::new(Vec::new()),
            client_deadline: Mutex::new(CLIENT_DEADLINE),
        }
    }

    /// Runs `ralph-hook install` for this world's client; `trust: false` passes
    /// `--no-trust`. Panics (with the report) when it fails.
    pub fn install(&self, trust: bool) {
        install::install(self, trust);
    }

    /// The world with its mock playing `script` (for scripts that name the world's paths).
    pub fn with_script(self, script: Vec<Reply>) -> World {
        self.mock.set_script(script);
        self
    }

    /// A second mock server, listed in the failure report, for a second session.
    pub fn extra_mock(&self, script: Vec<Reply>) -> Arc<MockServer> {
        let mock = Arc::new(MockServer::start(self.client.wire(), script));
        self.mocks.lock().unwrap().push(Arc::clone(&mock));
        mock
    }

    /// The environment of every process the test starts (client, app-server, ralph-hook).
    pub fn env(&self) -> Vec<(String, String)> {
        let root = &self.root;
        let s = |p: &Path| p.display().to_string();
        // The world's own bin folder comes first: `put_hook_on_path` links ralph-hook
        // there, where the plugin's launcher looks first.
        let path = format!(
            "{}:{}",
            self.bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut env = vec![
            ("PATH".into(), path),
            ("HOME".into(), s(&self.home)),
            ("USER".into(), "ralph-e2e".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("TERM".into(), "dumb".into()),
            ("NO_COLOR".into(), "1".into()),
            ("CODEX_HOME".into(), s(&self.codex_home)),
            ("XDG_CONFIG_HOME".into(), s(&root.join("xdg-config"))),
            ("XDG_STATE_HOME".into(), s(&root.join("xdg-state"))),
            ("XDG_CACHE_HOME".into(), s(&root.join("xdg-cache"))),
            ("XDG_DATA_HOME".into(), s(&root.join("xdg-data"))),
            ("RALPH_HOOK_STATE_DIR".into(), s(&self.state_dir)),
            // Git never looks above the world (a repository around /var/tmp would
            // otherwise become the workspace).
            (
                "GIT_CEILING_DIRECTORIES".into(),
                s(root.parent().unwrap_or(root)),
            ),
        ];
        if let Some(rust_log) = std::env::var_os("RALPH_E2E_RUST_LOG") {
            env.push(("RUST_LOG".into(), rust_log.to_string_lossy().into_owned()));
        }
        if self.client == Client::Claude {
            env.extend(claude::env(&self.mock));
        }
        env.extend(self.extra_env.lock().unwrap().iter().cloned());
        env
    }

    /// Adds `key=value` to the environment of every process started from now on (a
    /// later session's hooks with a moved clock …).
    pub fn set_env(&self, key: &str, value: &str) {
        self.extra_env
            .lock()
            .unwrap()
            .push((key.to_string(), value.to_string()));
    }

    /// How long a client run may take before its process group is killed.
    pub fn client_deadline(&self) -> Duration {
        *self.client_deadline.lock().unwrap()
    }

    /// Kills client runs started from now on after `deadline` (a session killed the
    /// way Ctrl-C or a crash ends it: no Stop hook runs).
    pub fn set_client_deadline(&self, deadline: Duration) {
        *self.client_deadline.lock().unwrap() = deadline;
    }

    /// A command with the world's environment and nothing else.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().current_dir(&self.workspace);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `cmd` bounded, records it for the failure report, and returns it.
    pub fn run_recorded(&self, cmd: Command, label: &str, deadline: Duration) -> Finished {
        let done = run_bounded(cmd, label, &self.root.join("scratch"), deadline);
        self.runs.lock().unwrap().push(done.clone());
        done
    }

    /// Runs the client on `prompt` in the workspace, against the world's mock.
    pub fn run_agent(&self, prompt: &str) -> Finished {
        self.run_agent_in(&self.workspace, prompt)
    }

    /// Runs the client on `prompt` with `cwd` as its working directory.
    pub fn run_agent_in(&self, cwd: &Path, prompt: &str) -> Finished {
        self.run_agent_with(&self.mock, cwd, prompt)
    }

    /// Runs the client on `prompt` in `cwd` against `mock`.
    pub fn run_agent_with(&self, mock: &MockServer, cwd: &Path, prompt: &str) -> Finished {
        match self.client {
            Client::Codex => codex::exec(self, mock, cwd, prompt),
            Client::Claude => claude::print(self, mock, cwd, prompt),
        }
    }

    /// The user's next prompt in `session`, an earlier session in the workspace.
    pub fn resume_agent(&self, session: &str, prompt: &str) -> Finished {
        match self.client {
            Client::Codex => codex::exec_resume(self, &self.workspace, session, prompt),
            Client::Claude => claude::print_resume(self, &self.workspace, session, prompt),
        }
    }

    /// The session id the client reported for a run.
    pub fn session_of(&self, run: &Finished) -> String {
        let id = match self.client {
            Client::Codex => codex::session_id(run),
            Client::Claude => claude::session_id(run),
        };
        id.unwrap_or_else(|| panic!("no session id in the output of {}", run.label))
    }

    /// Runs the installed `ralph-hook` with `args` (from the workspace).
    pub fn ralph(&self, args: &[&str]) -> Finished {
        let mut cmd = self.command(self.hook_bin());
        cmd.args(args);
        self.run_recorded(
            cmd,
            &format!("ralph-hook {}", args.join(" ")),
            TOOL_DEADLINE,
        )
    }

    /// A folder on the PATH of every process of the world, empty until
    /// [`World::put_hook_on_path`].
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// Puts the ralph-hook under test on the world's PATH, as `cargo install` puts it on a
    /// user's: where the plugin's hooks find it.
    pub fn put_hook_on_path(&self) {
        std::fs::create_dir_all(self.bin_dir()).unwrap();
        let link = self.bin_dir().join("ralph-hook");
        if !link.exists() {
            std::os::unix::fs::symlink(hook_source(), &link).unwrap();
        }
    }

    /// Where the installer put the hook binary for this world's client.
    pub fn hook_bin(&self) -> PathBuf {
        self.client_home().join("hooks").join("ralph-hook")
    }

    /// `$CODEX_HOME` or `~/.claude`, by client.
    pub fn client_home(&self) -> &Path {
        match self.client {
            Client::Codex => &self.codex_home,
            Client::Claude => &self.claude_home,
        }
    }

    /// `<workspace>/.codex` or `<workspace>/.claude`: where the loop's files live.
    pub fn loop_dir(&self) -> PathBuf {
        self.loop_dir_of(&self.workspace)
    }

    /// The loop directory of another workspace.
    pub fn loop_dir_of(&self, workspace: &Path) -> PathBuf {
        workspace.join(match self.client {
            Client::Codex => ".codex",
            Client::Claude => ".claude",
        })
    }

    /// The state file's path.
    pub fn state_path(&self) -> PathBuf {
        self.loop_dir().join("ralph-loop-state.json")
    }

    /// The loop state, when a state file exists.
    pub fn state(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.state_path()).ok()?;
        Some(serde_json::from_str(&text).expect("the state file is JSON"))
    }

    /// Every history line of the workspace's loops, parsed. The history lives with the
    /// user's record, so it is read the way a user reads it: `ralph-hook log --json`.
    pub fn history(&self) -> Vec<Value> {
        self.history_of(&self.workspace)
    }

    /// The history of another workspace (or folder).
    pub fn history_of(&self, workspace: &Path) -> Vec<Value> {
        // The build under test, not the installed copy: a plugin world installs none.
        let mut cmd = self.command(hook_source());
        cmd.args([
            "log",
            "--json",
            "--agent",
            self.client.name(),
            "--workspace",
        ])
        .arg(workspace);
        let log = self.run_recorded(cmd, "ralph-hook log --json", TOOL_DEADLINE);
        assert!(log.success(), "ralph-hook log failed: {}", log.stderr);
        log.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("each history line is JSON"))
            .collect()
    }

    /// Adds a line to the failure report.
    pub fn note(&self, line: impl Into<String>) {
        self.notes.lock().unwrap().push(line.into());
    }

    /// Everything a reader of a CI log needs to see why a loop broke.
    pub fn report(&self) -> String {
        let mut out = format!(
            "\n################ e2e failure report: {} {} in {}\n",
            self.client.name(),
            self.client.version(),
            self.root.display()
        );
        for n in self.notes.lock().unwrap().iter() {
            let _ = writeln!(out, "note: {n}");
        }
        for mock in self.mocks.lock().unwrap().iter() {
            out.push_str(&mock.log());
        }
        for run in self.runs.lock().unwrap().iter() {
            out.push_str(&run.report());
        }
        let mut files = Vec::new();
        for dir in [".codex", ".claude"] {
            files.push(self.workspace.join(dir));
        }
        files.push(self.state_dir.clone());
        for dir in files {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_file() {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let _ = writeln!(out, "=== {}\n{text}", path.display());
                }
            }
        }
        for path in [
            self.codex_home.join("hooks.json"),
            self.codex_home.join("config.toml"),
            self.claude_home.join("settings.json"),
        ] {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let _ = writeln!(out, "=== {}\n{text}", path.display());
            }
        }
        out
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("RALPH_E2E_REPORT").is_some() {
            eprintln!("{}", self.report());
        }
        if std::thread::panicking() {
            eprintln!("{}", self.report());
            if std::env::var_os("RALPH_E2E_KEEP").is_some() {
                let tmp = std::mem::replace(&mut self.tmp, TempDir::new().unwrap());
                eprintln!("kept {}", tmp.keep().display());
            }
        }
    }
}
