//! In-process benchmarks of the pieces every stop runs: reading and parsing the
//! payload, the completion-signal matcher, the decision, the state file's parse and
//! render, finding the state from a deep `cwd`, and the transcript fallback on a
//! 100 MB transcript. The whole-process figures come from `benches/hook_process.rs`.
//!
//! `cargo bench --bench hot_path` (add a filter after `--`, e.g. `-- signal`).

mod support;

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ralph_hook::agent::Agent;
use ralph_hook::engine::decide::{self, StopEvent};
use ralph_hook::engine::settings::{LoopSettings, RawLoopFlags};
use ralph_hook::engine::signal;
use ralph_hook::engine::state::{LoopState, Origin, StartedBy};
use ralph_hook::engine::transcript;
use ralph_hook::engine::workspace;
use ralph_hook::hook::wire::{self, StopInput};
use serde_json::json;

const DONE: &str = "<promise>DONE</promise>";
const CONTINUE: &str = "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn loop_state(no_progress: &str) -> LoopState {
    let flags = RawLoopFlags {
        max_iterations: Some("0".into()),
        no_progress: Some(no_progress.into()),
        ..RawLoopFlags::default()
    };
    let settings = LoopSettings::parse("Make the failing tests pass.", &flags).expect("settings");
    LoopState::new(
        &settings,
        Origin {
            loop_id: "0123456789abcdef0123456789abcdef".into(),
            agent: Agent::Codex,
            session_id: Some("bench-session".into()),
            workspace: "/home/dev/proj".into(),
            started_by: StartedBy::PromptHook,
        },
        UNIX_EPOCH + Duration::from_secs(1_774_087_200),
    )
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
    }
    group.finish();
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    let now = UNIX_EPOCH + Duration::from_secs(1_774_090_000);
    for (label, size) in [("1KB", KIB), ("1MB", MIB)] {
        let text = support::prose_message(size, CONTINUE);
        for brake in ["0", "3"] {
            let state = loop_state(brake);
            group.bench_with_input(
                BenchmarkId::new(format!("block/no-progress-{brake}"), label),
                &text,
                |b, text| {
                    b.iter(|| {
                        let event = StopEvent {
                            message: Some(text),
                            workspace_digest: Some("0123456789abcdef"),
                            verification: None,
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
    let temp = tempfile::tempdir().expect("temp dir");
    let ws = temp.path().join("ws");
    let deep = (0..30).fold(ws.clone(), |dir, i| dir.join(format!("d{i}")));
    fs::create_dir_all(&deep).expect("deep dirs");
    fs::create_dir_all(ws.join(".codex")).expect("state dir");
    fs::write(ws.join(".codex/ralph-loop-state.json"), "{}").expect("state");
    let plain = temp.path().join("plain");
    let plain_deep = (0..30).fold(plain.clone(), |dir, i| dir.join(format!("d{i}")));
    fs::create_dir_all(&plain_deep).expect("plain dirs");

    let mut group = c.benchmark_group("find_state");
    group.bench_function("found/30-deep", |b| {
        b.iter(|| workspace::find_state(black_box(&deep), Agent::Codex));
    });
    group.bench_function("none/30-deep", |b| {
        b.iter(|| workspace::find_state(black_box(&plain_deep), Agent::Codex));
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
    let temp = tempfile::tempdir().expect("temp dir");
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = payload_parsing, signal_matcher, decision, state_file, find_state, transcript_tail
}
criterion_main!(benches);
