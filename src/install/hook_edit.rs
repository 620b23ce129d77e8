//! Adding and removing ralph-hook's handlers in a hooks table, whichever file holds it
//! (Codex's hooks.json, hooks written inline in its config.toml, Claude Code's
//! settings.json), and what that does to the positions of everyone else's handlers:
//! Codex keys hook trust by position, so a handler that moves must take its trust along.

use serde_json::Value;

use super::command_line::{HookEvent, is_stop_dispatcher, ralph_hook_event};
use crate::error::Result;

/// Where one of ralph-hook's handlers sits: the indexes Codex puts in its trust keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HandlerPosition {
    /// The event array it is in.
    pub event: HookEvent,
    /// Index of the group in the event's array.
    pub group: usize,
    /// Index of the handler in the group's `hooks` array.
    pub handler: usize,
    /// The handler's command line.
    pub command: String,
}

/// What is in a file's hooks, as far as ralph-hook cares.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// ralph-hook's own handlers, in file order.
    pub ours: Vec<HandlerPosition>,
    /// The command of a Stop dispatcher that reaches ralph-hook through the entry point.
    pub dispatcher: Option<String>,
    /// How many other Stop handlers there are.
    pub other_stop_handlers: usize,
}

impl Found {
    /// Files the handler at `(group, handler)` of `event`, whatever file it came from:
    /// ralph-hook's own, a dispatcher that reaches it, or another tool's Stop handler.
    pub(super) fn note(&mut self, event: HookEvent, group: usize, handler: usize, command: &str) {
        if ralph_hook_event(command).is_some() {
            self.ours.push(HandlerPosition {
                event,
                group,
                handler,
                command: command.to_owned(),
            });
        } else if event == HookEvent::Stop {
            if is_stop_dispatcher(command) {
                self.dispatcher.get_or_insert_with(|| command.to_owned());
            } else {
                self.other_stop_handlers += 1;
            }
        }
    }
}

/// A handler of someone else's that changes position when ralph-hook's handlers go:
/// from `(group, handler)` to `(group, handler)` in the same event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shift {
    pub event: HookEvent,
    /// Group and handler index before.
    pub from: (usize, usize),
    /// Group and handler index after.
    pub to: (usize, usize),
}

/// What an edit did beyond the new text: what the user should know, which of ralph-hook's
/// handlers went (their positions before), and whose handlers moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    /// Lines for the report.
    pub notes: Vec<String>,
    /// ralph-hook's handlers removed (duplicates, or all of them on uninstall).
    pub removed: Vec<HandlerPosition>,
    /// Other handlers whose position changed.
    pub shifts: Vec<Shift>,
}

/// A file's hooks table, as the generic edits below need it.
pub(super) trait HookTable {
    /// ralph-hook's handlers, a Stop dispatcher and the count of other Stop handlers,
    /// with the shape of the two events ralph-hook uses checked.
    fn find(&self) -> Result<Found>;
    /// How many handlers each group of `event` holds (empty when the event is absent).
    fn group_sizes(&self, event: HookEvent) -> Vec<usize>;
    /// Puts `handler` in place of the handler at this position.
    fn replace(&mut self, position: &HandlerPosition, handler: &Value);
    /// Appends a group holding only `handler` to `event`, creating the event if needed.
    fn append(&mut self, event: HookEvent, handler: &Value) -> Result<()>;
    /// Removes the handlers at these positions (given in file order), then any group
    /// or event that this emptied (never one that was empty already).
    fn remove(&mut self, positions: &[&HandlerPosition]);
}

/// Makes the table hold exactly `wanted` as ralph-hook's handlers: updates the first one
/// of ours in each event in place (so other handlers keep their positions and their
/// Codex trust), removes duplicates, appends a new group when there is none. With
/// `dispatcher_owns_stop`, a Stop dispatcher that calls the entry point takes the place of
/// ralph-hook's own Stop handler.
pub(super) fn install(
    table: &mut dyn HookTable,
    wanted: &[(HookEvent, Value)],
    dispatcher_owns_stop: bool,
) -> Result<Edit> {
    let found = table.find()?;
    let mut edit = Edit::default();
    for (event, new_handler) in wanted {
        let mut positions: Vec<&HandlerPosition> =
            found.ours.iter().filter(|p| p.event == *event).collect();
        let skip = *event == HookEvent::Stop && dispatcher_owns_stop && found.dispatcher.is_some();
        if skip {
            if let Some(dispatcher) = &found.dispatcher {
                edit.notes.push(format!(
                    "Stop is owned by the dispatcher `{dispatcher}`: it reaches ralph-hook through hooks/ralph-loop-stop.sh, so no Stop handler of ralph-hook's own was added"
                ));
            }
        } else if let Some(first) = positions.first() {
            table.replace(first, new_handler);
            positions.remove(0);
        } else {
            table.append(*event, new_handler)?;
        }
        if *event == HookEvent::Stop && !skip && found.other_stop_handlers > 0 {
            edit.notes.push(format!(
                "{} other Stop handler(s) stay in place; when several Stop hooks block, the host joins their reasons",
                found.other_stop_handlers
            ));
        }
        remove_tracked(table, *event, &positions, &mut edit);
    }
    Ok(edit)
}

/// Removes every ralph-hook handler, then the groups and events that only held it.
pub(super) fn remove_ours(table: &mut dyn HookTable) -> Result<Edit> {
    let found = table.find()?;
    let mut edit = Edit::default();
    for event in HookEvent::ALL {
        let positions: Vec<&HandlerPosition> =
            found.ours.iter().filter(|p| p.event == event).collect();
        remove_tracked(table, event, &positions, &mut edit);
    }
    Ok(edit)
}

/// Removes positions of one event and notes what moved because of it.
fn remove_tracked(
    table: &mut dyn HookTable,
    event: HookEvent,
    positions: &[&HandlerPosition],
    edit: &mut Edit,
) {
    if positions.is_empty() {
        return;
    }
    edit.shifts
        .extend(shifts(event, &table.group_sizes(event), positions));
    table.remove(positions);
    edit.removed.extend(positions.iter().map(|p| (*p).clone()));
}

/// The handlers of `event` that change position when `removed` go, given how many
/// handlers each group holds: a group that loses all its handlers goes with them, so the
/// groups after it move up one; a handler after a removed one in its group moves left.
pub(super) fn shifts(
    event: HookEvent,
    sizes: &[usize],
    removed: &[&HandlerPosition],
) -> Vec<Shift> {
    let mut moved = Vec::new();
    let mut new_group = 0;
    for (group, &size) in sizes.iter().enumerate() {
        let gone = |handler: usize| {
            removed
                .iter()
                .any(|p| p.event == event && p.group == group && p.handler == handler)
        };
        let kept: Vec<usize> = (0..size).filter(|&handler| !gone(handler)).collect();
        if size > 0 && kept.is_empty() {
            continue;
        }
        for (new_handler, handler) in kept.into_iter().enumerate() {
            if (group, handler) != (new_group, new_handler) {
                moved.push(Shift {
                    event,
                    from: (group, handler),
                    to: (new_group, new_handler),
                });
            }
        }
        new_group += 1;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(group: usize, handler: usize) -> HandlerPosition {
        HandlerPosition {
            event: HookEvent::Stop,
            group,
            handler,
            command: "ralph-hook stop".into(),
        }
    }

    #[test]
    fn groups_after_a_removed_group_move_up_and_empty_groups_keep_their_place() {
        let ours = at(1, 0);
        assert_eq!(
            shifts(HookEvent::Stop, &[1, 1, 2, 0, 1], &[&ours]),
            vec![
                Shift {
                    event: HookEvent::Stop,
                    from: (2, 0),
                    to: (1, 0)
                },
                Shift {
                    event: HookEvent::Stop,
                    from: (2, 1),
                    to: (1, 1)
                },
                Shift {
                    event: HookEvent::Stop,
                    from: (4, 0),
                    to: (3, 0)
                },
            ]
        );
    }

    #[test]
    fn handlers_after_a_removed_handler_in_a_shared_group_move_left() {
        let ours = at(0, 1);
        assert_eq!(
            shifts(HookEvent::Stop, &[3, 1], &[&ours]),
            vec![Shift {
                event: HookEvent::Stop,
                from: (0, 2),
                to: (0, 1)
            }]
        );
    }

    #[test]
    fn removing_the_last_group_moves_nothing() {
        let ours = at(2, 0);
        assert!(shifts(HookEvent::Stop, &[1, 1, 1], &[&ours]).is_empty());
        let other_event = HandlerPosition {
            event: HookEvent::Prompt,
            ..at(0, 0)
        };
        assert!(shifts(HookEvent::Stop, &[1, 1], &[&other_event]).is_empty());
    }
}
