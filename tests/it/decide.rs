//! Table tests of the pure decision core, on the messages of the real captured payloads.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ralph_hook::testing::engine::decide::{
    BudgetWarning, Continuation, Cost, Decision, Outcome, PromptDecision, PromptEvent,
    PromptSource, Request, StopEvent, Verification, Verified, decide, decide_prompt,
};
use ralph_hook::testing::engine::fingerprint::{Fingerprint, PathMark};
use ralph_hook::testing::engine::ownership::{Standing, Untrusted};
use ralph_hook::testing::engine::render;
use ralph_hook::testing::engine::sample::SampleLoop;
use ralph_hook::testing::engine::settings::RawLoopFlags;
use ralph_hook::testing::engine::signal::Tag;
use ralph_hook::testing::engine::state::LoopState;
use ralph_hook::testing::hook::wire::StopInput;

fn fixture_message(text: &str) -> String {
    let input: StopInput = serde_json::from_str(text).expect("fixture parses");
    input.last_assistant_message.expect("fixture has a message")
}

fn codex_first() -> String {
    fixture_message(include_str!(
        "../fixtures/hosts/codex-0.169.0/stop-first.json"
    ))
}
fn codex_done() -> String {
    fixture_message(include_str!(
        "../fixtures/hosts/codex-0.169.0/stop-continued.json"
    ))
}
fn claude_first() -> String {
    fixture_message(include_str!(
        "../fixtures/hosts/claude-2.1.328/stop-first.json"
    ))
}
fn claude_done() -> String {
    fixture_message(include_str!(
        "../fixtures/hosts/claude-2.1.328/stop-continued.json"
    ))
}

const T0: u64 = 1_790_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn loop_with(edit: impl FnOnce(&mut RawLoopFlags)) -> LoopState {
    SampleLoop::default().flags(edit).at(at(0)).build()
}

fn message(text: &str) -> StopEvent<'_> {
    StopEvent {
        message: Some(text),
        ..StopEvent::default()
    }
}

#[test]
fn the_fixture_messages_decide_as_a_user_expects() {
    struct Case {
        name: &'static str,
        message: String,
        iteration: u32,
        expected: Decision,
        tag: Tag,
    }
    let block_missing = Decision::Block(Continuation {
        missing_signal: true,
        rejected: None,
        tasks: Vec::new(),
        warnings: Vec::new(),
        wrap_up: None,
    });
    let cases = [
        Case {
            name: "codex first turn",
            message: codex_first(),
            iteration: 0,
            expected: block_missing.clone(),
            tag: Tag::None,
        },
        Case {
            name: "codex promise",
            message: codex_done(),
            iteration: 1,
            expected: Decision::Finish(Outcome::Completed),
            tag: Tag::Promise,
        },
        Case {
            name: "claude first turn",
            message: claude_first(),
            iteration: 0,
            expected: block_missing,
            tag: Tag::None,
        },
        Case {
            name: "claude promise",
            message: claude_done(),
            iteration: 1,
            expected: Decision::Finish(Outcome::Completed),
            tag: Tag::Promise,
        },
        Case {
            name: "promise at the cap still completes",
            message: codex_done(),
            iteration: 50,
            expected: Decision::Finish(Outcome::Completed),
            tag: Tag::Promise,
        },
        Case {
            name: "no promise at the cap",
            message: codex_first(),
            iteration: 50,
            expected: Decision::Finish(Outcome::IterationCap),
            tag: Tag::None,
        },
    ];
    for case in cases {
        let mut state = loop_with(|_| {});
        state.iteration = case.iteration;
        let step = decide(&state, message(&case.message), at(60));
        assert_eq!(step.decision, case.expected, "{}", case.name);
        assert_eq!(step.tag, case.tag, "{}", case.name);
        match step.decision {
            Decision::Block(_) => {
                assert_eq!(step.state.iteration, case.iteration + 1, "{}", case.name);
                assert!(step.state.active);
            }
            Decision::Finish(_) => assert!(!step.state.active, "{}", case.name),
            Decision::Allow
            | Decision::Duplicate
            | Decision::MovedOn
            | Decision::Blocked(_)
            | Decision::Verify
            | Decision::Wait(_)
            | Decision::Ignore
            | Decision::NotFollowed(_) => {}
        }
    }
}

#[test]
fn a_paused_or_finished_loop_allows_without_counting() {
    let mut paused = loop_with(|_| {});
    paused.paused = true;
    let step = decide(&paused, message("x"), at(1));
    assert_eq!(step.decision, Decision::Allow);
    // Nothing is counted; the first stop let through is what the record says happened.
    assert_eq!(step.state.iteration, paused.iteration);
    assert_eq!(step.state.tokens_used, paused.tokens_used);
    let last = step
        .state
        .last_decision
        .clone()
        .expect("the stop let through");
    assert_eq!(last.why, ralph_hook::testing::engine::decide::PAUSED_STOP);
    let again = decide(&step.state, message("y"), at(2));
    assert_eq!(again.decision, Decision::Allow);
    assert_eq!(again.state, step.state, "a second stop changes nothing");
    let mut inactive = loop_with(|_| {});
    inactive.active = false;
    assert_eq!(
        decide(&inactive, message("x"), at(1)).decision,
        Decision::Allow
    );
}

#[test]
fn no_cap_means_the_count_goes_on() {
    let mut state = loop_with(|r| r.max_iterations = Some("0".into()));
    state.iteration = 10_000;
    let step = decide(&state, message("x"), at(1));
    assert!(matches!(step.decision, Decision::Block(_)));
    assert_eq!(step.state.iteration, 10_001);
}

#[test]
fn the_time_budget_ends_the_loop_at_exactly_its_limit() {
    let state = loop_with(|r| r.max_duration = Some("90m".into()));
    assert!(matches!(
        decide(&state, message("a"), at(90 * 60 - 1)).decision,
        Decision::Block(_)
    ));
    assert_eq!(
        decide(&state, message("a"), at(90 * 60)).decision,
        Decision::Finish(Outcome::TimeLimit)
    );
}

#[test]
fn the_iteration_cap_ends_the_loop_at_exactly_its_stop() {
    let mut state = loop_with(|r| {
        r.max_iterations = Some("3".into());
        r.no_progress = Some("0".into());
    });
    let mut decisions = Vec::new();
    for stop in 0..5 {
        let step = decide(&state, message("same"), at(stop));
        decisions.push(step.decision.clone());
        if !step.state.active {
            break;
        }
        state = step.state;
    }
    assert_eq!(decisions.len(), 4, "3 blocks, then the cap: {decisions:?}");
    assert_eq!(decisions[3], Decision::Finish(Outcome::IterationCap));
}

#[test]
fn the_same_message_n_stops_in_a_row_ends_the_loop() {
    let mut state = loop_with(|r| r.no_progress = Some("3".into()));
    for (stop, text) in ["working", "stuck  here", "stuck here", " stuck\nhere "]
        .iter()
        .enumerate()
    {
        let step = decide(&state, message(text), at(stop as u64));
        if stop < 3 {
            assert!(matches!(step.decision, Decision::Block(_)), "stop {stop}");
        } else {
            assert_eq!(step.decision, Decision::Finish(Outcome::RepeatedMessage));
        }
        state = step.state;
    }
}

/// A look at a workspace whose one changed path has this mark.
fn look(digest: &str, head: &str, path: &str, mark: &str) -> Fingerprint {
    Fingerprint {
        digest: digest.into(),
        head: head.into(),
        paths: vec![PathMark {
            path: path.into(),
            mark: mark.into(),
            changed_ns: 1,
        }],
    }
}

#[test]
fn an_unchanged_workspace_over_n_stops_ends_the_loop() {
    let mut state = loop_with(|r| r.no_progress = Some("2".into()));
    state.progress.workspace_digest = Some("d0".into());
    let d1 = look("d1", "main c1", "work.txt", "m1");
    let mut decisions = Vec::new();
    for stop in 0..3 {
        let event = StopEvent {
            message: Some(["a", "b", "c"][stop]),
            workspace: Some(&d1),
            ..StopEvent::default()
        };
        let step = decide(&state, event, at(stop as u64));
        decisions.push(step.decision.clone());
        state = step.state;
    }
    assert!(
        matches!(decisions[0], Decision::Block(_)),
        "d0→d1 is progress"
    );
    assert!(matches!(decisions[1], Decision::Block(_)));
    assert_eq!(decisions[2], Decision::Finish(Outcome::UnchangedWorkspace));
}

#[test]
fn the_brake_remembers_the_last_change_and_the_prompt_warns_before_it_ends_the_loop() {
    let mut state = loop_with(|r| r.no_progress = Some("3".into()));
    state
        .progress
        .remember_workspace(&look("d0", "main c1", "work.txt", "m0"));
    let edited = look("d1", "main c1", "work.txt", "m1");
    let stop = |state: &LoopState, text: &str, workspace: &Fingerprint, secs: u64| {
        let event = StopEvent {
            message: Some(text),
            workspace: Some(workspace),
            ..StopEvent::default()
        };
        decide(state, event, at(secs))
    };
    let step = stop(&state, "edited", &edited, 1);
    let change = step.state.progress.last_change.clone().expect("a change");
    assert_eq!(change.what, "work.txt");
    assert_eq!(change.iteration, 0);
    assert_eq!(step.state.unchanged_stops_left(), Some(3));
    state = step.state;
    let prompt = |state: &LoopState| {
        render::continuation_prompt(state, &Continuation::default(), Path::new("/s"), at(9))
    };
    for (secs, left) in [(2, 2), (3, 1)] {
        let step = stop(&state, &format!("reading {secs}"), &edited, secs);
        assert!(matches!(step.decision, Decision::Block(_)));
        state = step.state;
        assert_eq!(state.unchanged_stops_left(), Some(left));
        assert_eq!(
            prompt(&state).contains("the next stop that finds the workspace unchanged"),
            left == 1,
            "{}",
            prompt(&state)
        );
    }
    let step = stop(&state, "still reading", &edited, 4);
    assert_eq!(step.decision, Decision::Finish(Outcome::UnchangedWorkspace));
    let said = render::outcome_message(&step.state, &Outcome::UnchangedWorkspace);
    assert!(
        said.contains("the last change it saw was work.txt at iteration 0"),
        "{said}"
    );
}

#[test]
fn a_commit_is_named_as_the_last_change() {
    let mut state = loop_with(|r| r.no_progress = Some("3".into()));
    state
        .progress
        .remember_workspace(&look("d0", "main 1111111aaaa", "work.txt", "m0"));
    let committed = Fingerprint {
        digest: "d1".into(),
        head: "main 2222222bbbb".into(),
        paths: Vec::new(),
    };
    let event = StopEvent {
        message: Some("committed"),
        workspace: Some(&committed),
        ..StopEvent::default()
    };
    let step = decide(&state, event, at(1));
    let change = step.state.progress.last_change.expect("a change");
    assert_eq!(change.what, "commit 2222222 on main");
}

#[test]
fn no_progress_zero_turns_the_brake_off() {
    let mut state = loop_with(|r| r.no_progress = Some("0".into()));
    let same = look("same", "main c", "a", "m");
    for stop in 0..10 {
        let event = StopEvent {
            message: Some("same"),
            workspace: Some(&same),
            ..StopEvent::default()
        };
        let step = decide(&state, event, at(stop));
        assert!(matches!(step.decision, Decision::Block(_)));
        state = step.state;
    }
}

#[test]
fn a_promise_with_a_verify_command_is_judged_by_it() {
    let state = loop_with(|r| r.verify = Some("cargo test".into()));
    let done = codex_done();
    assert_eq!(
        decide(&state, message(&done), at(1)).decision,
        Decision::Verify
    );

    let passed = Verification::Passed;
    let event = StopEvent {
        message: Some(&done),
        workspace: None,
        verification: Some(Verified::of(&passed, &state)),
        ..StopEvent::default()
    };
    assert_eq!(
        decide(&state, event, at(1)).decision,
        Decision::Finish(Outcome::Verified)
    );

    for rejected in [
        Verification::Failed {
            status: "exit code 101".into(),
            tail: "test foo ... FAILED".into(),
        },
        Verification::TimedOut {
            after: Duration::from_secs(300),
            tail: String::new(),
        },
        Verification::CouldNotStart {
            error: "sh: not found".into(),
        },
    ] {
        let event = StopEvent {
            message: Some(&done),
            workspace: None,
            verification: Some(Verified::of(&rejected, &state)),
            ..StopEvent::default()
        };
        let step = decide(&state, event, at(1));
        assert_eq!(
            step.decision,
            Decision::Block(Continuation {
                missing_signal: false,
                rejected: Some(rejected.clone()),
                tasks: Vec::new(),
                warnings: Vec::new(),
                wrap_up: None,
            }),
        );
        assert_eq!(step.state.iteration, 1);
    }
}

#[test]
fn a_rejected_completion_at_the_cap_ends_at_the_cap() {
    let mut state = loop_with(|r| {
        r.verify = Some("false".into());
        r.max_iterations = Some("2".into());
    });
    state.iteration = 2;
    let failed = Verification::Failed {
        status: "exit code 1".into(),
        tail: String::new(),
    };
    let done = codex_done();
    let event = StopEvent {
        message: Some(&done),
        workspace: None,
        verification: Some(Verified::of(&failed, &state)),
        ..StopEvent::default()
    };
    assert_eq!(
        decide(&state, event, at(1)).decision,
        Decision::Finish(Outcome::IterationCap)
    );
}

#[test]
fn a_verify_result_counts_only_for_the_loop_and_iteration_it_ran_for() {
    let state = loop_with(|r| r.verify = Some("cargo test".into()));
    let done = codex_done();
    let passed = Verification::Passed;
    let failed = Verification::Failed {
        status: "exit code 1".into(),
        tail: String::new(),
    };
    let mut moved_on = state.clone();
    moved_on.iteration += 1;
    let mut replaced = state.clone();
    replaced.loop_id = Some("ANOTHER".into());
    for (name, now_state, result, expected) in [
        (
            "same loop, passed",
            &state,
            &passed,
            Decision::Finish(Outcome::Verified),
        ),
        (
            "another stop moved it on, passed",
            &moved_on,
            &passed,
            Decision::MovedOn,
        ),
        (
            "another stop moved it on, failed",
            &moved_on,
            &failed,
            Decision::MovedOn,
        ),
        (
            "a new loop replaced it, passed",
            &replaced,
            &passed,
            Decision::MovedOn,
        ),
    ] {
        for request in [None, now_state.loop_id.as_deref()] {
            let event = StopEvent {
                message: Some(&done),
                cancel_request: request,
                verification: Some(Verified::of(result, &state)),
                ..StopEvent::default()
            };
            let step = decide(now_state, event, at(1));
            if expected == Decision::MovedOn {
                assert_eq!(step.decision, expected, "{name} {request:?}");
                assert_eq!(&step.state, now_state, "{name}: the loop changed");
                assert_eq!(step.request, Request::None, "{name}: took the request");
            } else if request.is_none() {
                assert_eq!(step.decision, expected, "{name}");
            }
        }
    }
    // Another session's stop stays ignored whatever the result.
    let event = StopEvent {
        standing: Standing::OtherSession,
        message: Some(&done),
        verification: Some(Verified::of(&passed, &state)),
        ..StopEvent::default()
    };
    assert_eq!(decide(&moved_on, event, at(1)).decision, Decision::Ignore);
}

#[test]
fn a_stop_the_other_installation_answered_changes_nothing_but_is_still_judged_for_trust() {
    let mut unclaimed = loop_with(|_| {});
    unclaimed.session_id = None;
    let owned = loop_with(|_| {});
    let done = codex_done();
    for (name, state, standing, expected) in [
        ("owner", &owned, Standing::Owner, Decision::Duplicate),
        ("claim", &unclaimed, Standing::Claim, Decision::Duplicate),
        (
            "other session",
            &owned,
            Standing::OtherSession,
            Decision::Ignore,
        ),
        (
            "untrusted",
            &owned,
            Standing::Untrusted(Untrusted::NoRecord),
            Decision::NotFollowed(Untrusted::NoRecord),
        ),
    ] {
        for message in [Some(done.as_str()), Some("working"), None] {
            let event = StopEvent {
                standing,
                session: "S",
                seen_again: true,
                cancel_request: state.loop_id.as_deref(),
                message,
                tokens: Some(500),
                ..StopEvent::default()
            };
            let step = decide(state, event, at(1));
            assert_eq!(step.decision, expected, "{name} {message:?}");
            assert_eq!(&step.state, state, "{name}: the loop changed");
            assert!(!step.claimed, "{name}: a duplicate claimed the loop");
            assert_eq!(step.request, Request::None, "{name}: took the request");
            assert_eq!(step.tokens, None, "{name}: counted tokens twice");
        }
    }
    // The first run of the same stop decides as usual.
    let event = StopEvent {
        session: "S",
        message: Some("working"),
        ..StopEvent::default()
    };
    assert!(matches!(
        decide(&owned, event, at(1)).decision,
        Decision::Block(_)
    ));
}

#[test]
fn every_way_a_loop_ends_has_its_own_reason_code() {
    let outcomes = Outcome::ALL;
    let codes: std::collections::BTreeSet<&str> = outcomes.iter().map(Outcome::code).collect();
    assert_eq!(codes.len(), outcomes.len());
}

// ---- trust and cancel requests: the rest of the truth table ----

#[test]
fn a_stop_that_does_not_own_the_loop_changes_nothing_whatever_it_says() {
    let state = loop_with(|r| r.verify = Some("touch pwned".into()));
    let done = codex_done();
    for (standing, expected) in [
        (Standing::OtherSession, Decision::Ignore),
        (
            Standing::Untrusted(Untrusted::Legacy),
            Decision::NotFollowed(Untrusted::Legacy),
        ),
        (
            Standing::Untrusted(Untrusted::NoRecord),
            Decision::NotFollowed(Untrusted::NoRecord),
        ),
    ] {
        for request in [None, Some("L")] {
            let event = StopEvent {
                standing,
                session: "B",
                cancel_request: request,
                message: Some(&done),
                ..StopEvent::default()
            };
            let step = decide(&state, event, at(1));
            assert_eq!(step.decision, expected, "{standing:?} {request:?}");
            assert_eq!(step.state, state, "{standing:?} changed the loop");
            assert_eq!(step.request, Request::None, "{standing:?} took the request");
            assert!(!step.claimed);
        }
    }
}

#[test]
fn a_claim_binds_the_session_and_then_decides_as_the_owner() {
    let mut state = loop_with(|_| {});
    state.session_id = None;
    let event = StopEvent {
        standing: Standing::Claim,
        session: "FIRST",
        message: Some("working"),
        ..StopEvent::default()
    };
    let step = decide(&state, event, at(1));
    assert!(step.claimed);
    assert!(matches!(step.decision, Decision::Block(_)));
    assert_eq!(step.state.session_id.as_deref(), Some("FIRST"));
    assert_eq!(step.state.iteration, 1);

    state.paused = true;
    let step = decide(&state, event, at(1));
    assert_eq!(step.decision, Decision::Allow);
    assert!(step.claimed, "a paused loop is still claimed");
    assert_eq!(step.state.session_id.as_deref(), Some("FIRST"));
}

#[test]
fn a_cancel_request_ends_the_loop_only_when_it_names_it() {
    let mut state = loop_with(|_| {});
    state.paused = true;
    let named = StopEvent {
        cancel_request: Some("L"),
        message: Some(DONE_TEXT),
        ..StopEvent::default()
    };
    let step = decide(&state, named, at(1));
    assert_eq!(step.decision, Decision::Finish(Outcome::Cancelled));
    assert_eq!(step.request, Request::Honoured);
    assert!(!step.state.active);

    state.paused = false;
    let other = StopEvent {
        cancel_request: Some("someone-elses"),
        message: Some("working"),
        ..StopEvent::default()
    };
    let step = decide(&state, other, at(1));
    assert!(matches!(step.decision, Decision::Block(_)));
    assert_eq!(step.request, Request::OtherLoop);
}

const DONE_TEXT: &str = "done <promise>DONE</promise>";

fn spending(text: &str, tokens: u64) -> StopEvent<'_> {
    StopEvent {
        tokens: Some(tokens),
        ..message(text)
    }
}

#[test]
fn the_token_budget_ends_the_loop_at_the_stop_that_reaches_it_and_not_before() {
    let state = loop_with(|f| f.max_tokens = Some("10k".into()));
    assert_eq!(state.max_tokens, Some(10_000));
    let step = decide(&state, spending("a", 9_999), at(1));
    assert!(matches!(step.decision, Decision::Block(_)));
    assert_eq!(step.state.tokens_used, 9_999);
    assert_eq!(step.tokens, Some(9_999), "the step says what it counted");
    assert_eq!(step.state.tokens_left(), Some(1));
    let step = decide(&step.state, spending("b", 1), at(2));
    assert_eq!(step.decision, Decision::Finish(Outcome::TokenLimit));
    assert_eq!(step.state.tokens_used, 10_000);
    assert!(render::outcome_message(&step.state, &Outcome::TokenLimit).contains("[max_tokens]"));
    // Counted tokens add up; a stop that could not count adds nothing.
    let step = decide(&state, message("c"), at(1));
    assert_eq!(step.state.tokens_used, 0);
}

#[test]
fn without_a_budget_tokens_are_kept_but_never_end_the_loop_and_completion_wins_over_the_budget() {
    let state = loop_with(|_| {});
    let step = decide(&state, spending("a", u64::MAX), at(1));
    assert!(matches!(step.decision, Decision::Block(_)));
    let mut spent = loop_with(|f| f.max_tokens = Some("1k".into()));
    spent.tokens_used = 999;
    let done = decide(&spent, spending("<promise>DONE</promise>", 5), at(1));
    assert_eq!(done.decision, Decision::Finish(Outcome::Completed));
    let saturated = decide(&spent, spending("a", u64::MAX), at(1));
    assert_eq!(saturated.state.tokens_used, u64::MAX);
    assert_eq!(saturated.decision, Decision::Finish(Outcome::TokenLimit));
}

#[test]
fn under_a_fifth_of_the_token_budget_left_the_prompt_says_how_much() {
    let mut state = loop_with(|f| f.max_tokens = Some("10k".into()));
    let prompt = |state: &LoopState| {
        render::continuation_prompt(
            state,
            &Continuation::default(),
            Path::new("/w/.codex/ralph-loop-state.json"),
            at(1),
        )
    };
    state.tokens_used = 8_000;
    assert!(!prompt(&state).contains("tokens of"), "{}", prompt(&state));
    state.tokens_used = 8_001;
    assert!(
        prompt(&state).contains("; 2k tokens of 10k."),
        "{}",
        prompt(&state)
    );
}

fn paying(text: &str, nanos: u64) -> StopEvent<'_> {
    StopEvent {
        cost: Some(Cost::Priced(nanos)),
        ..message(text)
    }
}

#[test]
fn the_money_budget_ends_the_loop_at_the_stop_that_reaches_it_and_not_before() {
    struct Row {
        budget: &'static str,
        spent_before: u64,
        this_stop: u64,
        message: &'static str,
        ends: Option<Outcome>,
    }
    let rows = [
        // $5 = 5e9 nanodollars; one nanodollar short goes on.
        Row {
            budget: "5",
            spent_before: 0,
            this_stop: 4_999_999_999,
            message: "a",
            ends: None,
        },
        Row {
            budget: "5",
            spent_before: 4_999_999_999,
            this_stop: 1,
            message: "a",
            ends: Some(Outcome::CostLimit),
        },
        Row {
            budget: "$0.01",
            spent_before: 0,
            this_stop: 20_000_000,
            message: "a",
            ends: Some(Outcome::CostLimit),
        },
        // Completion wins over a spent budget, as with tokens.
        Row {
            budget: "0.01",
            spent_before: 0,
            this_stop: 20_000_000,
            message: DONE_TEXT,
            ends: Some(Outcome::Completed),
        },
        // Saturates instead of wrapping.
        Row {
            budget: "1",
            spent_before: u64::MAX,
            this_stop: u64::MAX,
            message: "a",
            ends: Some(Outcome::CostLimit),
        },
    ];
    for (n, row) in rows.iter().enumerate() {
        let mut state = loop_with(|f| f.max_cost = Some(row.budget.into()));
        state.cost_nanos = row.spent_before;
        let step = decide(&state, paying(row.message, row.this_stop), at(1));
        match row.ends {
            None => assert!(
                matches!(step.decision, Decision::Block(_)),
                "row {n}: {:?}",
                step.decision
            ),
            Some(outcome) => assert_eq!(step.decision, Decision::Finish(outcome), "row {n}"),
        }
        assert_eq!(
            step.state.cost_nanos,
            row.spent_before.saturating_add(row.this_stop),
            "row {n}"
        );
        assert_eq!(
            step.cost,
            Some(row.this_stop),
            "row {n}: the step says what it priced"
        );
    }
    let state = loop_with(|f| f.max_cost = Some("5".into()));
    let step = decide(&state, paying("a", 4_000_000_000), at(1));
    assert_eq!(step.state.cost_left(), Some(1_000_000_000));
    let step = decide(&step.state, paying("b", 1_000_000_000), at(2));
    let words = render::outcome_message(&step.state, &Outcome::CostLimit);
    assert!(words.contains("[max_cost]"), "{words}");
    assert!(
        words.contains("$5.00") && words.contains("--max-cost"),
        "{words}"
    );
}

#[test]
fn an_unpriced_response_ends_a_loop_with_a_money_budget_and_never_counts_as_free() {
    let why = "the model \"mock-model\" has no price";
    let unpriced = |text| StopEvent {
        cost: Some(Cost::Unpriced(why)),
        ..message(text)
    };
    let state = loop_with(|f| f.max_cost = Some("5".into()));
    let step = decide(&state, unpriced("a"), at(1));
    assert_eq!(step.decision, Decision::Finish(Outcome::CostLimit));
    assert_eq!(step.unpriced.as_deref(), Some(why));
    assert_eq!(step.cost, None);
    assert_eq!(step.state.cost_nanos, 0);
    // Without a money budget an unpriced response changes nothing.
    let free = loop_with(|_| {});
    let step = decide(&free, unpriced("a"), at(1));
    assert!(matches!(step.decision, Decision::Block(_)));
    assert_eq!(step.unpriced, None);
    // A paused loop neither counts nor ends on it.
    let mut paused = loop_with(|f| f.max_cost = Some("5".into()));
    paused.paused = true;
    let step = decide(&paused, paying("a", 10_000_000_000), at(1));
    assert_eq!(step.decision, Decision::Allow);
    assert_eq!((step.cost, step.state.cost_nanos), (None, 0));
    assert_eq!(
        decide(&paused, unpriced("a"), at(1)).decision,
        Decision::Allow
    );
}

#[test]
fn under_a_fifth_of_the_money_budget_left_the_prompt_says_how_much() {
    let mut state = loop_with(|f| f.max_cost = Some("10".into()));
    let prompt = |state: &LoopState| {
        render::continuation_prompt(
            state,
            &Continuation::default(),
            Path::new("/w/.codex/ralph-loop-state.json"),
            at(1),
        )
    };
    state.cost_nanos = 8_000_000_000;
    assert!(!prompt(&state).contains("$10.00"), "{}", prompt(&state));
    state.cost_nanos = 8_500_000_000;
    assert!(
        prompt(&state).contains("$1.50 of $10.00"),
        "{}",
        prompt(&state)
    );
}

#[test]
fn each_budget_warns_once_per_threshold_and_the_prompt_says_what_is_left() {
    let warnings = |step: &ralph_hook::testing::engine::decide::Step| match &step.decision {
        Decision::Block(how) => how.warnings.clone(),
        other => panic!("{other:?}"),
    };
    let warn = |budget, percent| BudgetWarning { budget, percent };
    let state = loop_with(|f| {
        f.max_tokens = Some("10k".into());
        f.max_iterations = Some("10".into());
    });
    assert_eq!(state.warn_at, [50, 80, 100], "the default thresholds");
    // 4k: under every threshold.
    let step = decide(&state, spending("a", 4_000), at(1));
    assert_eq!(warnings(&step), []);
    // 8.5k crosses 50% and 80% at once: both, once each.
    let step = decide(&step.state, spending("b", 4_500), at(2));
    assert_eq!(warnings(&step), [warn("tokens", 50), warn("tokens", 80)]);
    let prompt = render::continuation_prompt(
        &step.state,
        &Continuation {
            warnings: warnings(&step),
            ..Continuation::default()
        },
        Path::new("/w/.codex/ralph-loop-state.json"),
        at(2),
    );
    assert!(
        prompt.contains(
            "Budget warning: 80% of the token budget is used (8.5k tokens of 10k; 1.5k left)"
        ),
        "{prompt}"
    );
    let step = decide(&step.state, spending("c", 100), at(3));
    assert_eq!(warnings(&step), [], "never twice");
    // The iteration cap: 50% at the fifth continuation, 100% at the tenth (the last).
    let mut state = loop_with(|f| {
        f.max_iterations = Some("10".into());
        f.no_progress = Some("0".into());
    });
    let mut seen = Vec::new();
    for n in 0..10 {
        let step = decide(&state, message("x"), at(n + 1));
        seen.extend(
            warnings(&step)
                .into_iter()
                .map(|w| (step.state.iteration, w.percent)),
        );
        state = step.state;
    }
    assert_eq!(seen, [(5, 50), (8, 80), (10, 100)]);
    // Off: never.
    let off = loop_with(|f| {
        f.max_iterations = Some("2".into());
        f.warn_at = Some("off".into());
    });
    assert_eq!(warnings(&decide(&off, message("x"), at(1))), []);
}

#[test]
fn a_spent_budget_with_wrap_up_gives_exactly_one_last_turn_then_ends_with_its_outcome() {
    struct Row {
        flags: fn(&mut RawLoopFlags),
        spend: u64,
        wraps: Option<&'static str>,
        outcome: Outcome,
    }
    let rows = [
        Row {
            flags: |f| {
                f.max_tokens = Some("1k".into());
                f.wrap_up = Some("on".into());
            },
            spend: 1_000,
            wraps: Some("token budget"),
            outcome: Outcome::TokenLimit,
        },
        Row {
            flags: |f| {
                f.max_tokens = Some("1k".into());
                f.wrap_up = Some("off".into());
            },
            spend: 1_000,
            wraps: None,
            outcome: Outcome::TokenLimit,
        },
        // The cap means the cap unless `all`.
        Row {
            flags: |f| {
                f.max_iterations = Some("1".into());
                f.wrap_up = Some("on".into());
            },
            spend: 0,
            wraps: None,
            outcome: Outcome::IterationCap,
        },
        Row {
            flags: |f| {
                f.max_iterations = Some("1".into());
                f.wrap_up = Some("all".into());
            },
            spend: 0,
            wraps: Some("iteration cap"),
            outcome: Outcome::IterationCap,
        },
    ];
    for (n, row) in rows.iter().enumerate() {
        let mut state = loop_with(row.flags);
        if state.max_iterations == 1 {
            state.iteration = 1;
        }
        let step = decide(&state, spending("working", row.spend), at(1));
        match (row.wraps, &step.decision) {
            (Some(budget), Decision::Block(how)) => {
                assert_eq!(how.wrap_up, Some(budget), "row {n}");
                let prompt =
                    render::continuation_prompt(&step.state, how, Path::new("/w/s.json"), at(1));
                assert!(
                    prompt.contains(&format!("The {budget} is spent: commit what works, write the hand-off note, and stop.")),
                    "{prompt}"
                );
                // The wrap-up turn's stop ends the loop with the budget's outcome, even
                // though it asks to go on.
                let last = decide(&step.state, spending("notes written", 5), at(2));
                assert_eq!(last.decision, Decision::Finish(row.outcome), "row {n}");
            }
            (None, decision) => {
                assert_eq!(*decision, Decision::Finish(row.outcome), "row {n}");
            }
            (Some(_), other) => panic!("row {n}: {other:?}"),
        }
    }
    // A turn that overran the time budget by less than the bound (ten minutes) gets its
    // wrap-up; by more, none.
    let timed = loop_with(|f| {
        f.max_duration = Some("1h".into());
        f.wrap_up = Some("on".into());
    });
    let just = decide(&timed, message("x"), at(3600 + 9 * 60));
    assert!(matches!(&just.decision, Decision::Block(how) if how.wrap_up == Some("time budget")));
    let late = decide(&timed, message("x"), at(3600 + 11 * 60));
    assert_eq!(late.decision, Decision::Finish(Outcome::TimeLimit));
    // A wrap-up marker this version cannot read (a newer version's outcome, a hand edit)
    // still means the wrap-up turn was given: never a second one.
    let mut marked = loop_with(|f| {
        f.max_tokens = Some("1k".into());
        f.wrap_up = Some("on".into());
    });
    marked.wrapping_up = Some("a_newer_outcome".into());
    let step = decide(&marked, spending("working", 2_000), at(1));
    assert_eq!(step.decision, Decision::Finish(Outcome::TokenLimit));
    // Completion in the wrap-up turn still counts as completed.
    let state = loop_with(|f| {
        f.max_tokens = Some("1k".into());
        f.wrap_up = Some("on".into());
    });
    let step = decide(&state, spending("working", 2_000), at(1));
    let done = decide(&step.state, spending(DONE_TEXT, 5), at(2));
    assert_eq!(done.decision, Decision::Finish(Outcome::Completed));
}

const BLOCKED: &str =
    "The deploy needs a key.\n<ralph-blocked>Need the deploy key for prod</ralph-blocked>";

#[test]
fn a_blocked_agent_pauses_the_loop_without_counting_or_moving_the_brakes() {
    let state = loop_with(|f| f.no_progress = Some("2".into()));
    let step = decide(&state, message(BLOCKED), at(5));
    assert_eq!(
        step.decision,
        Decision::Blocked("Need the deploy key for prod".into())
    );
    assert_eq!(step.tag, Tag::Blocked);
    assert!(step.state.active && step.state.paused);
    assert_eq!(
        step.state.blocked.as_deref(),
        Some("Need the deploy key for prod")
    );
    assert_eq!(step.state.iteration, state.iteration);
    assert_eq!(
        step.state.progress, state.progress,
        "the brakes did not move"
    );
    let last = step.state.last_decision.clone().unwrap();
    assert_eq!(last.decision.as_str(), "pause");
    // While it waits, stops are allowed and change nothing.
    let waiting = decide(&step.state, spending(BLOCKED, 500), at(6));
    assert_eq!(waiting.decision, Decision::Allow);
    assert_eq!(waiting.state, step.state);
    assert_eq!(waiting.tokens, None, "a paused loop counts nothing");
}

#[test]
fn the_blocked_signal_yields_to_completion_and_to_spent_budgets_but_beats_continue() {
    let state = loop_with(|_| {});
    let both = format!("{BLOCKED}\n<promise>DONE</promise>");
    assert_eq!(
        decide(&state, message(&both), at(1)).decision,
        Decision::Finish(Outcome::Completed)
    );
    let with_continue = format!("{BLOCKED}\n<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>");
    assert!(matches!(
        decide(&state, message(&with_continue), at(1)).decision,
        Decision::Blocked(_)
    ));
    let mut capped = loop_with(|f| f.max_iterations = Some("3".into()));
    capped.iteration = 3;
    assert_eq!(
        decide(&capped, message(BLOCKED), at(1)).decision,
        Decision::Finish(Outcome::IterationCap)
    );
    let timed = loop_with(|f| f.max_duration = Some("1m".into()));
    assert_eq!(
        decide(&timed, message(BLOCKED), at(60)).decision,
        Decision::Finish(Outcome::TimeLimit)
    );
    let mut tokens = loop_with(|f| f.max_tokens = Some("100".into()));
    tokens.tokens_used = 100;
    assert_eq!(
        decide(&tokens, message(BLOCKED), at(1)).decision,
        Decision::Finish(Outcome::TokenLimit)
    );
}

const WORK: &str = "1 background task (npm test)";

fn with_background<'a>(text: &'a str, work: &'a str) -> StopEvent<'a> {
    StopEvent {
        message: Some(text),
        background: Some(work),
        ..StopEvent::default()
    }
}

#[test]
fn a_stop_with_background_work_waits_without_spending_an_iteration_or_moving_the_brake() {
    let mut state = loop_with(|f| {
        f.no_progress = Some("2".into());
        f.max_iterations = Some("5".into());
    });
    state.iteration = 2;
    let mut current = state.clone();
    // Far more such stops than the brake allows, all with the same message and no
    // change in the workspace: none counts, none ends the loop.
    for minute in 1..=6 {
        let step = decide(
            &current,
            with_background("tests are running", WORK),
            at(minute),
        );
        assert_eq!(step.decision, Decision::Wait(WORK.into()), "stop {minute}");
        assert!(step.state.active && !step.state.paused, "stop {minute}");
        assert_eq!(step.state.iteration, 2, "stop {minute}: no iteration spent");
        assert_eq!(
            step.state.progress, state.progress,
            "stop {minute}: the brake did not move"
        );
        assert_eq!(step.state.waiting.as_deref(), Some(WORK));
        assert_eq!(
            step.state.last_decision.as_ref().unwrap().decision.as_str(),
            "wait"
        );
        current = step.state;
    }
    // The turn the host's wake-up brings decides as usual, and the wait is over.
    let next = decide(&current, message("checked the tests: 2 fail"), at(10));
    assert!(matches!(next.decision, Decision::Block(_)));
    assert_eq!(next.state.iteration, 3);
    assert_eq!(next.state.waiting, None);
}

#[test]
fn background_work_yields_to_completion_to_the_user_and_to_spent_budgets() {
    let state = loop_with(|_| {});
    assert_eq!(
        decide(
            &state,
            with_background("<promise>DONE</promise>", WORK),
            at(1)
        )
        .decision,
        Decision::Finish(Outcome::Completed)
    );
    assert!(matches!(
        decide(&state, with_background(BLOCKED, WORK), at(1)).decision,
        Decision::Blocked(_)
    ));
    let timed = loop_with(|f| f.max_duration = Some("1m".into()));
    assert_eq!(
        decide(&timed, with_background("waiting", WORK), at(60)).decision,
        Decision::Finish(Outcome::TimeLimit)
    );
    let mut capped = loop_with(|f| f.max_iterations = Some("3".into()));
    capped.iteration = 3;
    assert_eq!(
        decide(&capped, with_background("waiting", WORK), at(1)).decision,
        Decision::Finish(Outcome::IterationCap)
    );
    let mut paused = loop_with(|_| {});
    paused.paused = true;
    assert_eq!(
        decide(&paused, with_background("waiting", WORK), at(1)).decision,
        Decision::Allow
    );
}

#[test]
fn the_owners_stop_clears_an_orphaned_mark_another_sessions_does_not() {
    let mut state = SampleLoop::default().session(Some("s1")).at(at(0)).build();
    state.orphaned = Some("the session ended (other)".into());
    let owner = StopEvent {
        session: "s1",
        message: Some("back again"),
        ..StopEvent::default()
    };
    let step = decide(&state, owner, at(5));
    assert_eq!(step.state.orphaned, None, "the session came back");
    let other = StopEvent {
        standing: Standing::OtherSession,
        session: "s2",
        message: Some("hello"),
        ..StopEvent::default()
    };
    let step = decide(&state, other, at(5));
    assert_eq!(step.decision, Decision::Ignore);
    assert!(step.state.orphaned.is_some());
}

fn prompt_in<'a>(session: &'a str, source: Option<&'a str>, command: bool) -> PromptEvent<'a> {
    PromptEvent {
        session,
        source: PromptSource::of(source),
        command,
    }
}

#[test]
fn a_plain_prompt_steers_only_a_running_turn_the_user_can_interrupt() {
    use ralph_hook::testing::engine::action::Action;
    use ralph_hook::testing::engine::state::{LastDecision, StartedBy};
    let running = SampleLoop::default().session(Some("s1")).at(at(0)).build();
    let user = |state: &LoopState| {
        decide_prompt(
            Some(state),
            PromptEvent {
                session: "s1",
                source: PromptSource::User,
                command: false,
            },
        )
    };
    assert_eq!(
        user(&running),
        PromptDecision::Steer,
        "the user interrupts a running loop"
    );
    // `ralph-hook run` sends every prompt of its session itself.
    let mut supervised = running.clone();
    supervised.started_by = Some(StartedBy::Run);
    assert_eq!(user(&supervised), PromptDecision::Pass);
    // Resumed from a terminal, no turn since: the next prompt continues the loop.
    let mut resumed = running.clone();
    resumed.last_decision = Some(LastDecision {
        at: "2026-01-01T00:00:00Z".into(),
        decision: Action::Resume.into(),
        why: "resumed".into(),
    });
    assert_eq!(user(&resumed), PromptDecision::Pass);
    // Once a stop has continued it, the user's words steer again.
    let mut continued = resumed.clone();
    continued.last_decision = Some(LastDecision {
        at: "2026-01-01T00:00:01Z".into(),
        decision: Action::Block.into(),
        why: "continued".into(),
    });
    assert_eq!(user(&continued), PromptDecision::Steer);
}

#[test]
fn only_the_users_own_words_act_on_a_loop() {
    use PromptDecision::{Ignore, Pass, Resume, Retry, Steer};
    let running = SampleLoop::default().session(Some("s1")).at(at(0)).build();
    let mut blocked = running.clone();
    blocked.paused = true;
    blocked.blocked = Some("Need the deploy key".into());
    let mut paused = running.clone();
    paused.paused = true;
    let mut waiting = running.clone();
    waiting.waiting = Some(WORK.into());
    let mut failed = running.clone();
    failed.stop_failure = Some("rate_limit".into());
    let mut finished = running.clone();
    finished.active = false;
    let others = [
        "sdk",
        "system",
        "loop_wakeup",
        "schedule_wakeup",
        "poll_event",
        "a-source-of-tomorrow",
    ];
    struct Row<'a> {
        state: Option<&'a LoopState>,
        session: &'a str,
        command: bool,
        user: PromptDecision,
        other: PromptDecision,
    }
    let rows = [
        // A `$ralph-loop` command: the user's goes its way, nobody else's does.
        Row {
            state: None,
            session: "s1",
            command: true,
            user: Pass,
            other: Ignore,
        },
        Row {
            state: Some(&running),
            session: "s1",
            command: true,
            user: Pass,
            other: Ignore,
        },
        Row {
            state: Some(&blocked),
            session: "s2",
            command: true,
            user: Pass,
            other: Ignore,
        },
        // The answer to a blocked agent: only the user's resumes it.
        Row {
            state: Some(&blocked),
            session: "s1",
            command: false,
            user: Resume,
            other: Ignore,
        },
        // The user's words in a running loop's session: they take the wheel.
        Row {
            state: Some(&running),
            session: "s1",
            command: false,
            user: Steer,
            other: Ignore,
        },
        // A loop paused by the user stays paused until `resume`.
        Row {
            state: Some(&paused),
            session: "s1",
            command: false,
            user: Pass,
            other: Pass,
        },
        // The prompt that wakes a session waiting for background work is the host's.
        Row {
            state: Some(&waiting),
            session: "s1",
            command: false,
            user: Pass,
            other: Ignore,
        },
        // After an API error ended the turn, the user's next words go on with the loop.
        Row {
            state: Some(&failed),
            session: "s1",
            command: false,
            user: Retry,
            other: Ignore,
        },
        // Not this session's loop, or no loop, or an ended one: nothing to do.
        Row {
            state: Some(&running),
            session: "s2",
            command: false,
            user: Pass,
            other: Pass,
        },
        Row {
            state: Some(&blocked),
            session: "s2",
            command: false,
            user: Pass,
            other: Pass,
        },
        Row {
            state: Some(&running),
            session: "",
            command: false,
            user: Pass,
            other: Pass,
        },
        Row {
            state: Some(&finished),
            session: "s1",
            command: false,
            user: Pass,
            other: Pass,
        },
        Row {
            state: None,
            session: "s1",
            command: false,
            user: Pass,
            other: Pass,
        },
    ];
    for (n, row) in rows.iter().enumerate() {
        for user in [None, Some("user")] {
            assert_eq!(
                decide_prompt(row.state, prompt_in(row.session, user, row.command)),
                row.user,
                "row {n}, source {user:?}"
            );
        }
        for source in others {
            assert_eq!(
                decide_prompt(row.state, prompt_in(row.session, Some(source), row.command)),
                row.other,
                "row {n}, source {source}"
            );
        }
    }
}

#[test]
fn a_payload_without_source_counts_as_the_user_and_any_other_source_does_not() {
    assert_eq!(PromptSource::of(None), PromptSource::User);
    assert_eq!(PromptSource::of(Some("user")), PromptSource::User);
    assert_eq!(PromptSource::of(Some("User")), PromptSource::Other("User"));
    assert_eq!(PromptSource::of(Some("")), PromptSource::Other(""));
    assert_eq!(
        PromptSource::of(Some("system")),
        PromptSource::Other("system")
    );
}

/// `--tasks`: the decision on a stop's look at the task list, row by row.
#[test]
fn a_task_list_item_is_accepted_only_on_evidence_row_by_row() {
    use ralph_hook::testing::engine::tasks::{
        self, Evidence, Note, OnStuck, TaskFileError, TaskLook, TaskProgress,
    };
    let start = tasks::parse("- [ ] one\n- [ ] two\n");
    let mut state = loop_with(|_| {});
    state.tasks = TaskProgress::begin("PRD.md", &start, None, 0, OnStuck::Stop);
    let look = |text: &str, evidence: Evidence| TaskLook {
        list: Ok(tasks::parse(text)),
        evidence,
    };
    let changed = || Evidence::Changed("src/a.rs".into());
    struct Row {
        name: &'static str,
        look: TaskLook,
        message: &'static str,
        accepted: usize,
        finished: bool,
        note: Option<fn(&Note) -> bool>,
    }
    let rows = [
        Row {
            name: "unchecked, with a change: work goes on",
            look: look("- [ ] one\n- [ ] two\n", changed()),
            message: "working",
            accepted: 0,
            finished: false,
            note: None,
        },
        Row {
            name: "checked with a change: accepted",
            look: look("- [x] one\n- [ ] two\n", changed()),
            message: "working",
            accepted: 1,
            finished: false,
            note: Some(|n| matches!(n, Note::Accepted { .. })),
        },
        Row {
            name: "checked without a change: not accepted",
            look: look("- [x] one\n- [ ] two\n", Evidence::Unchanged),
            message: "working",
            accepted: 0,
            finished: false,
            note: Some(|n| matches!(n, Note::CheckedWithoutChange { .. })),
        },
        Row {
            name: "checked, git could not look: not accepted",
            look: look(
                "- [x] one\n- [ ] two\n",
                Evidence::Unknown("git failed".into()),
            ),
            message: "working",
            accepted: 0,
            finished: false,
            note: Some(|n| matches!(n, Note::CheckedWithoutChange { .. })),
        },
        Row {
            name: "the completion signal while items are open: rejected",
            look: look("- [ ] one\n- [ ] two\n", changed()),
            message: "<promise>DONE</promise>",
            accepted: 0,
            finished: false,
            note: Some(|n| matches!(n, Note::CompletionWhileOpen { open } if open.len() == 2)),
        },
    ];
    for row in rows {
        let event = StopEvent {
            message: Some(row.message),
            tasks: Some(&row.look),
            ..StopEvent::default()
        };
        let step = decide(&state, event, at(60));
        let progress = step.state.tasks.clone().expect("the task list stays");
        assert_eq!(progress.accepted.len(), row.accepted, "{}", row.name);
        assert_eq!(
            matches!(step.decision, Decision::Finish(_)),
            row.finished,
            "{}",
            row.name
        );
        if let Some(expected) = row.note {
            let Decision::Block(how) = &step.decision else {
                panic!("{}: {:?}", row.name, step.decision);
            };
            assert!(
                how.tasks.iter().any(expected),
                "{}: {:?}",
                row.name,
                how.tasks
            );
        }
    }

    // The last item accepted ends the loop completed; a verify command judges it first.
    let mut last = state.clone();
    last.tasks
        .as_mut()
        .unwrap()
        .accept(&tasks::parse("- [x] one\n- [ ] two\n"), None);
    let done = look("- [x] one\n- [x] two\n", changed());
    let event = StopEvent {
        message: Some("working"),
        tasks: Some(&done),
        ..StopEvent::default()
    };
    assert_eq!(
        decide(&last, event, at(60)).decision,
        Decision::Finish(Outcome::Completed)
    );
    last.verify = Some("true".into());
    assert_eq!(decide(&last, event, at(60)).decision, Decision::Verify);
    let passed = Verification::Passed;
    let verified = StopEvent {
        verification: Some(Verified::of(&passed, &last)),
        ..event
    };
    assert_eq!(
        decide(&last, verified, at(60)).decision,
        Decision::Finish(Outcome::Completed)
    );

    // A task file that cannot be read: the stop is let through and the loop pauses.
    let broken = TaskLook {
        list: Err(TaskFileError {
            file: "PRD.md".into(),
            why: "does not exist".into(),
        }),
        evidence: Evidence::Unchanged,
    };
    let step = decide(
        &state,
        StopEvent {
            message: Some("working"),
            tasks: Some(&broken),
            ..StopEvent::default()
        },
        at(60),
    );
    assert!(matches!(step.decision, Decision::Blocked(ref why) if why.contains("does not exist")));
    assert!(step.state.paused);
}
