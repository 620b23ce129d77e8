//! The command line, as clap sees it. Values are checked later, where they are used,
//! so that each check can name the flag and the fix.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::agent::Agent;
use crate::engine::fresh::FreshMode;
use crate::engine::settings::RawLoopFlags;

/// Keep a Codex or Claude Code agent working on one task until it is really done.
#[derive(Debug, Parser)]
#[command(name = "ralph-hook", version, about, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 ok, 64 usage error, 65 malformed input file, 1 anything else; the hooks (stop, prompt) always exit 0."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Colour for people (`show`, `log`, `doctor`): `auto` colours a terminal unless
    /// `NO_COLOR` is set.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = clap::ColorChoice::Auto)]
    pub color: clap::ColorChoice,
}

/// Every subcommand. `stop` and `prompt` are the hooks; the rest are for people and scripts.
#[derive(Debug, Subcommand)]
// Made once per process and matched at once: boxing the large variant gains nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// The Stop hook: let the turn end, or block it with a continuation prompt.
    Stop(HookArgs),
    /// The UserPromptSubmit hook: start, cancel or report a loop from `$ralph-loop …`.
    Prompt(HookArgs),
    /// The SessionEnd hook: the session is gone, so its loop is orphaned at once.
    SessionEnd(HookArgs),
    /// Claude Code's StopFailure hook: the turn ended on an API error, kept in the history.
    StopFailure(HookArgs),
    /// Start a loop in a workspace (from a terminal, a script, or the agent's shell).
    Start(StartArgs),
    /// Show the loop in a workspace, or how the last one ended.
    Show(ShowArgs),
    /// End the loop in a workspace; the next stop is allowed.
    Cancel(WorkspaceArgs),
    /// Print the history of stop decisions, one line each.
    Log(ShowArgs),
    /// Take over a loop state file this user did not start, after reading it.
    Adopt(WorkspaceArgs),
    /// Pause the loop: stops are allowed and not counted until `resume`.
    Pause(WorkspaceArgs),
    /// Resume a paused loop where it was.
    Resume(WorkspaceArgs),
    /// Launch the agent headless and keep its loop going: resume the same session when
    /// the client dies, until the loop ends.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Print (or follow, `-f`) the raw output of the client `run` launched.
    Logs(LogsArgs),
    /// Every loop of this user, in every workspace and both hosts, and how each stands.
    List(ListArgs),
    /// The loop worktrees (`run --worktree`) of the workspace's repository: branch, commits
    /// ahead of the base, uncommitted changes, the loop's outcome; `--prune` removes the
    /// merged, clean ones.
    Worktrees(WorktreesArgs),
    /// One short line about this workspace's loop, for Claude Code's status line or a
    /// shell prompt (reads Claude Code's statusLine JSON on stdin when piped).
    Statusline(StatuslineArgs),
    /// A live dashboard of every loop (`list`, refreshed each second): look at one,
    /// pause, resume or cancel it; prints `list` once when stdout is not a terminal.
    Top,
    /// The supervisor of a detached `run` (started by `run --detach`).
    #[command(hide = true)]
    Supervise(SuperviseArgs),
    /// Block until the workspace's loop ends; the exit code says how it ended.
    #[command(after_help = WAIT_CODES)]
    Wait(WaitArgs),
    /// Wire ralph-hook into Codex and/or Claude Code.
    Install(InstallArgs),
    /// Remove exactly what `install` added.
    Uninstall(UninstallArgs),
    /// Check that everything a loop needs is in place.
    Doctor(DoctorArgs),
    /// Print a shell completion script (`ralph-hook completions bash`).
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a folder.
    Man(ManArgs),
    /// The user's defaults for every loop flag: where the file is, and what it sets.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a loop's `--notify` command and record its failure (started by the hooks).
    #[command(name = "notify-run", hide = true)]
    NotifyRun(NotifyRunArgs),
}

/// What `config` does.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config file's path (`$RALPH_HOOK_CONFIG`, else
    /// `$XDG_CONFIG_HOME/ralph-hook/config.toml`, else `~/.config/ralph-hook/config.toml`).
    Path,
    /// Read the config file and print what it sets, or what is wrong in it and where.
    Check,
    /// Print the prices `--max-cost` uses (USD per million tokens, by kind) and where
    /// each row came from: ralph-hook's table (the provider's page, the day it was read)
    /// or a `[prices."model"]` section of the config file.
    Prices,
}

/// Arguments of the hidden `notify-run`.
#[derive(Debug, Args)]
pub struct NotifyRunArgs {
    /// The loop's workspace: the command runs there.
    #[arg(long)]
    pub workspace: PathBuf,
    /// The loop's host, to find its history.
    #[arg(long, value_enum)]
    pub agent: Agent,
    /// The loop's id, for the history line.
    #[arg(long)]
    pub loop_id: String,
    /// The user's command.
    #[arg(last = true, required = true)]
    pub command: String,
}

/// Flags of `completions`.
#[derive(Debug, Args)]
#[command(after_help = "Where the script goes:\n  \
bash        ralph-hook completions bash > ~/.local/share/bash-completion/completions/ralph-hook\n  \
zsh         ralph-hook completions zsh > ~/.zfunc/_ralph-hook   (with fpath+=(~/.zfunc) before compinit in ~/.zshrc)\n  \
fish        ralph-hook completions fish > ~/.config/fish/completions/ralph-hook.fish\n  \
powershell  ralph-hook completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `ralph-hook.1` and a page per command (`ralph-hook-start.1` …) into this
    /// folder instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Flags of the hook commands.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The host running the hook; by default the payload tells (Codex sends `turn_id`).
    #[arg(long, value_enum)]
    pub agent: Option<Agent>,
}

/// Selects the workspace whose loop a command acts on.
#[derive(Debug, Args)]
pub struct WorkspaceArgs {
    /// The workspace (default: the git top level of the current directory, else it).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Only look at this host's state (default: whichever holds a loop).
    #[arg(long, value_enum)]
    pub agent: Option<Agent>,
}

/// What `run` launches, for its `--help`.
const RUN_HELP: &str = "What it launches (in the workspace, the task as one argument, never through a shell):\n  \
codex   codex exec --json --sandbox workspace-write [CLIENT ARGS] -- PROMPT\n          \
resumed: codex exec resume --json -c sandbox_mode=\"workspace-write\" [CLIENT ARGS] -- SESSION PROMPT\n  \
claude  claude -p PROMPT --output-format stream-json --verbose --permission-mode acceptEdits --allowedTools Bash [CLIENT ARGS]\n          \
resumed: the same with --resume SESSION\n\
The defaults let the agent edit the workspace and run commands there without asking; CLIENT ARGS after `--` \
are passed through and win (a --sandbox or --permission-mode of yours replaces the default). \
The hooks must be installed (`ralph-hook install`). Exit codes: those of `wait`.\n\
With --fresh each iteration (--fresh=task: each task item) is the first run of a new session, \
whose prompt carries the task, the iteration, the budgets left, the workspace since the loop began, \
the previous session's last message and its hand-off note (.ralph/handoff.md).\n\
Delays: RALPH_HOOK_RUN_BACKOFF (5s), RALPH_HOOK_RUN_MAX_BACKOFF (5m), RALPH_HOOK_RUN_HEARTBEAT (10s), \
RALPH_HOOK_RUN_CRASH_AFTER (45s), RALPH_HOOK_RUN_KILL_GRACE (10s), RALPH_HOOK_IDLE_AFTER (10m).";

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The host to launch (default: codex; with `--resume`, the host whose loop it is).
    #[arg(long, value_enum)]
    pub agent: Option<Agent>,
    /// The workspace the agent works in (default: the git top level of the current
    /// directory, else it).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Run the loop in a new git worktree of the workspace's repository, at
    /// `<parent>/<repo>.ralph/NAME` on a new branch `ralph/NAME` from the current HEAD
    /// (it tracks the branch checked out). `ralph-hook worktrees` lists them. With
    /// `--resume`: the loop in that existing worktree.
    #[arg(long, value_name = "NAME")]
    pub worktree: Option<String>,
    /// The loop's flags, defined once in [`RawLoopFlags`].
    #[command(flatten)]
    pub flags: RawLoopFlags,
    /// Return at once and keep supervising in the background (own session: survives the
    /// terminal closing).
    #[arg(long)]
    pub detach: bool,
    /// Every iteration in a new client session under the same record (`--fresh`, the same
    /// as `--fresh=iteration`); `--fresh=task` (with `--tasks`): a new session for each
    /// task item.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "iteration",
        conflicts_with = "resume"
    )]
    pub fresh: Option<FreshMode>,
    /// Most restarts of a client that died while the loop was active; 0 = never restart.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_restarts: u32,
    /// The client executable (default: `codex` or `claude` on PATH).
    #[arg(long, value_name = "PATH")]
    pub client: Option<PathBuf>,
    /// Take over the workspace's loop whose supervisor died, in the same session.
    #[arg(long, conflicts_with = "task")]
    pub resume: bool,
    /// The task, as one argument.
    #[arg(value_name = "TASK", required_unless_present = "resume")]
    pub task: Option<String>,
    /// Arguments passed to the client as they are.
    #[arg(last = true, value_name = "CLIENT ARGS")]
    pub client_args: Vec<String>,
}

/// Flags of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Which workspace and host.
    #[command(flatten)]
    pub target: WorkspaceArgs,
    /// Keep printing what the client writes until its loop ends.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// Flags of `worktrees`.
#[derive(Debug, Args)]
pub struct WorktreesArgs {
    /// A folder of the repository (default: the git top level of the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Remove the worktrees whose branch is merged into its base and which hold no
    /// uncommitted change (and no running loop), with their branch; name each one kept
    /// and why.
    #[arg(long)]
    pub prune: bool,
    /// With `--prune`: say what would be removed and kept, remove nothing.
    #[arg(long, requires = "prune")]
    pub dry_run: bool,
    /// Print JSON (one array) for scripts instead of a table.
    #[arg(long, conflicts_with = "prune")]
    pub json: bool,
}

/// Flags of `statusline`.
#[derive(Debug, Args)]
pub struct StatuslineArgs {
    /// The folder whose loop to show (default: the folder Claude Code's JSON on stdin
    /// names, else the current one).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// Flags of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON (one array) for scripts instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of the hidden `supervise`.
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The loop's workspace (canonical).
    #[arg(long)]
    pub workspace: PathBuf,
    /// The loop's host.
    #[arg(long, value_enum)]
    pub agent: Agent,
    /// The loop it supervises.
    #[arg(long)]
    pub loop_id: String,
}

/// The exit codes of `wait`, for its `--help` (see `commands::wait::WaitCode`).
const WAIT_CODES: &str = "Exit codes: 0 completed (or verified), 3 iteration cap, 4 time budget, \
5 no progress, 6 cancelled or replaced, 7 the loop ended on an error, 8 --timeout passed while \
the loop still runs, 9 no loop ran there, 10 token budget, 11 the agent is blocked on you (the \
loop is paused until you answer), 12 the loop is paused (`ralph-hook resume`, then a prompt in its \
session, continues it), 13 the last loop prompt was refused (nothing started), 14 `run` restarted the \
client --max-restarts times and it died again, 15 the loop's supervisor (`ralph-hook run`) died: \
`run --resume` picks it up, 16 the loop's session has shown no sign of life for RALPH_HOOK_IDLE_AFTER \
(10 min) and no `run` supervises it, 17 the loop's session ended (SessionEnd: the loop is \
orphaned), 18 a task item stayed open past --max-iterations-per-task (stuck_task), 19 the money \
budget (--max-cost) ran out or a response's model had no price; 64 a usage error, also when both hosts have loops in the workspace \
and no --agent says which; any other code: ralph-hook itself failed (a bad flag, an unreadable file).

With --all the exit code is the worst of the loops' codes, worst first: 7 error, 15 crashed, \
14 restarts exhausted, 17 session ended, 16 idle, 11 blocked, 13 refused, 9 no loop, 8 timeout, \
6 cancelled, 5 no progress, 18 stuck task, 19 money budget, 10 token budget, 4 time budget, 3 iteration cap, 12 paused, 0 completed.";

/// Flags of `wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The workspace whose loop to wait for.
    #[command(flatten)]
    pub target: WorkspaceArgs,
    /// Give up after this long (`90s`, `30m`, `2h`) and exit 8; default: wait as long as the loop runs.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Answer only about this loop (the id `start` prints and `show --json` has).
    #[arg(long = "loop", value_name = "ID")]
    pub loop_id: Option<String>,
    /// Answer only about loops started, and prompts refused, at or after this time:
    /// RFC 3339 (`$(date -u +%FT%TZ)`) or seconds since the epoch (`$(date +%s)`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Wait for several loops (the DIRs, else every active loop) and return when the
    /// first of them ends, saying which and how; the exit code is its own.
    #[arg(long, conflicts_with_all = ["all", "loop_id"])]
    pub any: bool,
    /// Wait for several loops (the DIRs, else every active loop) until all have ended,
    /// one line each; the exit code is the worst of theirs (see `--help`).
    #[arg(long, conflicts_with = "loop_id")]
    pub all: bool,
    /// With `--any`/`--all`: the workspaces to wait for (with `--workspace`, that one too).
    #[arg(value_name = "DIR")]
    pub workspaces: Vec<PathBuf>,
}

/// Flags of `show` and `log`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Which workspace and host.
    #[command(flatten)]
    pub target: WorkspaceArgs,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `start`, as the bash `start-loop.sh` had them, plus the budgets.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The workspace the loop runs in (default: the git top level of the current
    /// directory, else it; a relative path is taken from the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Run the loop in a new git worktree of the workspace's repository, at
    /// `<parent>/<repo>.ralph/NAME` on a new branch `ralph/NAME` from the current HEAD
    /// (it tracks the branch checked out). `ralph-hook worktrees` lists them.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["show", "cancel"])]
    pub worktree: Option<String>,
    /// The task.
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// Read the task from a file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// The loop's flags, defined once in [`RawLoopFlags`].
    #[command(flatten)]
    pub flags: RawLoopFlags,
    /// Replace an active loop.
    #[arg(long)]
    pub force: bool,
    /// The host the loop runs in (default: from the session variables, else codex).
    #[arg(long, value_enum)]
    pub agent: Option<Agent>,
    /// Bind the loop to this session id (default: from the session variables).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Show the loop instead of starting one.
    #[arg(long, conflicts_with = "cancel")]
    pub show: bool,
    /// Cancel the loop instead of starting one.
    #[arg(long)]
    pub cancel: bool,
    /// The task, as words after `--`.
    #[arg(last = true, value_name = "WORDS")]
    pub words: Vec<String>,
}

/// The hosts `install` and `uninstall` act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostChoice {
    /// Codex CLI only.
    Codex,
    /// Claude Code only.
    Claude,
    /// Both.
    All,
}

/// How `install` puts the binary into each host's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstallMode {
    /// A copy of the running executable: keeps working when the build folder goes.
    Copy,
    /// A symlink to the running executable: a rebuilt binary is picked up at once.
    Symlink,
}

/// Where each host keeps its configuration, when not in the default place.
#[derive(Debug, Args)]
pub struct Homes {
    /// Codex's home (default: `$CODEX_HOME`, else `~/.codex`).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's home (default: `~/.claude`).
    #[arg(long, value_name = "DIR")]
    pub claude_home: Option<PathBuf>,
}

/// Flags of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Which host to wire up (default: every host found).
    #[arg(long, value_enum)]
    pub agent: Option<HostChoice>,
    /// Copy the binary, or symlink it so a rebuilt binary is picked up.
    #[arg(long, value_enum, default_value_t = InstallMode::Copy)]
    pub mode: InstallMode,
    /// Where the hosts keep their configuration.
    #[command(flatten)]
    pub homes: Homes,
    /// Print the plan and a diff of each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not mark the hooks trusted in Codex.
    #[arg(long)]
    pub no_trust: bool,
    /// Also show the loop in Claude Code's status line (`ralph-hook statusline`), unless
    /// settings.json has a status line of the user's, which is left as it is.
    #[arg(long)]
    pub statusline: bool,
    /// Switch Codex hooks on even though config.toml switches them off
    /// (`[features] hooks = false`); this re-enables every other hook too.
    /// Uninstall switches them off again.
    #[arg(long)]
    pub enable_hooks: bool,
    /// The codex executable used to compute hook trust (default: `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
    /// Record that install/install.sh put this copy of ralph-hook on PATH, so `doctor`
    /// checks it and `uninstall --purge` removes it.
    #[arg(long, value_name = "FILE", hide = true)]
    pub path_copy: Option<PathBuf>,
    /// Record that install/install.sh wrote the man pages into this folder, so
    /// `uninstall --purge` removes them.
    #[arg(long, value_name = "DIR", hide = true)]
    pub man_pages: Option<PathBuf>,
}

/// Flags of `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Which host to unwire (default: every host found).
    #[arg(long, value_enum)]
    pub agent: Option<HostChoice>,
    /// Where the hosts keep their configuration.
    #[command(flatten)]
    pub homes: Homes,
    /// Print the plan and a diff of each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the copy of ralph-hook that install/install.sh put on PATH and this
    /// user's loop records.
    #[arg(long)]
    pub purge: bool,
}

/// Flags of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check the loop in this workspace.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Where the hosts keep their configuration.
    #[command(flatten)]
    pub homes: Homes,
    /// The codex executable used to read hook trust (default: `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex_bin: Option<PathBuf>,
}

/// Whether this invocation is meant as a hook: then even a command-line error allows the
/// stop (exit 0, one line on stderr).
///
/// Hosts read exit code 2 plus stderr as "block and continue with this text", so a
/// mistyped command in hooks.json must not become a prompt (Codex has no cap on blocks).
/// The first word, past `--agent VALUE` and `--color WHEN`, counts when it looks like a hook's name in any
/// spelling: `stop`, `Stop`, `stop-hook`, `prompt`, `UserPromptSubmit` …
pub fn is_hook_invocation(args: &[OsString]) -> bool {
    if invoked_as_stop_entry_point(args) {
        return true;
    }
    let mut words = args.iter().skip(1).map(|arg| arg.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--agent" || word == "--color" {
            words.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        let word = word.to_ascii_lowercase();
        return word.starts_with("stop")
            || word.starts_with("prompt")
            || word.starts_with("session")
            || word.contains("userpromptsubmit");
    }
    false
}

/// True when the binary runs under a name dispatchers call (`ralph-loop-stop[.sh]`):
/// then it acts as `stop --agent codex`.
pub fn invoked_as_stop_entry_point(args: &[OsString]) -> bool {
    args.first()
        .map(PathBuf::from)
        .and_then(|path| path.file_name().map(ToOwned::to_owned))
        .is_some_and(|name| name == "ralph-loop-stop" || name == "ralph-loop-stop.sh")
}
