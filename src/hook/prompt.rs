//! `ralph-hook prompt`: the UserPromptSubmit hook that starts a loop from the user's own
//! words. Hooks run outside the agent's sandbox, so this is the one place that can
//! always write `<workspace>/.codex/`; the payload names the session to bind.

use std::io::Read;
use std::path::Path;

use crate::agent::Agent;
use crate::clock;
use crate::engine::config::UserConfig;
use crate::engine::decide::{self, PromptDecision, PromptEvent, PromptSource};
use crate::engine::lifecycle::{self, Because, Cancelled, Replace, Replaced, Started};
use crate::engine::lookup;
use crate::engine::render;
use crate::engine::session_events;
use crate::engine::state::StartedBy;
use crate::engine::status;
use crate::engine::workspace;
use crate::hook::event;
use crate::hook::loop_command::{self, LoopCommand};
use crate::hook::wire::{self, PromptInput, PromptOutput};
use crate::messages::warn;
use crate::shell;

/// Reads a UserPromptSubmit payload from `stdin` and returns the answer to print.
pub(crate) fn answer(stdin: impl Read, agent: Option<Agent>) -> PromptOutput {
    let input: PromptInput = match wire::read_payload(stdin)
        .and_then(|text| serde_json::from_str(&text).map_err(|err| err.to_string()))
    {
        Ok(input) => input,
        Err(why) => {
            warn(format!(
                "could not read the UserPromptSubmit payload: {why}"
            ));
            return PromptOutput::default();
        }
    };
    if !wire::is_event(input.hook_event_name.as_deref(), wire::PROMPT_EVENT) {
        warn(
            "a payload of another event reached `ralph-hook prompt`; fix the event in hooks.json or settings.json",
        );
        return PromptOutput::default();
    }
    let agent = agent.unwrap_or_else(|| wire::agent_of(input.turn_id.as_ref()));
    let source = source_of(&input);
    let parsed = loop_command::parse(&input.prompt);
    let Some(command) = parsed else {
        return plain_prompt(&input, agent, source);
    };
    if let PromptSource::Other(from) = source {
        // A `/loop` wake-up, a scheduled prompt, an SDK or system prompt: never the
        // user's own words, so it starts, cancels and replaces nothing.
        if let Some(store) = lookup::record_at(&input.cwd, agent) {
            session_events::note_ignored(
                &store,
                &input.session_id,
                from,
                &input.prompt,
                clock::now(),
            );
        }
        return PromptOutput::default();
    }
    if input.cwd.as_os_str().is_empty() {
        return refuse(
            agent,
            "the host sent no working directory, so there is no workspace to loop in",
        );
    }
    let workspace = workspace::root_of(&input.cwd);
    let store = match lookup::open_store(&workspace, agent) {
        Ok(store) => store,
        Err(err) => return refuse(agent, &err.to_string()),
    };
    let now = clock::now();
    let session = (!input.session_id.is_empty()).then_some(input.session_id.as_str());
    // Every refusal is recorded: `codex exec` and `claude -p` show the user none of it.
    let refused = |why: &str, fix: &str| {
        lifecycle::record_refusal(&store, session, &input.prompt, why, fix, now);
    };
    match command {
        Err(why) => {
            refused(&why, &fix(agent));
            refuse(agent, &why)
        }
        Ok(LoopCommand::Help) => PromptOutput::refuse(loop_command::usage(agent)),
        Ok(LoopCommand::Start {
            task,
            flags,
            replace,
        }) => {
            let settings =
                match UserConfig::load().and_then(|config| config.settings(&task, &flags)) {
                    Ok(settings) => settings,
                    Err(err) => {
                        refused(&err.to_string(), &fix(agent));
                        return refuse(agent, &err.to_string());
                    }
                };
            let session = session.map(str::to_string);
            match lifecycle::begin(
                &store,
                &settings,
                lifecycle::Binding {
                    session,
                    transcript: input.transcript_path.clone(),
                },
                StartedBy::PromptHook,
                Replace::Prompt { anyway: replace },
                Some(&event::prompt(&input)),
                now,
            ) {
                Ok(started) if started.again => PromptOutput::default(),
                Ok(started) => {
                    for warning in &started.warnings {
                        warn(warning);
                    }
                    let rules = render::rules(
                        &started.state,
                        &started.state_path,
                        &shell::show_command(&workspace),
                    );
                    PromptOutput::context(
                        rules,
                        Some(started_note(
                            agent,
                            &workspace,
                            &started,
                            settings.notify.as_deref(),
                        )),
                    )
                }
                Err(err) => {
                    refused(&err.to_string(), &fix(agent));
                    refuse(agent, &err.to_string())
                }
            }
        }
        Ok(LoopCommand::Cancel) => match lookup::find(&workspace, Some(agent))
            .and_then(|found| lifecycle::cancel(&found.store, now))
        {
            Ok(Cancelled::Removed(state) | Cancelled::Requested(state, _)) => {
                PromptOutput::refuse(format!(
                    "ralph-loop: cancelled the loop in {} at iteration {} (task: {}).",
                    render::printable(&workspace.display().to_string()),
                    render::iteration_label(&state),
                    render::printable(&render::task_headline(&state.prompt, 1))
                ))
            }
            Err(err) => {
                refused(&err.to_string(), "nothing was cancelled");
                PromptOutput::refuse(format!("ralph-loop: {err}."))
            }
        },
        Ok(LoopCommand::Resume) => {
            match lookup::find(&workspace, Some(agent)).and_then(|found| {
                let steering = found
                    .record
                    .as_ref()
                    .and_then(|record| record.state.steering.clone());
                lifecycle::set_paused(&found.store, false, now).map(|state| (state, steering))
            }) {
                Ok((state, steering)) => PromptOutput::context(
                    render::resumed_context(&state, None)
                        + &steering
                            .map(|words| render::steering_context(&words))
                            .unwrap_or_default(),
                    Some(format!(
                        "ralph-loop resumed at iteration {}.",
                        render::iteration_label(&state)
                    )),
                ),
                Err(err) => {
                    refused(&err.to_string(), "nothing was resumed");
                    PromptOutput::refuse(format!("ralph-loop: {err}."))
                }
            }
        }
        Ok(LoopCommand::Status) => {
            let text = lookup::find(&workspace, Some(agent))
                .map(|found| status::status_text(&found, now))
                .unwrap_or_else(|err| err.to_string());
            PromptOutput::refuse(text)
        }
    }
}

/// Who wrote the prompt. Claude Code 2.1.332 sends no `source` yet and runs this hook
/// for a background task's notification with the notification as the prompt
/// (`<task-notification>…`, captured in tests/fixtures/hosts/claude-2.1.332): that is
/// the host's text, never the user's.
fn source_of(input: &PromptInput) -> PromptSource<'_> {
    match input.source.as_deref() {
        None if input.prompt.trim_start().starts_with("<task-notification>") => {
            PromptSource::Other("task-notification")
        }
        source => PromptSource::of(source),
    }
}

/// Any other prompt, judged by [`decide::decide_prompt`]: the user's answer to a blocked
/// agent resumes the loop; the user's words in a running loop's session pause it while
/// they steer; a prompt that is not the user's changes nothing and is noted. The common
/// case (no loop of this session) is one record lookup, no lock, no write.
fn plain_prompt(input: &PromptInput, agent: Agent, source: PromptSource<'_>) -> PromptOutput {
    if input.session_id.is_empty() {
        return PromptOutput::default();
    }
    let Some(store) = lookup::record_at(&input.cwd, agent) else {
        return PromptOutput::default();
    };
    let state = store.load().ok().flatten().map(|record| record.state);
    let event = PromptEvent {
        session: &input.session_id,
        source,
        command: false,
    };
    match decide::decide_prompt(state.as_ref(), event) {
        PromptDecision::Pass => PromptOutput::default(),
        PromptDecision::Ignore => {
            let from = match source {
                PromptSource::Other(from) => from,
                PromptSource::User => "user",
            };
            session_events::note_ignored(
                &store,
                &input.session_id,
                from,
                &input.prompt,
                clock::now(),
            );
            PromptOutput::default()
        }
        PromptDecision::Resume => {
            match lifecycle::resume_blocked(
                &store,
                &input.session_id,
                input.transcript_path.as_deref(),
                clock::now(),
            ) {
                Ok(Some((state, reason))) => PromptOutput::context(
                    render::resumed_context(&state, Some(&reason)),
                    Some(format!(
                        "ralph-loop resumed at iteration {} with your answer.",
                        render::iteration_label(&state)
                    )),
                ),
                Ok(None) => PromptOutput::default(),
                Err(err) => {
                    warn(format!(
                        "could not resume the blocked loop: {err}; `ralph-hook resume` resumes it"
                    ));
                    PromptOutput::default()
                }
            }
        }
        PromptDecision::Retry => {
            match session_events::retry(&store, &input.session_id, clock::now()) {
                Ok(Some((state, kind))) => PromptOutput::context(
                    render::resumed_context(&state, None),
                    Some(format!(
                        "ralph-loop goes on at iteration {} after the API error ({}).",
                        render::iteration_label(&state),
                        render::printable(&kind)
                    )),
                ),
                Ok(None) => PromptOutput::default(),
                Err(err) => {
                    warn(format!("could not go on with the loop: {err}"));
                    PromptOutput::default()
                }
            }
        }
        PromptDecision::Steer => {
            match session_events::steer(&store, &input.session_id, &input.prompt, clock::now()) {
                Ok(Some(state)) => PromptOutput::context(
                    render::steering_note(&state, agent),
                    Some(format!(
                        "ralph-loop paused while you steer; `{} resume` goes on.",
                        agent.loop_command()
                    )),
                ),
                Ok(None) => PromptOutput::default(),
                Err(err) => {
                    warn(format!(
                        "could not pause the loop while you steer: {err}; it goes on"
                    ));
                    PromptOutput::default()
                }
            }
        }
    }
}

/// What the reply says about the loop a new one replaced.
fn replaced_note(replaced: &Replaced) -> String {
    let session = replaced
        .session
        .as_deref()
        .map(|s| format!("session {}", render::printable(s)))
        .unwrap_or_else(|| "no session".into());
    let since = replaced
        .last_active
        .map(|at| {
            format!(
                "idle since {} ({})",
                clock::format(at),
                clock::human(replaced.idle)
            )
        })
        .unwrap_or_else(|| "no sign of life".into());
    match replaced.because {
        Because::SameSession => " (it replaced this session's earlier loop)".to_string(),
        Because::Unclaimed => format!(" (it replaced a loop no session had claimed yet, {since})"),
        Because::Idle => format!(
            " (it replaced the loop of {session}, {since}: that session is gone or stopped working)"
        ),
        Because::Asked => format!(" (it replaced the loop of {session}, as --replace asked)"),
        Because::SessionEnded => {
            format!(" (it replaced the loop of {session}, whose session had ended)")
        }
    }
}

fn refuse(agent: Agent, why: &str) -> PromptOutput {
    PromptOutput::refuse(format!(
        "ralph-loop: {why}. Nothing was started; {}.",
        fix(agent)
    ))
}

/// What to do about a refused start, in the host's own syntax.
fn fix(agent: Agent) -> String {
    format!(
        "fix the prompt and send it again (`{} help` lists the flags)",
        agent.loop_command()
    )
}

/// What the user sees when a loop starts: what was understood (task, cap, signals,
/// budgets), in the host's own syntax for what to do next.
fn started_note(agent: Agent, workspace: &Path, started: &Started, notify: Option<&str>) -> String {
    let mut note = format!(
        "ralph-loop started in {}:\n{}",
        render::printable(&workspace.display().to_string()),
        render::labelled(&render::understood(&started.state, notify))
    );
    if let Some(replaced) = &started.replaced {
        note.push_str(&format!("\n  {}", replaced_note(replaced).trim()));
    }
    if let Some(kept) = &started.set_aside {
        note.push_str(&format!(
            "\n  (an earlier state file was kept as {})",
            render::printable(&kept.display().to_string())
        ));
    }
    let cmd = agent.loop_command();
    note.push_str(&format!(
        "\nSee it with `{cmd} status`; end it with `{cmd} cancel`."
    ));
    note
}
