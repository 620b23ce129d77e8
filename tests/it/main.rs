//! The one integration test binary: a 2-core machine links the library's tests once.
//! Each module is what its name says; `support` is the harness they share (a temp home,
//! user state folder and workspace per test, the real binary run as hosts run it).
//!
//! - `architecture`: the core imports no front end; no import cycles.
//! - `decide`: table tests of the pure decision core.
//! - `engine`: the hooks and commands as hosts and people run them, on real payloads.
//! - `budgets`: time, no-progress, verify, pause.
//! - `token_budget`, `blocked`, `notify`, `user_config`: `--max-tokens`, the blocked
//!   signal, `--notify` and the user's defaults (issue 13).
//! - `cost_budget`: `--max-cost`, prices and the money spent (issue 25).
//! - `contract`: every answer against Codex's own output schemas.
//! - `install`: install, uninstall and doctor in temp homes, with the real `codex app-server`.
//! - `first_contact`: what a new user trips over: in-agent help and typos, `wait`, PATH, colour.
//! - `plugin`: the plugin's manifests and launcher; installed twice, each event acted on once.
//! - `headless`: what `codex exec` and `claude -p` never show, told by `log`, `show` and
//!   `wait`; `wait` about one host's, one script's loop (issue 24).
//! - `hardening`: concurrency, kill -9 mid-write, full and read-only disks, property tests.
//! - `security`: the repository's files and the agent as attackers (docs/SECURITY.md).
//! - `fresh`: `run --fresh` below the clients: the stop's hand-over, the hand-off note as
//!   hostile input, the workspace summary's git, the next session's prompt (issue 22).
//! - `tasks`: `--tasks FILE`: items accepted on evidence; hostile task files.
//! - `statusline`: `ralph-hook statusline` and `install --statusline` (issue 23).
//! - `top`: `ralph-hook top` in a real terminal (a tmux session), keys and all (issue 23).
//! - `e2e`: the real Codex CLI and Claude Code against mock model servers.

// The harness's items are shared between the modules of this one binary; `pub` is how
// they say so.
#![allow(unreachable_pub)]

mod support;

// The fuzz targets' checks, replayed on stable by `hardening`; `checks` names `crate::reference`.
#[path = "../../fuzz/src/checks.rs"]
mod checks;
#[path = "../../fuzz/src/reference.rs"]
mod reference;

mod architecture;
mod blocked;
mod budgets;
mod contract;
mod cost_budget;
mod decide;
mod e2e;
mod engine;
mod first_contact;
mod fresh;
mod hardening;
mod headless;
mod install;
mod many;
mod notify;
mod plugin;
mod security;
mod session_events;
mod statusline;
mod tasks;
mod token_budget;
mod top;
mod user_config;
