//! Issue 23's speed rows. `statusline` runs on every prompt, so it is timed as a whole
//! process against `cat` (a process that only reads its stdin, the floor of any status
//! line command) with Claude Code's statusLine JSON on stdin; the target is 1.5× `cat`.
//! `list` with 1,000 loop records is timed in process (`top` redraws from the same rows
//! every second). It reports; it asserts nothing about time.
//!
//! Run it with `cargo bench --bench loops` (the binary measured is the one cargo built
//! for the bench; `RALPH_HOOK_BIN` names another, e.g. target/release/ralph-hook), or
//! `scripts/bench-statusline.sh` for the hyperfine figure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use ralph_hook::testing::agent::Agent;
use ralph_hook::testing::engine::ownership::{LoopRecord, Registry};
use ralph_hook::testing::engine::sample::SampleLoop;
use ralph_hook::testing::engine::supervision::Timings;
use ralph_hook::testing::list_rows;
use serde_json::json;

/// A private folder under `/var/tmp` (else cargo's target folder): ralph-hook refuses a
/// state folder under `/tmp`, which an agent's sandbox may write.
fn private_tempdir() -> tempfile::TempDir {
    let var_tmp = Path::new("/var/tmp");
    let root = if var_tmp.is_dir() {
        var_tmp.to_path_buf()
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    tempfile::Builder::new()
        .prefix("ralph-loops-bench")
        .tempdir_in(root)
        .expect("temp dir")
}

fn binary() -> PathBuf {
    std::env::var_os("RALPH_HOOK_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_ralph-hook")),
        PathBuf::from,
    )
}

/// Runs `program args` with `input` as its stdin file and waits for it.
fn run_once(program: &Path, args: &[&str], input: &Path, state: &Path) {
    let status = Command::new(program)
        .args(args)
        .env("RALPH_HOOK_STATE_DIR", state)
        .stdin(std::fs::File::open(input).expect("input"))
        .stdout(Stdio::null())
        .status()
        .expect("spawn");
    assert!(status.success());
}

fn statusline(c: &mut Criterion) {
    let temp = private_tempdir();
    let state = temp.path().join("state");
    let workspace = temp.path().join("ws");
    std::fs::create_dir_all(workspace.join(".git/objects")).expect("ws");
    std::fs::write(workspace.join(".git/HEAD"), "ref: refs/heads/main\n").expect("head");
    let bin = binary();
    let started = Command::new(&bin)
        .args([
            "start",
            "--prompt",
            "bench",
            "--session",
            "S",
            "--max-iterations",
            "20",
        ])
        .arg("--workspace")
        .arg(&workspace)
        .env("RALPH_HOOK_STATE_DIR", &state)
        .env("HOME", temp.path())
        .output()
        .expect("start");
    assert!(started.status.success(), "{started:?}");
    let input = temp.path().join("status.json");
    let payload = json!({
        "hook_event_name": "Status",
        "session_id": "S",
        "cwd": workspace,
        "model": {"id": "claude-opus", "display_name": "Opus"},
        "workspace": {"current_dir": workspace, "project_dir": workspace},
        "version": "2.1.332",
    });
    std::fs::write(&input, payload.to_string()).expect("payload");
    let out = Command::new(&bin)
        .arg("statusline")
        .env("RALPH_HOOK_STATE_DIR", &state)
        .stdin(std::fs::File::open(&input).expect("input"))
        .output()
        .expect("statusline");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ralph 0/20"),
        "{out:?}"
    );

    let mut group = c.benchmark_group("statusline");
    group.bench_function("cat (reads stdin only)", |b| {
        b.iter(|| run_once(Path::new("/bin/cat"), &[], &input, &state));
    });
    group.bench_function("ralph-hook statusline", |b| {
        b.iter(|| run_once(&bin, &["statusline"], &input, &state));
    });
    group.finish();
}

fn list_1000(c: &mut Criterion) {
    let temp = private_tempdir();
    let registry = Registry::at(temp.path());
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for n in 0..1_000 {
        let workspace = PathBuf::from(format!("/work/loop-{n}"));
        let state = SampleLoop::default()
            .task("task")
            .session(Some("S"))
            .at(now)
            .build();
        let record = LoopRecord::new(state, Agent::Codex, &workspace);
        let dir = registry.loop_dir(&workspace, Agent::Codex);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(
            dir.join("record.json"),
            serde_json::to_vec(&record).expect("json"),
        )
        .expect("record");
    }
    let timings = Timings::default();
    assert_eq!(list_rows(&registry, now, &timings).len(), 1_000);
    c.bench_function("list rows, 1,000 records", |b| {
        b.iter(|| list_rows(&registry, now, &timings));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(5));
    targets = statusline, list_1000
}
criterion_main!(benches);
