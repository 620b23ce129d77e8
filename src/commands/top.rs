//! `ralph-hook top`: a live dashboard of every loop `list` shows, refreshed about once a
//! second (ratatui redraws only the cells that changed, so nothing flickers), with the
//! loops needing the user first; keys to look at one, pause, resume or cancel it.
//!
//! The parts: [`snapshot`] makes the rows from `list`'s, [`app`] turns keys into actions,
//! [`view`] draws, [`terminal`] takes the terminal and always gives it back. Pause,
//! resume and cancel call the engine functions the `pause`, `resume` and `cancel`
//! commands call. When stdout is not a terminal, `top` prints `list` once.

mod app;
mod snapshot;
mod terminal;
mod view;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::cli::ListArgs;
use crate::clock;
use crate::commands::list;
use crate::engine::lifecycle::{self, Cancelled};
use crate::engine::lookup;
use crate::engine::ownership::{Registry, STATE_DIR_ENV};
use crate::engine::render::printable;
use crate::engine::status;
use crate::engine::supervision::Timings;
use crate::error::{Error, Result};
use crate::style;
use app::{Action, App, Detail, Key, Screen, Target};
use view::Look;

/// Sets how often `top` reads the loops again (a duration such as `250ms`; default 1s).
pub(crate) const REFRESH_ENV: &str = "RALPH_HOOK_TOP_REFRESH";
/// How many of the loop's last history lines the detail shows.
const LOG_TAIL: usize = 10;

/// `ralph-hook top`.
pub(crate) fn top() -> Result<i32> {
    if !std::io::stdout().is_terminal() {
        return list(&ListArgs { json: false });
    }
    let registry = Registry::open().ok_or_else(|| {
        Error::Failed(format!(
            "no home folder, so no loop records; set {STATE_DIR_ENV} to a folder"
        ))
    })?;
    let refresh = refresh_interval()?;
    let look = Look {
        color: color_on(),
        unicode: style::unicode(),
    };
    let timings = Timings::from_env();
    let read = || snapshot::ordered(list::rows(&registry, clock::now(), &timings));
    let mut app = App::new(read());
    let mut session = terminal::Session::enter()?;
    let mut next_refresh = Instant::now() + refresh;
    terminal::watch_for_the_end();
    loop {
        session
            .terminal
            .draw(|frame| view::draw(frame, &app, clock::now(), look))
            .map_err(|err| Error::io("draw the dashboard", "stdout", err))?;
        panic_point();
        let wait = next_refresh
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        let key = if event::poll(wait).map_err(|err| Error::io("read a key", "stdin", err))? {
            key_of(event::read().map_err(|err| Error::io("read a key", "stdin", err))?)
        } else {
            None
        };
        match key.map(|key| app.key(key)) {
            Some(Action::Quit) => break,
            None | Some(Action::None) => {}
            Some(action) => {
                act(&mut app, action);
                app.set_rows(read());
            }
        }
        if let Some(code) = terminal::signalled() {
            drop(session);
            return Ok(code);
        }
        if Instant::now() >= next_refresh {
            app.set_rows(read());
            if app.screen == Screen::Detail
                && let Some(target) = app.target()
            {
                app.set_detail(detail(&target));
            }
            next_refresh = Instant::now() + refresh;
        }
    }
    drop(session);
    Ok(0)
}

/// Environment variable read by debug builds only: `top` makes `top` panic once it has
/// drawn, so a test sees the terminal given back on a panic.
#[cfg(debug_assertions)]
const TEST_PANIC_ENV: &str = "RALPH_HOOK_TEST_PANIC";

#[cfg(debug_assertions)]
fn panic_point() {
    if std::env::var(TEST_PANIC_ENV).is_ok_and(|what| what == "top") {
        panic!("{TEST_PANIC_ENV}=top asked for a panic");
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
fn panic_point() {}

/// The refresh interval from [`REFRESH_ENV`], else a second.
fn refresh_interval() -> Result<Duration> {
    match std::env::var(REFRESH_ENV) {
        Ok(text) if !text.trim().is_empty() => humantime::parse_duration(text.trim())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Error::usage(format!(
                    "{REFRESH_ENV}={text:?} is not a duration; give one such as 1s or 250ms"
                ))
            }),
        _ => Ok(Duration::from_secs(1)),
    }
}

/// Colour unless `--color never` or `NO_COLOR` says otherwise (stdout is a terminal here).
fn color_on() -> bool {
    match anstream::ColorChoice::global() {
        anstream::ColorChoice::Never => false,
        anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
        anstream::ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn key_of(event: Event) -> Option<Key> {
    let Event::Key(key) = event else {
        return None;
    };
    if key.kind == KeyEventKind::Release {
        return None;
    }
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some(Key::Char('q')),
        KeyCode::Up => Some(Key::Up),
        KeyCode::Down => Some(Key::Down),
        KeyCode::Enter => Some(Key::Enter),
        KeyCode::Esc => Some(Key::Esc),
        KeyCode::Char(c) => Some(Key::Char(c)),
        _ => None,
    }
}

/// Carries out `action`; what came of it goes to the bottom line (or the detail).
fn act(app: &mut App, action: Action) {
    let result = match action {
        Action::Detail(target) => {
            app.set_detail(detail(&target));
            return;
        }
        Action::Pause(target, paused) => lookup::find(&target.workspace, Some(target.agent))
            .and_then(|found| lifecycle::set_paused(&found.store, paused, clock::now()))
            .map(|_| {
                format!(
                    "{} the loop in {}.",
                    if paused { "Paused" } else { "Resumed" },
                    shown(&target)
                )
            }),
        Action::Cancel(target) => lookup::find(&target.workspace, Some(target.agent))
            .and_then(|found| lifecycle::cancel(&found.store, clock::now()))
            .map(|cancelled| match cancelled {
                Cancelled::Removed(_) => format!("Cancelled the loop in {}.", shown(&target)),
                Cancelled::Requested(..) => format!(
                    "Asked the loop in {} to end (its folder is read-only): the next stop ends it.",
                    shown(&target)
                ),
            }),
        Action::None | Action::Quit => return,
    };
    app.message = Some(result.unwrap_or_else(|err| err.to_string()));
}

fn shown(target: &Target) -> String {
    printable(&target.workspace.display().to_string()).into_owned()
}

/// The loop's `show` text and the last lines of its `log`, without colour codes (the
/// dashboard styles its own text); what went wrong reading them, in their place.
fn detail(target: &Target) -> Detail {
    let found = match lookup::find(&target.workspace, Some(target.agent)) {
        Ok(found) => found,
        Err(err) => {
            return Detail {
                show: err.to_string(),
                log: Vec::new(),
            };
        }
    };
    let now = clock::now();
    let mut view = status::status_view(&found, now);
    if let Some(line) = super::supervisor_line(&found, now) {
        view.lines
            .push(("supervisor", printable(&line).into_owned()));
    }
    let log = match found.store.history() {
        Ok(entries) => entries
            .iter()
            .skip(entries.len().saturating_sub(LOG_TAIL))
            .map(|entry| plain(&super::history_line(entry)))
            .collect(),
        Err(err) => vec![err.to_string()],
    };
    Detail {
        show: plain(&super::styled_status(&view)),
        log,
    }
}

fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}
