//! The no-progress brake's workspace fingerprint against the `git status` it is built on
//! (issue 11), on a generated repository of 10,000 committed files with 100 changed
//! files: 50 tracked files modified and 50 new untracked ones.
//!
//! - `git status (before issue 11)`: the command the brake ran before, output hashed.
//! - `git status (hardened, as the fingerprint runs it)`: the fingerprint's own command.
//! - `fingerprint`: the whole look, `Fingerprint::take` (git status, parse, one `lstat`
//!   per listed path, digest).
//! - `fingerprint without git`: everything beyond git status, on a captured output.
//!
//! Target: `fingerprint` within 2 ms of `git status (before issue 11)`. On a shared
//! machine the two criterion groups run minutes apart under different load, so the bench
//! first prints a paired figure: the two commands alternated, the median of the
//! per-pair differences (`BENCH_PAIRS` pairs, default 200).
//! `cargo bench --bench fingerprint`.

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use ralph_hook::testing::engine::digest;
use ralph_hook::testing::engine::fingerprint::{self, Fingerprint};

const FOLDERS: usize = 100;
const FILES_PER_FOLDER: usize = 100;
const MODIFIED: usize = 50;
const UNTRACKED: usize = 50;

/// Runs git in `repo` with a home of its own (no user configuration), asserting success.
fn git(repo: &Path, home: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .current_dir(repo)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// The 10,000-file repository with 100 changed files.
fn repository(root: &Path) -> std::path::PathBuf {
    let repo = root.join("repo");
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for folder in 0..FOLDERS {
        let dir = repo.join(format!("src/module_{folder:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for file in 0..FILES_PER_FOLDER {
            let text = format!("// module {folder} file {file}\npub fn f() -> u32 {{ {file} }}\n");
            std::fs::write(dir.join(format!("file_{file:03}.rs")), text).unwrap();
        }
    }
    git(&repo, &home, &["init", "-q"]);
    git(&repo, &home, &["add", "."]);
    git(&repo, &home, &["commit", "-qm", "10,000 files"]);
    for i in 0..MODIFIED {
        let path = repo.join(format!("src/module_{:03}/file_000.rs", i * 2));
        std::fs::write(path, format!("// edited {i}\n")).unwrap();
    }
    for i in 0..UNTRACKED {
        let path = repo.join(format!("src/module_{:03}/new_{i}.rs", i * 2 + 1));
        std::fs::write(path, format!("// new {i}\n")).unwrap();
    }
    repo
}

/// The brake's command before issue 11, as `workspace::git_digest` ran it.
fn status_as_before(repo: &Path) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "core.quotePath=false",
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=all",
        ])
        .current_dir(repo)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("git status");
    assert!(output.status.success());
    digest::hex(&output.stdout)
}

fn hardened_status(repo: &Path) -> Vec<u8> {
    let output = fingerprint::git_command(repo)
        .expect("git on an absolute PATH entry")
        .args(fingerprint::STATUS_ARGS)
        .output()
        .expect("git status");
    assert!(output.status.success());
    output.stdout
}

fn workspace(c: &mut Criterion) {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repository(temp.path());
    let look = Fingerprint::take(&repo).expect("a fingerprint");
    assert_eq!(look.paths.len(), MODIFIED + UNTRACKED, "100 changed paths");
    let captured = hardened_status(&repo);

    let mut group = c.benchmark_group("workspace 10,000 files, 100 changed");
    group.sample_size(60);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("git status (before issue 11)", |b| {
        b.iter(|| black_box(status_as_before(&repo)));
    });
    group.bench_function("git status (hardened, as the fingerprint runs it)", |b| {
        b.iter(|| black_box(hardened_status(&repo)));
    });
    group.bench_function("fingerprint", |b| {
        b.iter(|| black_box(Fingerprint::take(&repo)));
    });
    group.bench_function("fingerprint without git", |b| {
        b.iter(|| black_box(Fingerprint::from_status(&repo, &captured)));
    });
    group.finish();
}

/// The old command and the fingerprint, alternated, so both see the same load: prints the
/// median of each and of the per-pair difference.
fn paired_difference() {
    let pairs: usize = std::env::var("BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repository(temp.path());
    let (mut before, mut after, mut difference) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let start = Instant::now();
        black_box(status_as_before(&repo));
        let old = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        black_box(Fingerprint::take(&repo));
        let new = start.elapsed().as_secs_f64() * 1e3;
        before.push(old);
        after.push(new);
        difference.push(new - old);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!(
        "paired, {pairs} pairs: git status (before issue 11) {:.2} ms, fingerprint {:.2} ms, \
         difference (median of pairs) {:+.2} ms",
        median(&mut before),
        median(&mut after),
        median(&mut difference)
    );
}

criterion_group!(benches, workspace);

fn main() {
    paired_difference();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
