//! `wait --any` and `wait --all`: one `wait` per loop, each on its own thread, for a
//! script that started several loops (one per worktree, say). `--any` returns with the
//! first loop `wait` would return for; `--all` once every one has, with the worst exit
//! code by [`severity`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Asked, Ended, WaitCode, shown, wait_one};
use crate::cli::{WaitArgs, WorkspaceArgs};
use crate::clock;
use crate::commands::list;
use crate::engine::ownership::Registry;
use crate::engine::supervision::{Phase, Timings};
use crate::error::{Error, Result};
use crate::messages::{self, say};

/// Which of the several loops `wait` returns for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Many {
    /// The first that ends.
    Any,
    /// All of them.
    All,
}

impl Many {
    /// `--any` or `--all`, or `None` for a plain `wait`; DIRs without either are a
    /// usage error (plain `wait` answers about one workspace, named by `--workspace`).
    pub(super) fn of(args: &WaitArgs) -> Result<Option<Many>> {
        match (args.any, args.all) {
            (true, _) => Ok(Some(Many::Any)),
            (false, true) => Ok(Some(Many::All)),
            (false, false) if args.workspaces.is_empty() => Ok(None),
            (false, false) => Err(Error::usage(format!(
                "wait got the workspaces {}, but it waits for one loop unless told `--any` (the first to end) or `--all` (every one); for one workspace write `--workspace DIR`",
                args.workspaces
                    .iter()
                    .map(|dir| shown(dir))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// How bad a way of ending is, for `wait --all`'s exit code: the highest rank among
/// the loops wins. Worst first: the loop broke (error, crashed supervisor, restarts
/// exhausted), then it stands and needs the user (session ended, idle, blocked), then
/// nothing ran (refused, no loop), then it still runs (timeout), then it ended short of
/// done (cancelled, no progress, a stuck task item, the budgets (money, tokens, time), the cap), then paused by the user, then
/// done. Every code is named, so a new one does not compile until it has its place
/// (and the README's list says where).
pub(crate) fn severity(code: WaitCode) -> u8 {
    match code {
        WaitCode::Done => 0,
        WaitCode::Paused => 1,
        WaitCode::IterationCap => 2,
        WaitCode::TimeLimit => 3,
        WaitCode::TokenLimit => 4,
        WaitCode::CostLimit => 5,
        WaitCode::StuckTask => 6,
        WaitCode::NoProgress => 7,
        WaitCode::Cancelled => 8,
        WaitCode::TimedOut => 9,
        WaitCode::NoLoop => 10,
        WaitCode::Refused => 11,
        WaitCode::Blocked => 12,
        WaitCode::Idle => 13,
        WaitCode::SessionEnded => 14,
        WaitCode::RestartsExhausted => 15,
        WaitCode::Crashed => 16,
        WaitCode::LoopError => 17,
    }
}

/// `wait --any` / `wait --all` over the DIRs (and `--workspace`), else over every
/// active loop of the user's.
pub(super) fn many(
    mode: Many,
    args: &WaitArgs,
    asked: Asked,
    timeout: Option<Duration>,
    started: Instant,
) -> Result<i32> {
    let targets = targets(args)?;
    if targets.is_empty() {
        say("No ralph loop runs in any workspace [no_loop]");
        return Ok(WaitCode::NoLoop as i32);
    }
    let count = targets.len();
    let (sender, results) = mpsc::channel();
    for target in targets {
        let sender = sender.clone();
        let asked = asked.clone();
        // A thread per loop; with `--any` the ones still waiting end with the process.
        thread::spawn(move || {
            let _ = sender.send(wait_one(&target, &asked, timeout, started));
        });
    }
    drop(sender);
    match mode {
        Many::Any => {
            let first = results
                .recv()
                .map_err(|_| Error::Failed("every wait ended without an answer".into()))??;
            if first.code == WaitCode::TimedOut {
                say(format!(
                    "none of the {count} loops ended within {} [timeout]",
                    clock::human(started.elapsed())
                ));
            } else {
                say(&first.line);
                if count > 1 && std::io::stderr().is_terminal() {
                    messages::warn(format!("{} other loop(s) still waited for", count - 1));
                }
            }
            Ok(first.code as i32)
        }
        Many::All => {
            let mut worst: Option<WaitCode> = None;
            for result in results {
                let ended: Ended = result?;
                say(&ended.line);
                if worst.is_none_or(|code| severity(ended.code) > severity(code)) {
                    worst = Some(ended.code);
                }
            }
            Ok(worst.unwrap_or(WaitCode::NoLoop) as i32)
        }
    }
}

/// The loops to wait for: each DIR (and `--workspace`) with `--agent`'s host, or, when
/// none is named, every loop `list` shows active, each with its own host.
fn targets(args: &WaitArgs) -> Result<Vec<WorkspaceArgs>> {
    let mut named: Vec<PathBuf> = args.target.workspace.iter().cloned().collect();
    named.extend(args.workspaces.iter().cloned());
    if !named.is_empty() {
        let mut targets: Vec<WorkspaceArgs> = Vec::new();
        for dir in named {
            let target = WorkspaceArgs {
                workspace: Some(dir),
                agent: args.target.agent,
            };
            if !targets
                .iter()
                .any(|t| t.workspace == target.workspace && t.agent == target.agent)
            {
                targets.push(target);
            }
        }
        return Ok(targets);
    }
    let Some(registry) = Registry::open() else {
        return Ok(Vec::new());
    };
    Ok(list::rows(&registry, clock::now(), &Timings::from_env())
        .into_iter()
        .filter(|row| row.state != Phase::Ended)
        .filter(|row| args.target.agent.is_none_or(|agent| agent == row.agent))
        .map(|row| WorkspaceArgs {
            workspace: Some(row.workspace),
            agent: Some(row.agent),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wait code. Not compiler-checked itself, but the ranks run 0, 1, 2 … without a
    /// gap, so a new code ranked in `severity` and missing here fails the test below.
    const EVERY: [WaitCode; 18] = [
        WaitCode::Done,
        WaitCode::IterationCap,
        WaitCode::TimeLimit,
        WaitCode::NoProgress,
        WaitCode::Cancelled,
        WaitCode::LoopError,
        WaitCode::TimedOut,
        WaitCode::NoLoop,
        WaitCode::TokenLimit,
        WaitCode::Blocked,
        WaitCode::Paused,
        WaitCode::Refused,
        WaitCode::RestartsExhausted,
        WaitCode::Crashed,
        WaitCode::Idle,
        WaitCode::SessionEnded,
        WaitCode::StuckTask,
        WaitCode::CostLimit,
    ];

    #[test]
    fn every_wait_code_has_its_own_rank_and_done_is_the_best() {
        let mut ranks: Vec<u8> = EVERY.iter().map(|code| severity(*code)).collect();
        ranks.sort_unstable();
        ranks.dedup();
        assert_eq!(ranks.len(), EVERY.len(), "two codes share a rank");
        assert_eq!(
            usize::from(ranks[ranks.len() - 1]) + 1,
            EVERY.len(),
            "a ranked code is missing from EVERY"
        );
        assert_eq!(severity(WaitCode::Done), 0);
        assert!(severity(WaitCode::LoopError) > severity(WaitCode::Cancelled));
        assert!(severity(WaitCode::Crashed) > severity(WaitCode::Blocked));
    }

    #[test]
    fn the_readme_lists_the_codes_in_the_order_of_severity() {
        // The README says the order to scripts; it must be the ranks' order.
        let mut codes = EVERY;
        codes.sort_by_key(|code| std::cmp::Reverse(severity(*code)));
        let order: Vec<String> = codes
            .iter()
            .map(|code| (*code as i32).to_string())
            .collect();
        let readme = include_str!("../../../README.md");
        let listed = format!("worst first: `{}`", order.join(" "));
        assert!(readme.contains(&listed), "README lacks {listed:?}");
    }
}
