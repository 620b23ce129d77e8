//! What `top` shows, made from `list`'s rows (the same reading of the same records), so
//! the dashboard and `list` never disagree: the order that puts loops needing the user
//! first, and each row's cells as text.

use std::time::{Duration, SystemTime};

use crate::clock;
use crate::commands::list::LoopRow;
use crate::engine::render::{self, printable};
use crate::engine::supervision::Phase;

/// How soon a loop in `phase` needs the user: lower comes first.
fn urgency(phase: Phase) -> u8 {
    match phase {
        Phase::Blocked => 0,
        Phase::Crashed => 1,
        Phase::Idle => 2,
        Phase::Paused => 3,
        Phase::Restarting => 4,
        Phase::Starting => 5,
        Phase::Running => 6,
        Phase::Ended => 7,
    }
}

/// `rows` (as `list` made them) with the loops needing the user (blocked, crashed,
/// idle) first; within one state, `list`'s order (most recent activity first) stays.
pub(crate) fn ordered(mut rows: Vec<LoopRow>) -> Vec<LoopRow> {
    rows.sort_by_key(|row| urgency(row.state));
    rows
}

/// One row's cells, as text; `note` is what the user most needs to read: the blocked
/// reason, else how it ended, else the last stop's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cells {
    pub workspace: String,
    pub host: String,
    pub state: String,
    pub iteration: String,
    pub tokens: String,
    pub elapsed: String,
    pub activity: String,
    pub note: String,
}

/// The width of the iteration bar.
const BAR: u32 = 4;

/// The cells of `row` at `now`; `unicode` picks block characters for the bar.
pub(crate) fn cells(row: &LoopRow, now: SystemTime, unicode: bool) -> Cells {
    let workspace = row
        .workspace
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| row.workspace.display().to_string());
    let iteration = if row.max_iterations == 0 {
        row.iteration.to_string()
    } else {
        let filled = (row.iteration.min(row.max_iterations) * BAR)
            .div_ceil(row.max_iterations)
            .min(BAR);
        let (full, empty) = if unicode { ("█", "░") } else { ("#", ".") };
        format!(
            "{}/{} {}{}",
            row.iteration,
            row.max_iterations,
            full.repeat(filled as usize),
            empty.repeat((BAR - filled) as usize)
        )
    };
    let tokens = match (row.max_cost_nanos, row.tokens_used, row.max_tokens) {
        (Some(budget), _, _) => format!("{}/{}", money(row.cost_nanos), money(budget)),
        (None, used, Some(max)) => {
            format!("{}/{}", render::token_count(used), render::token_count(max))
        }
        (None, 0, None) => "-".into(),
        (None, used, None) => render::token_count(used),
    };
    let activity = row
        .last_activity
        .as_deref()
        .and_then(clock::parse)
        .map(|at| short(now.duration_since(at).unwrap_or_default()))
        .unwrap_or_else(|| "-".into());
    let note = row
        .blocked
        .as_ref()
        .cloned()
        .or_else(|| row.outcome.clone())
        .or_else(|| row.last_decision.clone())
        .unwrap_or_default();
    Cells {
        workspace: printable(&workspace).into_owned(),
        host: row.agent.as_str().to_string(),
        state: row.state.as_str().to_string(),
        iteration,
        tokens,
        elapsed: row
            .elapsed_secs
            .map(|s| short(Duration::from_secs(s)))
            .unwrap_or_else(|| "-".into()),
        activity,
        note: printable(&note).into_owned(),
    }
}

/// A duration in at most its two largest units (`1h4m`, `12m30s`, `2d3h`), so it fits
/// six columns.
fn short(duration: Duration) -> String {
    let text = clock::human(duration);
    match text
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .nth(1)
    {
        Some((at, _)) => text[..=at].to_string(),
        None => text,
    }
}

/// Money short enough for the column: dollars and cents rounded up (any spend shows, as
/// `$0.01` at least), whole dollars without the cents (`$5`).
fn money(nanos: u64) -> String {
    let cents = nanos.div_ceil(10_000_000);
    match cents % 100 {
        0 => format!("${}", cents / 100),
        part => format!("${}.{part:02}", cents / 100),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::agent::Agent;
    use std::path::PathBuf;
    use std::time::UNIX_EPOCH;

    /// A row of a loop in `workspace` standing at `state`.
    pub(crate) fn row(workspace: &str, state: Phase) -> LoopRow {
        LoopRow {
            workspace: PathBuf::from(workspace),
            agent: Agent::Codex,
            loop_id: Some(format!("L-{workspace}")),
            state,
            outcome: None,
            session_id: Some("S".into()),
            iteration: 3,
            max_iterations: 20,
            tokens_used: 41_000,
            max_tokens: Some(2_000_000),
            cost_nanos: 0,
            max_cost_nanos: None,
            tasks: None,
            task: None,
            elapsed_secs: Some(720),
            last_activity: Some(clock::format(UNIX_EPOCH + Duration::from_secs(1_000))),
            last_decision: Some("block: not done yet".into()),
            blocked: (state == Phase::Blocked).then(|| "need the API key".into()),
            supervisor_pid: None,
            client_pid: None,
            restarts: None,
            next_attempt: None,
        }
    }

    #[test]
    fn loops_needing_the_user_come_first_and_lists_order_stays_otherwise() {
        let rows = ordered(vec![
            row("/w/running-1", Phase::Running),
            row("/w/ended", Phase::Ended),
            row("/w/idle", Phase::Idle),
            row("/w/running-2", Phase::Running),
            row("/w/crashed", Phase::Crashed),
            row("/w/blocked", Phase::Blocked),
        ]);
        let names: Vec<_> = rows
            .iter()
            .map(|r| r.workspace.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/w/blocked",
                "/w/crashed",
                "/w/idle",
                "/w/running-1",
                "/w/running-2",
                "/w/ended"
            ]
        );
    }

    #[test]
    fn a_money_budget_shows_spend_and_budget_in_dollars_that_fit_the_column() {
        let now = UNIX_EPOCH + Duration::from_secs(1_030);
        let mut costly = row("/w/api", Phase::Running);
        costly.max_cost_nanos = Some(5_000_000_000);
        costly.cost_nanos = 1_234_000_000;
        assert_eq!(cells(&costly, now, false).tokens, "$1.24/$5");
        costly.cost_nanos = 1_000;
        assert_eq!(cells(&costly, now, false).tokens, "$0.01/$5");
        costly.cost_nanos = 0;
        costly.max_cost_nanos = Some(12_500_000_000);
        assert_eq!(cells(&costly, now, false).tokens, "$0/$12.50");
        assert_eq!(money(49_990_000_000), "$49.99");
    }

    #[test]
    fn cells_show_the_bar_tokens_ages_and_the_blocked_reason() {
        let now = UNIX_EPOCH + Duration::from_secs(1_030);
        let cells = cells(&row("/w/api", Phase::Blocked), now, false);
        assert_eq!(cells.workspace, "api");
        assert_eq!(cells.iteration, "3/20 #...");
        assert_eq!(cells.tokens, "41k/2M");
        assert_eq!(cells.elapsed, "12m");
        assert_eq!(cells.activity, "30s");
        assert_eq!(cells.note, "need the API key");
        let mut uncapped = row("/w/x\u{1b}[2J", Phase::Running);
        uncapped.max_iterations = 0;
        uncapped.max_tokens = None;
        let cells = super::cells(&uncapped, now, true);
        assert_eq!(cells.iteration, "3");
        assert_eq!(cells.note, "block: not done yet");
        assert!(!cells.workspace.contains('\u{1b}'), "{:?}", cells.workspace);
        assert_eq!(short(Duration::from_secs(3_852)), "1h4m");
        assert_eq!(short(Duration::from_secs(750)), "12m30s");
        assert_eq!(short(Duration::from_secs(5)), "5s");
    }
}
