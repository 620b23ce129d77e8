//! `--tasks PRD.md` in a same-session loop started from the prompt box (issue 22, done
//! when 3), in each real client: the agent works a three-item checklist with several tool
//! calls a turn, edits and commits; an early completion signal is rejected while items
//! are open, an item checked without a change is rejected and redone, and the loop ends
//! `completed` when the last item is accepted.

use super::clients::Client;
use super::mock::{command, text};
use super::scenarios::{
    CONTINUE, PROMISE, assert_clean_exit, assert_no_state, assert_turns, hook_prompts, last_stop,
};
use super::world::{TOOL_DEADLINE, World};

/// The checklist: one item done before the loop, three open (one nested).
const PRD: &str = "# Parser PRD\n\nWhat we build and why.\n\n- [x] set up the repository\n- [ ] write the parser\n- [ ] add the tests\n  - [ ] cover nested lists\n";

/// A shell command that checks `item` in PRD.md (as an agent's edit would).
fn check(item: &str) -> String {
    format!("sed -i 's/- \\[ \\] {item}/- [x] {item}/' PRD.md && grep -n '{item}' PRD.md")
}

/// Commits everything, as the agent does after a piece of work.
fn commit(message: &str) -> String {
    format!(
        "git add -A && git -c user.name=agent -c user.email=agent@example.com commit -qm '{message}' && git log --oneline -1"
    )
}

#[track_caller]
fn git(world: &World, args: &[&str]) {
    let mut cmd = world.command("git");
    cmd.args(args);
    let run = world.run_recorded(cmd, &format!("git {}", args.join(" ")), TOOL_DEADLINE);
    assert!(run.success(), "git {args:?} failed");
}

/// The scenario: see the module's doc.
pub fn task_list_in_session(client: Client, test: &str) {
    let script = vec![
        // Turn 1: read, write the parser, check it, commit; three tool calls.
        command("cat PRD.md && ls"),
        command("printf 'pub fn parse() {}\\n' > parser.rs && cat parser.rs"),
        command(format!(
            "{} && {}",
            check("write the parser"),
            commit("parser")
        )),
        text(format!("The parser is written and committed. {CONTINUE}")),
        // Turn 2: an early completion signal, with items still open.
        text(format!("I think everything is done. {PROMISE}")),
        // Turn 3: the next item checked without doing it.
        command(check("add the tests")),
        text(format!("Tests are added. {CONTINUE}")),
        // Turn 4: told it was not accepted, the agent does the work and commits it.
        command("printf '#[test]\\nfn parses() {}\\n' > tests.rs && cat tests.rs"),
        command(commit("tests")),
        text(format!(
            "The tests are written and committed now. {CONTINUE}"
        )),
        // Turn 5: the nested item, edited, checked and committed.
        command("printf '#[test]\\nfn nested() {}\\n' >> tests.rs"),
        command(check("cover nested lists")),
        command(commit("nested lists")),
        text(format!(
            "Nested lists are covered; every item is done. {PROMISE}"
        )),
    ];
    let Some(world) = World::setup(client, test, script) else {
        return;
    };
    for args in [
        &["init", "-q"][..],
        &["config", "user.name", "Ralph E2E"],
        &["config", "user.email", "e2e@example.com"],
    ] {
        git(&world, args);
    }
    std::fs::write(world.workspace.join("PRD.md"), PRD).unwrap();
    git(&world, &["add", "PRD.md"]);
    git(&world, &["commit", "-qm", "the PRD"]);
    let mark = match client {
        Client::Codex => "$ralph-loop",
        Client::Claude => "/ralph-loop",
    };
    let run = world.run_agent(&format!(
        "{mark} --tasks PRD.md Build the parser the PRD describes --max-iterations 10"
    ));
    assert_clean_exit(&run);
    assert_turns(&world, 14);

    // The rules handed over at the start name the list, what was skipped and the rule.
    let first = world.mock.turns()[0].text();
    assert!(
        first.contains("Current item: \"write the parser\"") || first.contains("write the parser"),
        "the rules do not name the first item"
    );
    let prompts = hook_prompts(&world);
    assert_eq!(prompts.len(), 4, "continuation prompts: {prompts:#?}");
    let expect = |i: usize, what: &str| {
        // Codex shows the prompt back HTML-escaped; quotes may be escaped too.
        let prompt = prompts[i].replace("&quot;", "\"").replace("\\\"", "\"");
        assert!(
            prompt.contains(what),
            "continuation prompt {i} lacks {what:?}:\n{prompt}"
        );
    };
    expect(0, "Accepted: the task item \"write the parser\"");
    // The evidence is the agent's work: under Codex's sandbox `.git` is read-only, so its
    // commits fail and the changed file is the evidence; Claude Code's commits land
    // (`commit abc1234 (parser.rs)`). ralph-hook's own state file, which `git add -A`
    // commits too, is never the evidence.
    expect(0, "parser.rs)");
    expect(3, "tests.rs)");
    assert!(
        prompts
            .iter()
            .all(|p| !p.contains("ralph-loop-state.json)")),
        "ralph-hook's own state file was taken as evidence: {prompts:#?}"
    );
    expect(0, "1 of 3 items accepted. Current item: \"add the tests\"");
    expect(
        1,
        "Your completion signal was rejected: 2 task items are still open",
    );
    expect(1, "\"cover nested lists\"");
    expect(
        2,
        "Not accepted, checked without a change: the task item \"add the tests\"",
    );
    expect(3, "Accepted: the task item \"add the tests\"");
    expect(3, "Current item: \"cover nested lists\"");

    assert_no_state(&world);
    let history = world.history();
    assert_eq!(last_stop(&history)["reason"], "completed", "{history:#?}");
    let reasons: Vec<_> = history
        .iter()
        .filter(|h| h["event"] == "stop")
        .map(|h| {
            format!(
                "{}:{}",
                h["decision"].as_str().unwrap_or(""),
                h["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "accept:",
            "block:",
            "block:completion_rejected",
            "block:task_rejected",
            "accept:",
            "block:",
            "accept:",
            "finish:completed",
        ],
        "{history:#?}"
    );
    let log = world.ralph(&["log", "--workspace", &world.workspace.display().to_string()]);
    assert!(log.success(), "ralph-hook log failed");
    assert!(
        log.stdout
            .contains("task item 3/3 accepted: cover nested lists"),
        "log does not show the accepted items:\n{}",
        log.stdout
    );
}
