//! Whole-process benchmark: the release binary run the way Codex and Claude Code run it
//! — a new process per stop, the payload on stdin — in each situation issue 6 names.
//!
//! For every scenario it prints the median and 95th percentile wall time of spawn to
//! exit, and the peak resident memory of the hook process (GNU time's `%M`). It reports;
//! it asserts nothing about time. Before timing a scenario it runs it once and checks
//! the hook took the intended path (block, completion, silent allow), so a figure
//! never measures the wrong thing.
//!
//! Run it with `scripts/bench-hook.sh` or `cargo bench --bench hook_process`.
//! Environment: `RALPH_HOOK_BIN` (binary to measure; default the one cargo built for
//! this bench), `BENCH_RUNS` (timed runs per scenario, default 300), `BENCH_WARMUP`
//! (default 20), `BENCH_ONLY` (run only scenarios whose name contains this text),
//! `BENCH_SKIP` (skip scenarios whose name contains this text), `BENCH_BASE_BIN`
//! (another build to compare with: each scenario is set up once per binary, in worlds
//! of their own, and the two are timed run by run in turn, so a busy machine slows both
//! alike; the table then gives both medians and minimums and their ratios).

mod support;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const SESSION: &str = "bench-session";
const DONE: &str = "<promise>DONE</promise>";
const CONTINUE: &str = "<ralph-continue>RALPH_AUTO_CONTINUE</ralph-continue>";

/// What the hook must answer for the scenario to measure what it says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Nothing on stdout.
    Silent,
    /// `{"decision":"block",…}`.
    Block,
    /// `{"systemMessage":"… [completed] …"}`.
    Completed,
}

struct Scenario {
    name: String,
    payload: PathBuf,
    /// Copied over the user's record and the state file before every run (untimed), so
    /// each run decides the same stop.
    restore: Option<Restore>,
    expect: Expect,
}

/// The files a loop lives in, as they were right after `start`: the record in the
/// user's state folder (the authority) and the workspace's state file.
#[derive(Clone)]
struct Restore(Vec<(String, PathBuf)>);

impl Restore {
    fn apply(&self) {
        for (text, path) in &self.0 {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }
}

struct Figures {
    median: Duration,
    p95: Duration,
    min: Duration,
    peak_rss_kib: Option<i64>,
}

fn main() {
    let bin = std::env::var_os("RALPH_HOOK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ralph-hook")));
    let runs = env_number("BENCH_RUNS", 300);
    let warmup = env_number("BENCH_WARMUP", 20);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let skip = std::env::var("BENCH_SKIP").unwrap_or_default();
    // `cargo bench` passes `--bench`; a filter given after `--` also selects scenarios.
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .unwrap_or(only);

    let root = support::private_tempdir("ralph-hook-bench.");
    if let Some(base) = std::env::var_os("BENCH_BASE_BIN").map(PathBuf::from) {
        let keep = |s: &Scenario| {
            (filter.is_empty() || s.name.contains(&filter))
                && (skip.is_empty() || !s.name.contains(&skip))
        };
        compare(root.path(), &base, &bin, keep, warmup, runs);
        return;
    }
    let world = World::new(root.path(), &bin);
    eprintln!(
        "binary: {} ({} bytes); {runs} runs after {warmup} warm-up runs per scenario",
        bin.display(),
        fs::metadata(&bin).map(|m| m.len()).unwrap_or(0)
    );
    let scenarios = world.scenarios();

    println!("| scenario | median | p95 | min | peak RSS |");
    println!("|---|---:|---:|---:|---:|");
    for scenario in scenarios
        .iter()
        .filter(|s| filter.is_empty() || s.name.contains(&filter))
        .filter(|s| skip.is_empty() || !s.name.contains(&skip))
    {
        world.check(scenario);
        let figures = world.measure(scenario, warmup, runs);
        let rss = figures.peak_rss_kib.map_or("n/a".into(), |kib| {
            format!("{:.1} MiB", kib as f64 / 1024.0)
        });
        println!(
            "| {} | {} | {} | {} | {rss} |",
            scenario.name,
            ms(figures.median),
            ms(figures.p95),
            ms(figures.min),
        );
    }
}

/// Times `base` and `bin` on the same scenarios, run by run in turn.
fn compare(
    root: &Path,
    base: &Path,
    bin: &Path,
    keep: impl Fn(&Scenario) -> bool,
    warmup: usize,
    runs: usize,
) {
    let (base_root, new_root) = (root.join("base"), root.join("new"));
    fs::create_dir_all(&base_root).unwrap();
    fs::create_dir_all(&new_root).unwrap();
    let (base_world, new_world) = (World::new(&base_root, base), World::new(&new_root, bin));
    eprintln!(
        "comparing {} with {}; {runs} runs each, in turn, after {warmup} warm-up runs",
        base.display(),
        bin.display()
    );
    println!("| scenario | base median | median | ratio | base min | min | ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let pairs = base_world
        .scenarios()
        .into_iter()
        .zip(new_world.scenarios());
    for (old, new) in pairs.filter(|(old, _)| keep(old)) {
        base_world.check(&old);
        new_world.check(&new);
        let (mut a, mut b) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        for i in 0..warmup + runs {
            let (ta, tb) = (base_world.time_once(&old), new_world.time_once(&new));
            if i >= warmup {
                a.push(ta);
                b.push(tb);
            }
        }
        a.sort();
        b.sort();
        let median = |v: &[Duration]| v[v.len() / 2];
        let ratio = |x: Duration, y: Duration| y.as_secs_f64() / x.as_secs_f64();
        println!(
            "| {} | {} | {} | {:.2}× | {} | {} | {:.2}× |",
            new.name,
            ms(median(&a)),
            ms(median(&b)),
            ratio(median(&a), median(&b)),
            ms(a[0]),
            ms(b[0]),
            ratio(a[0], b[0]),
        );
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// The benchmark's temp home, user state folder and workspaces.
struct World {
    root: PathBuf,
    home: PathBuf,
    state_dir: PathBuf,
    bin: PathBuf,
}

impl World {
    fn new(root: &Path, bin: &Path) -> Self {
        let home = root.join("home");
        let state_dir = root.join("user-state");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&state_dir).unwrap();
        World {
            root: root.to_path_buf(),
            home,
            state_dir,
            bin: bin.to_path_buf(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("RALPH_HOOK_STATE_DIR", &self.state_dir)
            .current_dir(&self.root);
        cmd
    }

    /// A workspace with a running loop bound to the bench session; returns the
    /// workspace and what to restore before each run.
    fn loop_workspace(&self, name: &str, extra: &[&str]) -> (PathBuf, Restore) {
        self.loop_workspace_of("codex", name, extra)
    }

    /// [`World::loop_workspace`] for `agent`'s loop (`codex` or `claude`).
    fn loop_workspace_of(&self, agent: &str, name: &str, extra: &[&str]) -> (PathBuf, Restore) {
        let ws = self.root.join(name);
        fs::create_dir_all(&ws).unwrap();
        let mut args = vec![
            "start",
            "--workspace",
            ws.to_str().unwrap(),
            "--session",
            SESSION,
            "--prompt",
            "Make the failing integration tests pass without changing their assertions.",
            "--agent",
            agent,
        ];
        args.extend_from_slice(extra);
        let out = self.command().args(&args).output().unwrap();
        assert!(out.status.success(), "start failed: {out:?}");
        (ws.clone(), self.snapshot(agent, name, &ws))
    }

    /// The loop's files as they are now, to restore before each run.
    fn snapshot(&self, agent: &str, name: &str, ws: &Path) -> Restore {
        let state = ws.join(format!(".{agent}/ralph-loop-state.json"));
        let text = fs::read_to_string(&state).unwrap();
        // A binary from before the record (to compare figures) keeps everything in the
        // workspace: then there is only the state file to restore.
        let record = fs::read_dir(self.state_dir.join("workspaces"))
            .into_iter()
            .flatten()
            .map(|entry| entry.unwrap().path())
            .find(|dir| {
                dir.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{agent}-{name}-")))
            })
            .map(|dir| dir.join("record.json"));
        let mut files = vec![(text, state)];
        if let Some(record) = record {
            files.insert(0, (fs::read_to_string(&record).unwrap(), record));
        }
        Restore(files)
    }

    fn payload(
        &self,
        name: &str,
        cwd: &Path,
        message: Option<&str>,
        transcript: Option<&Path>,
    ) -> PathBuf {
        let path = self.root.join(format!("payload-{name}.json"));
        let payload = json!({
            "session_id": SESSION,
            "turn_id": "bench-turn",
            "transcript_path": transcript,
            "cwd": cwd,
            "hook_event_name": "Stop",
            "model": "mock-model",
            "permission_mode": "bypassPermissions",
            "stop_hook_active": true,
            "last_assistant_message": message,
        });
        fs::write(&path, payload.to_string()).unwrap();
        path
    }

    /// A Stop payload of `agent` (Claude Code's has no `turn_id`) with a transcript.
    fn payload_of(
        &self,
        agent: &str,
        name: &str,
        cwd: &Path,
        message: &str,
        transcript: &Path,
    ) -> PathBuf {
        let path = self.payload(name, cwd, Some(message), Some(transcript));
        if agent == "claude" {
            let mut payload: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
            payload.as_object_mut().unwrap().remove("turn_id");
            fs::write(&path, payload.to_string()).unwrap();
        }
        path
    }

    fn scenarios(&self) -> Vec<Scenario> {
        let mut list = Vec::new();
        let kib_message = support::prose_message(1024, CONTINUE);
        let mib_message = support::prose_message(1024 * 1024, CONTINUE);
        let core = ["--max-iterations", "0", "--no-progress", "0"];

        // No state anywhere up the tree: the common case, in every repository.
        let plain = self.root.join("plain");
        let deep_plain = deep(&plain, 30);
        fs::create_dir_all(&deep_plain).unwrap();
        list.push(Scenario {
            name: "no state anywhere up the tree".into(),
            payload: self.payload("nostate", &plain, Some(&kib_message), None),
            restore: None,
            expect: Expect::Silent,
        });
        list.push(Scenario {
            name: "no state, 1 MB message".into(),
            payload: self.payload("nostate-1mb", &plain, Some(&mib_message), None),
            restore: None,
            expect: Expect::Silent,
        });
        list.push(Scenario {
            name: "no state, cwd 30 directories deep".into(),
            payload: self.payload("nostate-deep", &deep_plain, Some(&kib_message), None),
            restore: None,
            expect: Expect::Silent,
        });

        // An active loop that blocks.
        let (ws, text) = self.loop_workspace("active", &core);
        list.push(Scenario {
            name: "active loop blocks (1 KB message)".into(),
            payload: self.payload("block", &ws, Some(&kib_message), None),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        list.push(Scenario {
            name: "active loop blocks (1 MB message)".into(),
            payload: self.payload("block-1mb", &ws, Some(&mib_message), None),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        list.push(Scenario {
            name: "active loop blocks (1 MB of unclosed tags and backtick runs)".into(),
            payload: self.payload("block-hostile", &ws, Some(&hostile_message()), None),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        let deep_ws = deep(&ws, 30);
        fs::create_dir_all(&deep_ws).unwrap();
        list.push(Scenario {
            name: "active loop blocks, cwd 30 directories deep".into(),
            payload: self.payload("block-deep", &deep_ws, Some(&kib_message), None),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        list.push(Scenario {
            name: "completion (promise in a 1 KB message)".into(),
            payload: self.payload("done", &ws, Some(&support::prose_message(1024, DONE)), None),
            restore: Some(text.clone()),
            expect: Expect::Completed,
        });

        // Defaults (no-progress 3) in a plain folder: the message digest is computed.
        let (ws, text) = self.loop_workspace("defaults", &[]);
        list.push(Scenario {
            name: "active loop blocks, default budgets, not a git repo".into(),
            payload: self.payload("defaults", &ws, Some(&kib_message), None),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        list.push(Scenario {
            name: "active loop blocks, default budgets, 1 MB message".into(),
            payload: self.payload("defaults-1mb", &ws, Some(&mib_message), None),
            restore: Some(text),
            expect: Expect::Block,
        });

        // A history file with 100,000 lines (it lives beside the record).
        let (ws, text) = self.loop_workspace("history", &core);
        let history = match text.0.as_slice() {
            [(_, record), _] => record.with_file_name("history.jsonl"),
            _ => ws.join(".codex/ralph-loop-history.jsonl"),
        };
        fill_history(&history, 100_000);
        list.push(Scenario {
            name: "active loop blocks, 100,000-line history".into(),
            payload: self.payload("history", &ws, Some(&kib_message), None),
            restore: Some(text),
            expect: Expect::Block,
        });

        // The transcript fallback: no last_assistant_message.
        let (ws, text) = self.loop_workspace("transcript", &core);
        let small = self.root.join("transcript-small.jsonl");
        write_transcript(&small, 4 * 1024, &kib_message, 0);
        let big = self.root.join("transcript-100mb.jsonl");
        write_transcript(&big, 100 * 1024 * 1024, &kib_message, 0);
        list.push(Scenario {
            name: "transcript fallback, 4 KB transcript".into(),
            payload: self.payload("transcript-small", &ws, None, Some(&small)),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        list.push(Scenario {
            name: "transcript fallback, 100 MB transcript".into(),
            payload: self.payload("transcript-big", &ws, None, Some(&big)),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        let far = self.root.join("transcript-100mb-far.jsonl");
        write_transcript(&far, 100 * 1024 * 1024, &kib_message, 8 * 1024 * 1024);
        list.push(Scenario {
            name: "transcript fallback, 100 MB, last answer 8 MB before the end".into(),
            payload: self.payload("transcript-far", &ws, None, Some(&far)),
            restore: Some(text.clone()),
            expect: Expect::Block,
        });
        // One 16 MiB line without a final newline (was quadratic: seconds).
        let one_line = self.root.join("transcript-16mib-one-line.jsonl");
        fs::write(&one_line, "x".repeat(16 * 1024 * 1024)).unwrap();
        list.push(Scenario {
            name: "transcript fallback, one 16 MiB line without a newline".into(),
            payload: self.payload("transcript-one-line", &ws, None, Some(&one_line)),
            restore: Some(text),
            expect: Expect::Block,
        });

        // The token budget on: each stop reads only what the host appended since the
        // previous one (here one turn of about 20 KB), however long the transcript is.
        for (agent, size, label) in [
            ("codex", 64 * 1024, "64 KB"),
            ("codex", 100 * 1024 * 1024, "100 MB"),
            ("claude", 100 * 1024 * 1024, "100 MB"),
        ] {
            let name = format!("tokens-{agent}-{}", size / 1024);
            let transcript = self.root.join(format!("{name}.jsonl"));
            write_usage_transcript(&transcript, agent, size, 0, None);
            let (ws, _) = self.loop_workspace_of(
                agent,
                &name,
                &[
                    "--max-tokens",
                    "1G",
                    "--no-progress",
                    "0",
                    "--max-iterations",
                    "0",
                ],
            );
            let payload = self.payload_of(agent, &name, &ws, &kib_message, &transcript);
            // The first stop finds where the session stands; the host then appends a turn.
            let first = self
                .command()
                .arg("stop")
                .stdin(File::open(&payload).unwrap())
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&first.stdout).contains("block"),
                "{first:?}"
            );
            // The turn ends with the reply the payload names, as the hosts write it: a stop
            // that finds it does not wait (`engine::flush`).
            write_usage_transcript(&transcript, agent, 20 * 1024, size, Some(&kib_message));
            list.push(Scenario {
                name: format!(
                    "active loop blocks, token budget, {} {label} transcript (reads the last turn)",
                    if agent == "codex" {
                        "Codex"
                    } else {
                        "Claude Code"
                    }
                ),
                payload,
                restore: Some(self.snapshot(agent, &name, &ws)),
                expect: Expect::Block,
            });
        }

        // A git workspace with the default no-progress brake: `git status` every stop.
        // The repository exists before the loop starts: git runs only in a workspace
        // that was one when its loop began.
        let ws = self.root.join("git");
        fs::create_dir_all(&ws).unwrap();
        git_repo(&ws, 200);
        let (ws, text) = self.loop_workspace("git", &[]);
        list.push(Scenario {
            name: "active loop blocks, git workspace (200 files), no-progress on: runs git status"
                .into(),
            payload: self.payload("git", &ws, Some(&kib_message), None),
            restore: Some(text),
            expect: Expect::Block,
        });
        list
    }

    fn spawn(&self, scenario: &Scenario, stdout: Stdio) -> std::process::Child {
        if let Some(restore) = &scenario.restore {
            restore.apply();
        }
        let mut cmd = self.command();
        cmd.arg("stop")
            .stdin(File::open(&scenario.payload).unwrap())
            .stdout(stdout)
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    }

    /// Runs the scenario once and checks the hook answered as intended.
    fn check(&self, scenario: &Scenario) {
        let out = self
            .spawn(scenario, Stdio::piped())
            .wait_with_output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ok = match scenario.expect {
            Expect::Silent => stdout.is_empty(),
            Expect::Block => stdout.starts_with(r#"{"decision":"block""#),
            Expect::Completed => stdout.contains("[completed]"),
        };
        assert!(
            out.status.success() && ok,
            "scenario {:?} did not answer {:?}:\nstdout: {stdout}\nstderr: {}",
            scenario.name,
            scenario.expect,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn measure(&self, scenario: &Scenario, warmup: usize, runs: usize) -> Figures {
        let mut times = Vec::with_capacity(runs);
        for i in 0..warmup + runs {
            let elapsed = self.time_once(scenario);
            if i >= warmup {
                times.push(elapsed);
            }
        }
        let peak = self.peak_rss_kib(scenario);
        times.sort();
        let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        Figures {
            median: pick(0.5),
            p95: pick(0.95),
            min: times[0],
            peak_rss_kib: peak,
        }
    }

    /// Peak resident memory of the hook in KiB, the most of five runs, measured by GNU
    /// time (`/usr/bin/time -f %M`): a small process that forks the hook. A child
    /// spawned straight from this larger process would count this process's resident
    /// pages, shared until exec, as its own peak. `None` without GNU time.
    fn peak_rss_kib(&self, scenario: &Scenario) -> Option<i64> {
        let time = Path::new("/usr/bin/time");
        if !time.exists() {
            return None;
        }
        let report = self.root.join("time-report.txt");
        let mut peak = None;
        for _ in 0..5 {
            if let Some(restore) = &scenario.restore {
                restore.apply();
            }
            let mut cmd = self.command();
            let envs: Vec<_> = cmd
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
                .collect();
            cmd = Command::new(time);
            let status = cmd
                .env_clear()
                .envs(envs)
                .current_dir(&self.root)
                .arg("-f")
                .arg("%M")
                .arg("-o")
                .arg(&report)
                .arg(&self.bin)
                .arg("stop")
                .stdin(File::open(&scenario.payload).unwrap())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "{}: {status}", scenario.name);
            let kib: i64 = fs::read_to_string(&report)
                .unwrap()
                .trim()
                .parse()
                .expect("GNU time prints the peak in KiB");
            peak = peak.max(Some(kib));
        }
        peak
    }

    /// One run: spawn to exit.
    fn time_once(&self, scenario: &Scenario) -> Duration {
        if let Some(restore) = &scenario.restore {
            restore.apply();
        }
        let mut cmd = self.command();
        cmd.arg("stop")
            .stdin(File::open(&scenario.payload).unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let start = Instant::now();
        let status = cmd.status().unwrap();
        let elapsed = start.elapsed();
        assert!(status.success(), "{}: {status}", scenario.name);
        elapsed
    }
}

fn deep(base: &Path, levels: usize) -> PathBuf {
    (0..levels).fold(base.to_path_buf(), |dir, i| dir.join(format!("d{i}")))
}

/// About 1 MB built to defeat naive matching: 50,000 opening tags sharing one closing
/// tag far away, and backtick runs of 1..=700 characters that never close. Before the
/// matcher was made linear this took seconds.
fn hostile_message() -> String {
    let mut text = "<promise>x".repeat(50_000);
    for len in 1..=700 {
        text.push_str(&"`".repeat(len));
        text.push(' ');
    }
    text.push_str("</promise> still working ");
    text.push_str(CONTINUE);
    text
}

fn fill_history(path: &Path, lines: usize) {
    let mut file = BufWriter::new(
        File::options()
            .append(true)
            .create(true)
            .open(path)
            .unwrap(),
    );
    for i in 0..lines {
        writeln!(
            file,
            r#"{{"at":"2026-11-21T10:00:00Z","event":"stop","decision":"block","loop_id":"old","session_id":"{SESSION}","iteration":{i},"max_iterations":0,"tag":"continue"}}"#
        )
        .unwrap();
    }
}

/// A Claude Code transcript of about `size` bytes whose last assistant text is
/// `answer`, followed by `after` bytes of other lines (tool results).
fn write_transcript(path: &Path, size: usize, answer: &str, after: usize) {
    let mut file = BufWriter::new(File::create(path).unwrap());
    let filler_text = "x".repeat(900);
    let user = json!({"type":"user","message":{"role":"user","content":[{"type":"tool_result","content": filler_text}]}}).to_string();
    let old = json!({"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"an older answer"}]}}).to_string();
    let last = json!({"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text": answer}]}}).to_string();
    let mut written = 0;
    let before = size.saturating_sub(after + last.len());
    let mut i = 0;
    while written < before {
        let line = if i % 10 == 9 { &old } else { &user };
        writeln!(file, "{line}").unwrap();
        written += line.len() + 1;
        i += 1;
    }
    writeln!(file, "{last}").unwrap();
    let mut tail = 0;
    while tail < after {
        writeln!(file, "{user}").unwrap();
        tail += user.len() + 1;
    }
}

/// Appends about `size` bytes of a session's transcript in `agent`'s shape, with token
/// usage the way the host writes it: Codex's cumulative `token_count` lines among the
/// response items, Claude Code's assistant lines (a few per message id). `from` is where
/// the counts go on (0 for a new file); `reply` ends the part with the turn's last reply
/// and its usage.
fn write_usage_transcript(path: &Path, agent: &str, size: usize, from: usize, reply: Option<&str>) {
    let mut file = BufWriter::new(
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap(),
    );
    let filler = "x".repeat(700);
    let mut written = 0;
    let mut i = from / 1000;
    while written < size {
        let line = match (agent, i % 4) {
            ("codex", 3) => json!({"type": "event_msg", "payload": {"type": "token_count",
                "info": {"total_token_usage": {"input_tokens": i * 1000, "cached_input_tokens": 0,
                    "output_tokens": i * 100, "reasoning_output_tokens": 0, "total_tokens": i * 1100}}}}),
            ("codex", _) => json!({"type": "response_item", "payload": {"type": "message",
                "role": "assistant", "content": [{"type": "output_text", "text": filler}]}}),
            (_, _) => json!({"type": "assistant", "message": {"id": format!("msg_{}", i / 3),
                "role": "assistant", "content": [{"type": "text", "text": filler}],
                "usage": {"input_tokens": 900, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 300, "output_tokens": 100}}}),
        }
        .to_string();
        writeln!(file, "{line}").unwrap();
        written += line.len() + 1;
        i += 1;
    }
    let Some(reply) = reply else {
        return;
    };
    let lines = match agent {
        "codex" => vec![
            json!({"type": "response_item", "payload": {"type": "message",
                "role": "assistant", "content": [{"type": "output_text", "text": reply}]}}),
            json!({"type": "event_msg", "payload": {"type": "token_count",
                "info": {"total_token_usage": {"input_tokens": i * 1000, "cached_input_tokens": 0,
                    "output_tokens": i * 100, "reasoning_output_tokens": 0, "total_tokens": i * 1100}}}}),
        ],
        _ => vec![
            json!({"type": "assistant", "message": {"id": format!("msg_reply_{i}"),
            "role": "assistant", "content": [{"type": "text", "text": reply}],
            "usage": {"input_tokens": 900, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 300, "output_tokens": 100}}}),
        ],
    };
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

fn git_repo(ws: &Path, files: usize) {
    for i in 0..files {
        let dir = ws.join(format!("src/m{}", i % 20));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(format!("f{i}.rs")),
            format!("pub fn f{i}() {{}}\n"),
        )
        .unwrap();
    }
    fs::write(ws.join(".gitignore"), ".codex/\n").unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(ws)
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "bench"]);
}
