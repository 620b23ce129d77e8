//! In-process benchmarks of the pieces every stop runs: reading and parsing the
//! payload, the completion-signal matcher, the decision, the state file's parse and
//! render, finding the state from a deep `cwd`, and the transcript fallback on a
//! 100 MB transcript; and `list` over 1,000 loop records. The whole-process figures come
//! from `benches/hook_process.rs`.
//!
//! `cargo bench --bench hot_path` (add a filter after `--`, e.g. `-- signal`).

mod support;

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ralph_hook::testing::agent::Agent;
use ralph_hook::testing::engine::decide::{self, StopEvent};
use ralph_hook::testing::engine::fingerprint::Fingerprint;
use ralph_hook::testing::engine::ownership::Registry;
use ralph_hook::testing::engine::prices::PriceTable;
use ralph_hook::testing::engine::sample::SampleLoop;
use ralph_hook::testing::engine::signal;
use ralph_hook::testing::engine::state::LoopState;
use ralph_hook::testing::engine::transcript;
use ralph_hook::testing::engine::usage::{self, Cursor};
use ralph_hook::testing::hook::wire::{self, StopInput};
use serde_json::json;

const DONE: &str = "<promise>DONE</promise>";
const CONTINUE: &str = "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn loop_state(no_progress: &str) -> LoopState {
    SampleLoop::default()
        .task("Make the failing tests pass.")
        .flags(|flags| {
            flags.max_iterations = Some("0".into());
            flags.no_progress = Some(no_progress.into());
        })
        .session(Some("bench-session"))
        .at(UNIX_EPOCH + Duration::from_secs(1_774_087_200))
        .build()
}

fn payload(message: &str) -> String {
    json!({
        "session_id": "bench-session",
        "turn_id": "t",
        "transcript_path": null,
        "cwd": "/home/dev/proj",
        "hook_event_name": "Stop",
        "model": "m",
        "permission_mode": "default",
        "stop_hook_active": true,
        "last_assistant_message": message,
    })
    .to_string()
}

fn payload_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload");
    for (label, size) in [("1KB", KIB), ("1MB", MIB)] {
        let text = payload(&support::prose_message(size, CONTINUE));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("read+parse", label), &text, |b, text| {
            b.iter(|| {
                let raw = wire::read_payload(text.as_bytes()).expect("read");
                let input: StopInput = serde_json::from_str(&raw).expect("parse");
                black_box(input)
            });
        });
    }
    group.finish();
}

fn signal_matcher(c: &mut Criterion) {
    let mut group = c.benchmark_group("signal");
    for (label, size) in [("1KB", KIB), ("1MB", MIB)] {
        for (tag, tail) in [("promise", DONE), ("continue", CONTINUE), ("none", "bye")] {
            let text = support::prose_message(size, tail);
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("classify/{tag}"), label),
                &text,
                |b, text| b.iter(|| signal::classify(black_box(text), DONE, CONTINUE)),
            );
        }
        // The blocked signal near the end of a long message, and a message without one.
        for (tag, tail) in [
            (
                "blocked",
                "<ralph-blocked>Need the staging password</ralph-blocked>",
            ),
            ("none", "bye"),
        ] {
            let text = support::prose_message(size, tail);
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("classify_signal/{tag}"), label),
                &text,
                |b, text| b.iter(|| signal::classify_signal(black_box(text), DONE, CONTINUE)),
            );
        }
    }
    group.finish();
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    let now = UNIX_EPOCH + Duration::from_secs(1_774_090_000);
    for (label, size) in [("1KB", KIB), ("1MB", MIB)] {
        let text = support::prose_message(size, CONTINUE);
        let look = Fingerprint {
            digest: "0123456789abcdef".into(),
            head: "main 0123456789abcdef0123456789abcdef01234567".into(),
            paths: Vec::new(),
        };
        for brake in ["0", "3"] {
            let state = loop_state(brake);
            group.bench_with_input(
                BenchmarkId::new(format!("block/no-progress-{brake}"), label),
                &text,
                |b, text| {
                    b.iter(|| {
                        let event = StopEvent {
                            message: Some(text),
                            workspace: Some(&look),
                            ..StopEvent::default()
                        };
                        decide::decide(black_box(&state), event, now)
                    });
                },
            );
        }
    }
    let state = loop_state("3");
    let done = support::prose_message(KIB, DONE);
    group.bench_function("completion/1KB", |b| {
        b.iter(|| {
            let event = StopEvent {
                message: Some(&done),
                ..StopEvent::default()
            };
            decide::decide(black_box(&state), event, now)
        });
    });
    group.finish();
}

fn state_file(c: &mut Criterion) {
    let mut group = c.benchmark_group("state");
    let state = loop_state("3");
    let text = state.to_json();
    group.bench_function("from_json", |b| {
        b.iter(|| LoopState::from_json(black_box(&text)).expect("parses"));
    });
    group.bench_function("to_json", |b| b.iter(|| black_box(&state).to_json()));
    group.finish();
}

fn find_state(c: &mut Criterion) {
    let temp = support::private_tempdir("ralph-hook-bench.");
    let root = fs::canonicalize(temp.path()).expect("canonical temp dir");
    let registry = Registry::at(&root.join("user-state"));
    let ws = root.join("ws");
    let deep = (0..30).fold(ws.clone(), |dir, i| dir.join(format!("d{i}")));
    fs::create_dir_all(&deep).expect("deep dirs");
    let record_dir = registry.loop_dir(&ws, Agent::Codex);
    fs::create_dir_all(&record_dir).expect("record dir");
    fs::write(record_dir.join("record.json"), "{}").expect("record");
    let plain = root.join("plain");
    let plain_deep = (0..30).fold(plain.clone(), |dir, i| dir.join(format!("d{i}")));
    fs::create_dir_all(&plain_deep).expect("plain dirs");

    // The stop's search: the canonical cwd, then a record and a state file looked for
    // in each folder up to the git top level.
    let mut group = c.benchmark_group("find_state");
    group.bench_function("found/30-deep", |b| {
        b.iter(|| {
            ralph_hook::testing::engine::store::locate(black_box(&deep), Agent::Codex, &registry)
        });
    });
    group.bench_function("none/30-deep", |b| {
        b.iter(|| {
            ralph_hook::testing::engine::store::locate(
                black_box(&plain_deep),
                Agent::Codex,
                &registry,
            )
        });
    });
    group.finish();
}

/// A Claude transcript of about `size` bytes ending in the assistant's answer.
fn write_transcript(path: &Path, size: usize) {
    let mut file = BufWriter::new(File::create(path).expect("transcript"));
    let user = json!({"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"x".repeat(900)}]}}).to_string();
    let last = json!({"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":support::prose_message(KIB, CONTINUE)}]}}).to_string();
    let mut written = 0;
    while written + last.len() < size {
        writeln!(file, "{user}").expect("write");
        written += user.len() + 1;
    }
    writeln!(file, "{last}").expect("write");
}

fn transcript_tail(c: &mut Criterion) {
    let temp = support::private_tempdir("ralph-hook-bench.");
    let small: PathBuf = temp.path().join("small.jsonl");
    let big: PathBuf = temp.path().join("big.jsonl");
    write_transcript(&small, 4 * KIB);
    write_transcript(&big, 100 * MIB);
    let mut group = c.benchmark_group("transcript");
    group.bench_function("last_assistant_text/4KB", |b| {
        b.iter(|| transcript::last_assistant_text(black_box(&small)).expect("found"));
    });
    group.bench_function("last_assistant_text/100MB", |b| {
        b.iter(|| transcript::last_assistant_text(black_box(&big)).expect("found"));
    });
    group.finish();
}

/// One turn of a session as the host writes it: a tool's output, then the model's
/// response with its usage. `n` numbers the turn (Codex totals grow with it).
fn turn(agent: Agent, n: u64) -> String {
    let output = "o".repeat(900);
    match agent {
        Agent::Codex => format!(
            "{}\n{}\n{}\n",
            json!({"type":"turn_context","payload":{"cwd":"/w","model":"gpt-5.5"}}),
            json!({"type":"response_item","payload":{"type":"function_call_output","call_id":format!("call_{n}"),"output":output}}),
            json!({"type":"event_msg","payload":{"type":"token_count","info":{
                "total_token_usage":{"input_tokens":1400 * n,"cached_input_tokens":300 * n,"cache_write_input_tokens":200 * n,"output_tokens":100 * n,"reasoning_output_tokens":20 * n,"total_tokens":1500 * n},
                "last_token_usage":{"input_tokens":1400,"cached_input_tokens":300,"cache_write_input_tokens":200,"output_tokens":100,"reasoning_output_tokens":20,"total_tokens":1500},
                "model_context_window":258_400},"rate_limits":null}}),
        ),
        Agent::Claude => {
            let usage = json!({"input_tokens":900,"cache_creation_input_tokens":200,"cache_read_input_tokens":300,"output_tokens":100});
            format!(
                "{}\n{}\n{}\n",
                json!({"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":format!("toolu_{n}"),"content":output}]}}),
                json!({"type":"assistant","message":{"id":format!("msg_{n}"),"role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Looking at it."}],"usage":usage}}),
                json!({"type":"assistant","message":{"id":format!("msg_{n}"),"role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":format!("toolu_{n}"),"name":"Bash","input":{"command":"cargo test"}}],"usage":usage}}),
            )
        }
    }
}

/// Writes turns to `path` until it holds about `size` bytes, then returns the cursor a
/// stop would have kept there, and appends `appended` more bytes of turns: what the next
/// stop reads.
fn usage_transcript(path: &Path, agent: Agent, size: usize, appended: usize) -> Cursor {
    let mut file = BufWriter::new(File::create(path).expect("transcript"));
    let (mut written, mut n) = (0, 1);
    while written < size {
        let text = turn(agent, n);
        file.write_all(text.as_bytes()).expect("write");
        written += text.len();
        n += 1;
    }
    file.flush().expect("flush");
    drop(file);
    let cursor = usage::start(path, agent).expect("cursor");
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("append");
    let mut more = 0;
    while more < appended {
        let text = turn(agent, n);
        file.write_all(text.as_bytes()).expect("write");
        more += text.len();
        n += 1;
    }
    cursor
}

/// The budget's cost per stop: reading one turn appended to a 4 KB and to a 100 MB
/// transcript (flat), the worst case of a whole read's worth appended, and starting a
/// loop (reads the end of the file once). `cost/…`: the same read priced for
/// `--max-cost` (flat too: the kinds and the model come from the same pass).
fn token_usage(c: &mut Criterion) {
    let temp = support::private_tempdir("ralph-hook-bench.");
    let mut group = c.benchmark_group("usage");
    let prices = PriceTable::built_in();
    for agent in [Agent::Codex, Agent::Claude] {
        for (label, size, appended) in [
            ("4KB/1-turn", 4 * KIB, 1),
            ("100MB/1-turn", 100 * MIB, 1),
            ("100MB/8MB-appended", 100 * MIB, 8 * MIB),
        ] {
            let path = temp
                .path()
                .join(format!("{agent}-{label}.jsonl").replace('/', "-"));
            let cursor = usage_transcript(&path, agent, size, appended);
            let first = usage::read(&path, agent, &cursor).expect("read");
            assert!(
                first.tokens > 0,
                "{agent} {label}: the appended turn counts"
            );
            group.bench_function(format!("read/{agent}/{label}"), |b| {
                b.iter(|| usage::read(black_box(&path), agent, black_box(&cursor)).expect("read"));
            });
            if label != "100MB/8MB-appended" {
                // `--max-cost`: the same read, priced (the table is built once per stop).
                assert!(
                    prices.cost(&first.spent).expect("priced") > 0,
                    "{agent} {label}: the appended turn costs"
                );
                group.bench_function(format!("cost/{agent}/{label}"), |b| {
                    b.iter(|| {
                        let reading =
                            usage::read(black_box(&path), agent, black_box(&cursor)).expect("read");
                        PriceTable::built_in().cost(&reading.spent).expect("priced")
                    });
                });
            }
            if label == "100MB/1-turn" {
                group.bench_function(format!("start/{agent}/100MB"), |b| {
                    b.iter(|| usage::start(black_box(&path), agent).expect("start"));
                });
            }
        }
    }
    group.finish();
}

/// `ralph-hook list` over 1,000 loop folders: 700 active (half supervised by `run`), 300
/// ended runs (a supervisor file and a history, no record).
fn list_loops(c: &mut Criterion) {
    use ralph_hook::testing::engine::ownership::LoopRecord;
    use ralph_hook::testing::engine::supervision::{RunSpec, Supervision, Timings};
    let dir = support::private_tempdir("ralph-hook-bench.");
    let registry = Registry::at(dir.path());
    let now = UNIX_EPOCH + Duration::from_secs(1_774_090_000);
    for n in 0..1_000 {
        let agent = if n % 2 == 0 {
            Agent::Codex
        } else {
            Agent::Claude
        };
        let workspace = PathBuf::from(format!("/home/dev/project-{n}"));
        let folder = registry.loop_dir(&workspace, agent);
        fs::create_dir_all(&folder).expect("loop folder");
        let state = loop_state("3");
        let record = LoopRecord::new(state, agent, &workspace);
        let sup = Supervision {
            loop_id: record.loop_id.clone(),
            agent,
            workspace: workspace.clone(),
            spec: RunSpec {
                client: "/usr/bin/codex".into(),
                client_args: Vec::new(),
                max_restarts: 5,
                first_prompt: "Make the failing tests pass.".into(),
            },
            pid: std::process::id(),
            heartbeat: "2026-03-21T10:06:00Z".into(),
            detached: true,
            client_pid: Some(1),
            launches: 1,
            restarts: 0,
            next_attempt: None,
            last_output: Some("2026-03-21T10:06:00Z".into()),
            exited: None,
        };
        if n < 700 {
            fs::write(
                folder.join("record.json"),
                serde_json::to_vec(&record).unwrap(),
            )
            .unwrap();
        } else {
            fs::write(
                folder.join("history.jsonl"),
                format!(
                    "{{\"at\":\"2026-03-21T10:00:00Z\",\"event\":\"stop\",\"decision\":\"finish\",\"reason\":\"completed\",\"loop_id\":\"{}\",\"iteration\":3,\"max_iterations\":50}}\n",
                    record.loop_id
                ),
            )
            .unwrap();
        }
        if n % 2 == 0 || n >= 700 {
            sup.write(&folder).expect("supervisor file");
        }
    }
    let timings = Timings::default();
    let rows = ralph_hook::testing::list_rows(&registry, now, &timings);
    assert_eq!(rows.len(), 1_000, "every loop is listed");
    c.bench_function("list/1000-loops", |b| {
        b.iter(|| ralph_hook::testing::list_rows(black_box(&registry), now, &timings));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = payload_parsing, signal_matcher, decision, state_file, find_state, transcript_tail, token_usage, list_loops
}
criterion_main!(benches);
