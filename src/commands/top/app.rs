//! `top`'s state machine: which loop is selected, which screen shows, and what each key
//! asks for. Pure: the caller reads the keys, carries out the [`Action`]s and hands the
//! rows and the detail text back in.

use crate::agent::Agent;
use crate::commands::list::LoopRow;
use crate::engine::supervision::Phase;

/// A key `top` acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Up,
    Down,
    Enter,
    Esc,
    Char(char),
    /// Ctrl-C: quits from any screen.
    Interrupt,
}

/// Which screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Screen {
    /// The table of loops.
    List,
    /// One loop's `show` text and the tail of its log.
    Detail,
    /// Asking whether to cancel the selected loop.
    ConfirmCancel,
}

/// A loop, as the actions name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub workspace: std::path::PathBuf,
    pub agent: Agent,
}

/// What a key asks the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing beyond drawing again.
    None,
    /// Leave `top`.
    Quit,
    /// Read the loop's detail and hand it to [`App::set_detail`].
    Detail(Target),
    /// Pause (`true`) or resume (`false`) the loop.
    Pause(Target, bool),
    /// Cancel the loop (confirmed).
    Cancel(Target),
}

/// One loop's detail: its `show` text and the last lines of its `log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Detail {
    pub show: String,
    pub log: Vec<String>,
}

/// The dashboard's state.
#[derive(Debug, Clone)]
pub(crate) struct App {
    pub rows: Vec<LoopRow>,
    pub selected: usize,
    pub screen: Screen,
    pub detail: Detail,
    /// The last action's result, shown on the bottom line.
    pub message: Option<String>,
}

impl App {
    /// A dashboard over `rows`, the first selected.
    pub(crate) fn new(rows: Vec<LoopRow>) -> Self {
        App {
            rows,
            selected: 0,
            screen: Screen::List,
            detail: Detail::default(),
            message: None,
        }
    }

    /// New rows from a refresh: the selection stays on the same loop when it is still
    /// listed (it may have moved), else on the same place.
    pub(crate) fn set_rows(&mut self, rows: Vec<LoopRow>) {
        let current = self
            .selected_row()
            .map(|row| (row.workspace.clone(), row.agent));
        self.rows = rows;
        if let Some(index) = current.and_then(|(workspace, agent)| {
            self.rows
                .iter()
                .position(|row| row.workspace == workspace && row.agent == agent)
        }) {
            self.selected = index;
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// The detail of the selected loop, read by the caller (on Enter, and again on each
    /// refresh while it shows).
    pub(crate) fn set_detail(&mut self, detail: Detail) {
        self.detail = detail;
    }

    /// The selected loop's row.
    pub(crate) fn selected_row(&self) -> Option<&LoopRow> {
        self.rows.get(self.selected)
    }

    /// The selected loop.
    pub(crate) fn target(&self) -> Option<Target> {
        self.selected_row().map(|row| Target {
            workspace: row.workspace.clone(),
            agent: row.agent,
        })
    }

    /// What `key` does on the current screen.
    pub(crate) fn key(&mut self, key: Key) -> Action {
        if key == Key::Interrupt {
            return Action::Quit;
        }
        match self.screen {
            Screen::ConfirmCancel => {
                self.screen = Screen::List;
                match (key, self.target()) {
                    (Key::Char('y' | 'Y'), Some(target)) => Action::Cancel(target),
                    _ => {
                        self.message = Some("Not cancelled.".into());
                        Action::None
                    }
                }
            }
            Screen::Detail => match key {
                Key::Esc | Key::Enter => {
                    self.screen = Screen::List;
                    Action::None
                }
                Key::Char('q') => Action::Quit,
                _ => Action::None,
            },
            Screen::List => self.list_key(key),
        }
    }

    fn list_key(&mut self, key: Key) -> Action {
        match key {
            Key::Esc | Key::Char('q') => Action::Quit,
            Key::Up | Key::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                Action::None
            }
            Key::Down | Key::Char('j') => {
                self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1));
                Action::None
            }
            Key::Enter => match self.target() {
                Some(target) => {
                    self.screen = Screen::Detail;
                    self.detail = Detail::default();
                    Action::Detail(target)
                }
                None => Action::None,
            },
            Key::Char('p') => match self.selected_row().map(|row| row.state) {
                Some(Phase::Ended) => {
                    self.message = Some("That loop has ended.".into());
                    Action::None
                }
                Some(state) => {
                    let pause = !matches!(state, Phase::Paused | Phase::Blocked);
                    self.target()
                        .map_or(Action::None, |target| Action::Pause(target, pause))
                }
                None => Action::None,
            },
            Key::Char('c') => match self.selected_row().map(|row| row.state) {
                Some(Phase::Ended) => {
                    self.message = Some("That loop has ended.".into());
                    Action::None
                }
                Some(_) => {
                    self.screen = Screen::ConfirmCancel;
                    Action::None
                }
                None => Action::None,
            },
            _ => Action::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::top::snapshot::tests::row;
    use std::path::PathBuf;

    fn target(workspace: &str) -> Target {
        Target {
            workspace: PathBuf::from(workspace),
            agent: Agent::Codex,
        }
    }

    fn app() -> App {
        App::new(vec![
            row("/w/a", Phase::Blocked),
            row("/w/b", Phase::Running),
            row("/w/c", Phase::Ended),
        ])
    }

    #[test]
    fn arrows_and_j_k_move_within_the_rows() {
        let mut app = app();
        assert_eq!(app.key(Key::Up), Action::None);
        assert_eq!(app.selected, 0);
        app.key(Key::Down);
        app.key(Key::Char('j'));
        app.key(Key::Char('j'));
        assert_eq!(app.selected, 2);
        app.key(Key::Char('k'));
        assert_eq!(app.selected, 1);
    }

    #[test]
    fn enter_opens_the_detail_and_esc_or_enter_goes_back() {
        let mut app = app();
        assert_eq!(app.key(Key::Enter), Action::Detail(target("/w/a")));
        assert_eq!(app.screen, Screen::Detail);
        app.key(Key::Esc);
        assert_eq!(app.screen, Screen::List);
        app.key(Key::Enter);
        app.key(Key::Enter);
        assert_eq!(app.screen, Screen::List);
        assert_eq!(app.key(Key::Char('q')), Action::Quit);
        assert_eq!(App::new(Vec::new()).key(Key::Esc), Action::Quit);
    }

    #[test]
    fn p_pauses_a_running_loop_and_resumes_a_paused_or_blocked_one() {
        let mut app = app();
        assert_eq!(
            app.key(Key::Char('p')),
            Action::Pause(target("/w/a"), false)
        );
        app.key(Key::Down);
        assert_eq!(app.key(Key::Char('p')), Action::Pause(target("/w/b"), true));
        app.key(Key::Down);
        assert_eq!(app.key(Key::Char('p')), Action::None);
        assert_eq!(app.message.as_deref(), Some("That loop has ended."));
    }

    #[test]
    fn c_asks_first_and_only_y_cancels() {
        let mut app = app();
        app.key(Key::Down);
        assert_eq!(app.key(Key::Char('c')), Action::None);
        assert_eq!(app.screen, Screen::ConfirmCancel);
        assert_eq!(app.key(Key::Char('n')), Action::None);
        assert_eq!(app.message.as_deref(), Some("Not cancelled."));
        app.key(Key::Char('c'));
        assert_eq!(app.key(Key::Char('y')), Action::Cancel(target("/w/b")));
        assert_eq!(app.screen, Screen::List);
        app.key(Key::Char('c'));
        assert_eq!(
            app.key(Key::Interrupt),
            Action::Quit,
            "Ctrl-C quits even here"
        );
    }

    #[test]
    fn the_selection_follows_its_loop_when_a_refresh_reorders_the_rows() {
        let mut app = app();
        app.key(Key::Down);
        app.set_rows(vec![
            row("/w/c", Phase::Blocked),
            row("/w/a", Phase::Blocked),
            row("/w/b", Phase::Running),
        ]);
        assert_eq!(app.selected, 2);
        app.set_rows(vec![row("/w/a", Phase::Blocked)]);
        assert_eq!(app.selected, 0);
        app.set_rows(Vec::new());
        assert_eq!(app.selected_row(), None);
    }
}
