//! Running a child process with a deadline: its own process group (the npm launchers
//! spawn the native client as a child, and the client spawns shells and hooks), output
//! captured to files, the whole group killed when the deadline passes.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Numbers the output files of every run in this test process.
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// What a finished (or killed) process left behind.
#[derive(Clone, Debug)]
pub struct Finished {
    /// What was run, for the failure report.
    pub label: String,
    /// `None` when the process was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Finished {
    /// True when the process ended by itself with exit code 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The report printed when a test fails.
    pub fn report(&self) -> String {
        let status = match self.status {
            Some(s) => format!("{s}"),
            None => "KILLED at the deadline".to_string(),
        };
        format!(
            "=== {} ({status}, {:.1}s)\n--- stdout\n{}\n--- stderr\n{}\n",
            self.label,
            self.elapsed.as_secs_f64(),
            cut(&self.stdout, 12_000),
            cut(&self.stderr, 12_000)
        )
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes cut …]\n{}", &s[start..])
}

/// Runs `cmd` (stdin closed) until it exits or `deadline` passes; then kills its group.
/// Output goes to files under `scratch` so a chatty child never blocks on a full pipe.
pub fn run_bounded(mut cmd: Command, label: &str, scratch: &Path, deadline: Duration) -> Finished {
    let stamp = RUNS.fetch_add(1, Ordering::SeqCst);
    let out_path = scratch.join(format!("out-{stamp}.txt"));
    let err_path = scratch.join(format!("err-{stamp}.txt"));
    let out = File::create(&out_path).unwrap();
    let err = File::create(&err_path).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > deadline {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(25));
    };
    // Whatever the client left running in its group (a hung hook, a shell) goes too.
    kill_group(child.id());
    let elapsed = start.elapsed();
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Finished {
        label: label.to_string(),
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
        elapsed,
    }
}

/// SIGKILL to the process group `pgid` (our child leads its own group).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
