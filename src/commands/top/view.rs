//! Draws `top` into a ratatui frame: the table of loops, a loop's detail, the cancel
//! question and the keys. Pure: what it draws comes from the [`App`] alone, so tests
//! render it into ratatui's `TestBackend`.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::app::{App, Screen};
use super::snapshot;
use crate::engine::render::printable;
use crate::engine::supervision::Phase;

/// How to draw: colour (off with `NO_COLOR` or `--color never`) and block characters
/// (off where the locale is not UTF-8).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Look {
    pub color: bool,
    pub unicode: bool,
}

impl Look {
    fn style(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }
}

const HEADER: [&str; 8] = [
    "WORKSPACE",
    "HOST",
    "STATE",
    "ITERATION",
    "SPENT",
    "TIME",
    "SEEN",
    "LAST",
];
const WIDTHS: [Constraint; 8] = [
    Constraint::Length(12),
    Constraint::Length(6),
    Constraint::Length(10),
    Constraint::Length(10),
    Constraint::Length(10),
    Constraint::Length(6),
    Constraint::Length(6),
    Constraint::Min(10),
];

/// Draws `app` at `now`.
pub(crate) fn draw(frame: &mut Frame<'_>, app: &App, now: SystemTime, look: Look) {
    let [title, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let heading = match app.screen {
        Screen::Detail => format!(
            "ralph-hook top — {}",
            app.selected_row()
                .map(|row| snapshot::cells(row, now, look.unicode).workspace)
                .unwrap_or_default()
        ),
        _ => format!(
            "ralph-hook top — {} loop{}",
            app.rows.len(),
            if app.rows.len() == 1 { "" } else { "s" }
        ),
    };
    frame.render_widget(
        Paragraph::new(heading).style(Style::new().add_modifier(Modifier::BOLD)),
        title,
    );
    match app.screen {
        Screen::Detail => draw_detail(frame, body, app),
        _ => draw_table(frame, body, app, now, look),
    }
    frame.render_widget(Paragraph::new(footer_line(app, look)), footer);
}

fn draw_table(frame: &mut Frame<'_>, area: Rect, app: &App, now: SystemTime, look: Look) {
    if app.rows.is_empty() {
        frame.render_widget(
            Paragraph::new("No ralph loops (none active, none ended in the last day)."),
            area,
        );
        return;
    }
    let rows = app.rows.iter().map(|row| {
        let cells = snapshot::cells(row, now, look.unicode);
        let tone = match row.state {
            Phase::Blocked | Phase::Crashed => look.style(Color::Red),
            Phase::Idle | Phase::Paused | Phase::Restarting => look.style(Color::Yellow),
            Phase::Running | Phase::Starting => look.style(Color::Green),
            Phase::Ended => Style::new(),
        };
        Row::new([
            Cell::from(cells.workspace),
            Cell::from(cells.host),
            Cell::from(cells.state).style(tone),
            Cell::from(cells.iteration),
            Cell::from(cells.tokens),
            Cell::from(cells.elapsed),
            Cell::from(cells.activity),
            Cell::from(cells.note),
        ])
    });
    let table = Table::new(rows, WIDTHS)
        .header(Row::new(HEADER).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol(if look.unicode { "▶" } else { ">" })
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always)
        .column_spacing(1);
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The `show` text on top, wrapped; below it as many of the log's last lines as fit in
/// half the screen, so the newest always shows.
fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let log = &app.detail.log;
    let log_height = (log.len() as u16 + 1).min(area.height / 2);
    let [show, tail] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(log_height)]).areas(area);
    frame.render_widget(
        Paragraph::new(app.detail.show.as_str()).wrap(Wrap { trim: false }),
        show,
    );
    let shown = usize::from(log_height.saturating_sub(1));
    let mut lines = vec![Line::from(Span::styled(
        "log (newest last):",
        Style::new().add_modifier(Modifier::BOLD),
    ))];
    lines.extend(
        log.iter()
            .skip(log.len().saturating_sub(shown))
            .map(|line| Line::from(line.as_str())),
    );
    frame.render_widget(Paragraph::new(lines), tail);
}

fn footer_line(app: &App, look: Look) -> Line<'static> {
    match app.screen {
        Screen::ConfirmCancel => Line::from(vec![Span::styled(
            format!(
                "Cancel the loop in {}? y/n",
                app.selected_row()
                    .map(|row| printable(&row.workspace.display().to_string()).into_owned())
                    .unwrap_or_default()
            ),
            look.style(Color::Yellow).add_modifier(Modifier::BOLD),
        )]),
        Screen::Detail => Line::from("Esc/Enter back  q quit"),
        Screen::List => {
            let keys = "↑↓/jk move  Enter detail  p pause/resume  c cancel  q quit";
            let keys = if look.unicode {
                keys.to_string()
            } else {
                keys.replace("↑↓", "arrows")
            };
            match &app.message {
                Some(message) => Line::from(vec![
                    Span::styled(message.clone(), look.style(Color::Cyan)),
                    Span::raw("  "),
                    Span::raw(keys),
                ]),
                None => Line::from(keys),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::top::app::{Detail, Key};
    use crate::commands::top::snapshot::tests::row;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::time::{Duration, UNIX_EPOCH};

    fn screen(app: &App, look: Look) -> (String, ratatui::buffer::Buffer) {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_030);
        terminal.draw(|frame| draw(frame, app, now, look)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let text = (0..24)
            .map(|y| {
                (0..80)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        (text, buffer)
    }

    const PLAIN: Look = Look {
        color: false,
        unicode: true,
    };

    #[test]
    fn one_row_per_loop_fits_80_by_24() {
        let app = App::new(vec![
            row("/w/api", Phase::Blocked),
            row("/w/web", Phase::Running),
        ]);
        let (text, _) = screen(&app, PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ralph-hook top — 2 loops"), "{text}");
        assert!(
            lines[1].contains("WORKSPACE") && lines[1].contains("LAST"),
            "{text}"
        );
        assert!(lines[2].starts_with("▶api"), "{text}");
        for cell in [
            "codex",
            "blocked",
            "3/20 █░░░",
            "41k/2M",
            "12m",
            "30s",
            "need the API",
        ] {
            assert!(lines[2].contains(cell), "{cell} in {:?}", lines[2]);
        }
        assert!(
            lines[3].contains("web") && lines[3].contains("running"),
            "{text}"
        );
        assert!(lines[23].contains("q quit"), "{text}");
    }

    #[test]
    fn no_color_draws_no_colour_but_still_marks_the_selection() {
        let app = App::new(vec![row("/w/api", Phase::Blocked)]);
        let (_, buffer) = screen(&app, PLAIN);
        assert!(buffer.content().iter().all(|cell| cell.fg == Color::Reset));
        assert!(buffer[(0, 2)].modifier.contains(Modifier::REVERSED));
        let (_, coloured) = screen(
            &app,
            Look {
                color: true,
                unicode: true,
            },
        );
        assert!(coloured.content().iter().any(|cell| cell.fg == Color::Red));
        let (ascii, _) = screen(
            &app,
            Look {
                color: false,
                unicode: false,
            },
        );
        assert!(
            ascii.contains(">api") && ascii.contains("3/20 #..."),
            "{ascii}"
        );
    }

    #[test]
    fn the_detail_and_the_cancel_question_show() {
        let mut app = App::new(vec![row("/w/api", Phase::Blocked)]);
        app.key(Key::Enter);
        app.set_detail(Detail {
            show: "Ralph loop in /w/api (Codex)\n  iteration:   3/20".into(),
            log: (1..=30).map(|n| format!("entry {n}")).collect(),
        });
        let (text, _) = screen(&app, PLAIN);
        assert!(
            text.contains("Ralph loop in /w/api") && text.contains("Esc/Enter back"),
            "{text}"
        );
        assert!(
            text.contains("log (newest last):") && text.contains("entry 30"),
            "{text}"
        );
        assert!(!text.contains("entry 1 "), "only the newest fit: {text}");
        app.key(Key::Esc);
        app.key(Key::Char('c'));
        let (text, _) = screen(&app, PLAIN);
        assert!(text.contains("Cancel the loop in /w/api? y/n"), "{text}");
        let (text, _) = screen(&App::new(Vec::new()), PLAIN);
        assert!(text.contains("No ralph loops"), "{text}");
    }
}
