//! End-to-end tests: the real Codex CLI and Claude Code, with ralph-hook installed as
//! their hooks, driven by a scripted mock model on 127.0.0.1 (issue 4).
//!
//! Run `install/e2e-agents.sh` first; without the clients each test prints one
//! `SKIPPED …` line, and `RALPH_E2E_REQUIRE=1` turns that into a failure (CI sets it).
//! Each test gets its own temporary home and workspace, so cargo runs them in parallel.
//! A failing test prints the mock's request log and every process's output.
//!
//! Knobs: `RALPH_E2E_AGENTS` (where the clients are), `RALPH_E2E_HOOK_BIN` (another
//! ralph-hook build), `RALPH_E2E_TMP` (where worlds live), `RALPH_E2E_KEEP=1` (keep a
//! failed test's world), `RALPH_E2E_REPORT=1` (print every test's report, with
//! `--nocapture`), `RALPH_E2E_RUST_LOG` (`RUST_LOG` for the clients).

pub mod capture;
pub mod claude;
pub mod clients;
pub mod codex;
pub mod cost;
pub mod fresh;
pub mod headless;
pub mod install;
pub mod mock;
pub mod plugin;
pub mod proc;
pub mod run;
pub mod scenarios;
pub mod session_events;
pub mod tasks;
pub mod tokens_and_blocks;
pub mod usage;
pub mod worktrees;
pub mod world;

/// One test per client for a scenario of `e2e::scenarios` (or of another module, named
/// first): `user_flow::codex`, `plugin_flow::claude`, …
macro_rules! scenario {
    ($name:ident: $($client:ident),+) => {
        scenario!(scenarios::$name: $($client),+);
    };
    ($module:ident :: $name:ident: $($client:ident),+) => {
        mod $name {
            $(
                #[test]
                fn $client() {
                    crate::e2e::$module::$name(
                        scenario!(@client $client),
                        concat!(stringify!($name), "::", stringify!($client)),
                    );
                }
            )+
        }
    };
    (@client codex) => { crate::e2e::clients::Client::Codex };
    (@client claude) => { crate::e2e::clients::Client::Claude };
}

scenario!(user_flow: codex, claude);
scenario!(cap: codex, claude);
scenario!(cancel: codex, claude);
scenario!(isolation: codex, claude);
scenario!(subdirectory: codex, claude);
scenario!(fenced_promise: codex, claude);
scenario!(long_loop: claude);
scenario!(dispatcher: codex);
scenario!(planted_state: codex, claude);
scenario!(untrusted: codex);
scenario!(start_in_sandbox: codex);
scenario!(terminal_start: codex, claude);
scenario!(agent_shell_start: claude);
scenario!(adopt_v1: codex, claude);
scenario!(help: codex, claude);
scenario!(typo: codex, claude);
scenario!(plugin::plugin_flow: codex, claude);
scenario!(plugin::installed_twice: codex, claude);
scenario!(plugin::from_a_repository: codex);
scenario!(plugin::validate: claude);
scenario!(usage::transcript_usage: codex, claude);
scenario!(same_file_every_turn: codex, claude);
scenario!(busy_and_reading_turns: codex, claude);
scenario!(same_answer_every_turn: codex, claude);
scenario!(idle_workspace: codex, claude);
scenario!(dead_session: codex, claude);
scenario!(tokens_and_blocks::token_budget: codex, claude);
scenario!(cost::cost_budget: codex, claude);
scenario!(cost::wrap_up: codex, claude);
scenario!(tokens_and_blocks::blocked_then_answered: codex, claude);

scenario!(headless::refused_prompt: codex, claude);
scenario!(headless::paused_headless: codex, claude);
scenario!(headless::readme_headless: codex, claude);
scenario!(plugin::without_the_program: codex, claude);
scenario!(run::run_completes: codex, claude);
scenario!(run::run_survives_a_killed_client: codex, claude);
scenario!(run::run_resumes_after_an_api_error: codex, claude);
scenario!(run::run_detached_survives_hangup: codex, claude);
scenario!(run::run_cancel_leaves_nothing: codex, claude);
scenario!(run::run_ctrl_c_leaves_nothing: codex, claude);
scenario!(run::run_leaves_no_daemon: codex, claude);
scenario!(run::run_crash_then_resume: codex, claude);
scenario!(run::run_restarts_exhausted: codex, claude);
scenario!(run::run_starts_over_when_the_host_kept_no_session: codex, claude);
scenario!(run::run_refuses_a_typo: codex, claude);
scenario!(worktrees::two_loops_in_worktrees: codex);
scenario!(fresh::run_fresh_three_sessions: codex, claude);
scenario!(fresh::run_fresh_task_items: codex, claude);
scenario!(fresh::run_fresh_survives_a_killed_client: codex, claude);
scenario!(fresh::run_fresh_with_a_money_budget: codex, claude);
scenario!(session_events::background_work: claude);
scenario!(session_events::user_takes_the_wheel: codex, claude);
scenario!(session_events::api_error_mid_loop: claude);
scenario!(session_events::compaction_mid_loop: codex, claude);
scenario!(tasks::task_list_in_session: codex, claude);

/// What same-session and `--fresh` cost on the mock servers (README, "Same session or
/// fresh"): prints the figures. `cargo test --test it e2e::fresh_costs -- --ignored
/// --nocapture`.
mod fresh_costs {
    #[test]
    #[ignore = "prints the cost figures of the README; run by name"]
    fn codex() {
        crate::e2e::fresh::fresh_costs(crate::e2e::clients::Client::Codex, "fresh_costs::codex");
    }

    #[test]
    #[ignore = "prints the cost figures of the README; run by name"]
    fn claude() {
        crate::e2e::fresh::fresh_costs(crate::e2e::clients::Client::Claude, "fresh_costs::claude");
    }
}
