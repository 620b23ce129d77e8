//! The supervisor's loop: launch the client, read its events (bind the session, print
//! the digest, keep the raw output), notice the loop's end, a cancel or a signal, and
//! when the client died with the loop still active resume the same session after the
//! backoff, until the loop ends or `--max-restarts` are spent.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::events::{self, ClientEvent};
use super::group::{self, Client};
use super::host;
use super::log::{CappedLog, LOG_CAP};
use super::policy::{self, Next};
use super::record;
use super::signals;
use super::tree;
use crate::clock;
use crate::commands::final_report;
use crate::engine::decide::{Continuation, Outcome};
use crate::engine::fresh::{self, FreshMode, Handoff};
use crate::engine::history::{Action, Event, HistoryEntry};
use crate::engine::lifecycle;
use crate::engine::ownership::{self, LoopRecord};
use crate::engine::render::{self, FreshContext, printable};
use crate::engine::store::Store;
use crate::engine::supervision::{CLIENT_LOG, Supervision, Timings};
use crate::error::{Error, Result};
use crate::messages::say;

/// How often the supervisor looks at the client, the record and the signals.
const TICK: Duration = Duration::from_millis(100);
/// How often the history is read for the digest.
const DIGEST_EVERY: Duration = Duration::from_millis(500);
/// After the loop ended by a stop, how long the client has to exit by itself.
const SETTLE: Duration = Duration::from_secs(5);
/// The longest digest line of an agent's message.
const DIGEST_CHARS: usize = 200;

/// One line the client wrote.
enum Line {
    Out(String),
    Err(String),
}

/// A supervisor of one loop.
pub(crate) struct Supervisor {
    store: Store,
    sup: Supervision,
    timings: Timings,
    log: Arc<Mutex<CappedLog>>,
    history_seen: usize,
    /// The agent's last message in the current client run (a fresh loop hands it on).
    last_message: Option<String>,
    /// The hand-off note given to the last new session, to tell a stale one.
    handoff_given: Option<String>,
}

/// What the supervisor heard from one client run, beyond its events.
#[derive(Default)]
struct Heard {
    /// The last error the client reported in its events.
    error: Option<String>,
    /// The last line the client wrote on stderr.
    stderr: Option<String>,
    /// The host said it has no session by the id it was asked to resume.
    no_such_session: bool,
}

/// How a client run ended.
struct RunEnd {
    status: Option<ExitStatus>,
    last_error: Option<String>,
    /// The host had no session by the id it was asked to resume.
    no_such_session: bool,
    /// The loop ended while the client ran (a stop's finish, `cancel`, a signal).
    loop_over: bool,
}

impl Supervisor {
    /// A supervisor for `sup`'s loop in `store`.
    pub(crate) fn new(store: Store, sup: Supervision, timings: Timings) -> Result<Self> {
        let path = store.loop_dir().join(CLIENT_LOG);
        let log = CappedLog::open(&path, LOG_CAP)
            .map_err(|err| Error::io("open the client's log", &path, err))?;
        let history_seen = store.history().map(|h| h.len()).unwrap_or(0);
        Ok(Supervisor {
            store,
            sup,
            timings,
            log: Arc::new(Mutex::new(log)),
            history_seen,
            last_message: None,
            handoff_given: None,
        })
    }

    /// Runs the loop to its end and returns `wait`'s exit code for the outcome.
    pub(crate) fn drive(mut self) -> Result<i32> {
        signals::install(self.sup.detached);
        // What a client's tools leave orphaned (a sandbox in its own session) stays ours
        // to end.
        tree::adopt_orphans();
        self.beat();
        let code = self.drive_inner();
        self.sup.exited = Some(clock::format(clock::now()));
        self.sup.client_pid = None;
        self.sup.next_attempt = None;
        self.write();
        code
    }

    fn drive_inner(&mut self) -> Result<i32> {
        loop {
            let Some(current) = record::current(&self.store, &self.sup.loop_id) else {
                return Ok(self.finish());
            };
            let session = current.state.session_id.clone();
            let hand_over = current.fresh.as_ref().and_then(|fresh| fresh.next.clone());
            let resume = session
                .as_deref()
                .filter(|_| self.sup.launches > 0 && hand_over.is_none());
            let prompt = match (&hand_over, resume) {
                (Some(body), _) => self.next_session_prompt(&current, body),
                (None, Some(_)) => render::continuation_prompt(
                    &current.state,
                    &Continuation::default(),
                    &self.store.state_path(),
                    clock::now(),
                ),
                (None, None) if self.sup.launches > 0 => self.replacement_prompt(&current),
                (None, None) => self.sup.spec.first_prompt.clone(),
            };
            let iteration = current.state.iteration;
            self.last_message = None;
            if resume.is_none() {
                record::expect_new_session(&self.store, &self.sup.loop_id, clock::now())?;
            }
            let args = host::arguments(self.sup.agent, &self.sup.spec, resume, &prompt);
            let end = match self.run_client(&args, resume.is_some()) {
                Ok(end) => end,
                Err(err) => {
                    record::end(
                        &self.store,
                        &self.sup.loop_id,
                        Outcome::Error,
                        format!(
                            "ralph-hook run could not start {}: {err}",
                            self.sup.spec.client.display()
                        ),
                        clock::now(),
                    )?;
                    return Ok(self.finish());
                }
            };
            let Some(after) =
                record::current(&self.store, &self.sup.loop_id).filter(|_| !end.loop_over)
            else {
                return Ok(self.finish());
            };
            if after
                .fresh
                .as_ref()
                .is_some_and(|fresh| fresh.next.is_some())
                && after.state.iteration > iteration
            {
                // A stop of this session ended its iteration: the next starts afresh; not
                // a restart.
                say(format!(
                    "[ralph] the session's turn ended; iteration {} starts in a new session",
                    render::iteration_label(&after.state)
                ));
                continue;
            }
            if let Some(lost) = resume.filter(|_| end.no_such_session) {
                // Killed before the host saved the session: nothing to resume, and not a
                // death of its own; the iteration starts over in a new session at once.
                if record::start_over(&self.store, &self.sup.loop_id, lost, clock::now())? {
                    self.print_history();
                    continue;
                }
            }
            let cause = cause(end.status, end.last_error.as_deref());
            let time_left = current
                .state
                .max_duration()
                .map(|limit| limit.saturating_sub(current.state.elapsed(clock::now())));
            match policy::next(
                self.sup.restarts,
                self.sup.spec.max_restarts,
                &self.timings,
                end.last_error.as_deref(),
                time_left,
                jitter(),
            ) {
                Next::GiveUp => {
                    say(format!(
                        "[ralph] the client died ({cause}) and --max-restarts {} are spent: the loop ends",
                        self.sup.spec.max_restarts
                    ));
                    record::end(
                        &self.store,
                        &self.sup.loop_id,
                        Outcome::RestartsExhausted,
                        format!(
                            "the client died ({cause}) after {} restart{}",
                            self.sup.restarts,
                            if self.sup.restarts == 1 { "" } else { "s" }
                        ),
                        clock::now(),
                    )?;
                    return Ok(self.finish());
                }
                Next::Restart { after } => {
                    self.sup.restarts += 1;
                    let detail = format!(
                        "restart {}/{} in {} after the client died ({cause})",
                        self.sup.restarts,
                        self.sup.spec.max_restarts,
                        clock::human(after)
                    );
                    if !record::restart(&self.store, &self.sup.loop_id, &detail, clock::now())? {
                        return Ok(self.finish());
                    }
                    self.print_history();
                    self.sup.next_attempt = Some(clock::format(clock::now() + after));
                    self.write();
                    if !self.pause(after) {
                        return Ok(self.finish());
                    }
                    self.sup.next_attempt = None;
                }
            }
        }
    }

    /// Launches one client and watches it until it exits; its group is ended before
    /// this returns.
    fn run_client(&mut self, args: &[String], resumed: bool) -> Result<RunEnd> {
        let workspace = self.store.workspace().to_path_buf();
        let (mut client, stdout, stderr) = Client::spawn(
            &self.sup.spec.client,
            args,
            &workspace,
            &[(ownership::RUN_LOOP_ENV, &self.sup.loop_id)],
        )
        .map_err(|err| Error::io("start the client", &self.sup.spec.client, err))?;
        self.sup.launches += 1;
        self.sup.client_pid = Some(client.pid());
        self.write();
        say(format!(
            "[ralph] {} {} (pid {}) in {}",
            if resumed { "resumed" } else { "launched" },
            self.sup.agent.display_name(),
            client.pid(),
            printable(&workspace.display().to_string())
        ));
        let (tx, rx) = mpsc::channel();
        reader(stdout, Line::Out, tx.clone(), Arc::clone(&self.log));
        reader(stderr, Line::Err, tx, Arc::clone(&self.log));
        let mut heard = Heard::default();
        let mut last_beat = Instant::now();
        let mut last_digest = Instant::now();
        let mut loop_over = false;
        let mut over_since: Option<Instant> = None;
        let status = loop {
            self.read_lines(&rx, &mut heard);
            if let Some(status) = client.exited() {
                break Some(status);
            }
            if let Some(signal) = signals::take() {
                say(format!("[ralph] {signal}: cancelling the loop"));
                let _ = lifecycle::cancel(&self.store, clock::now());
                loop_over = true;
                break client.end(std::process::id(), self.timings.kill_grace);
            }
            if record::current(&self.store, &self.sup.loop_id).is_none() {
                loop_over = true;
                let since = *over_since.get_or_insert_with(Instant::now);
                if self.ended_by_stop() && since.elapsed() < SETTLE {
                    // The last stop allowed the turn: the client exits by itself.
                } else {
                    break client.end(std::process::id(), self.timings.kill_grace);
                }
            }
            if last_beat.elapsed() >= self.timings.heartbeat {
                self.beat();
                last_beat = Instant::now();
            }
            if last_digest.elapsed() >= DIGEST_EVERY {
                self.print_history();
                last_digest = Instant::now();
            }
            thread::sleep(TICK);
        };
        // Whatever the agent left running, in the client's group or below it, goes with it.
        let pgid = client.pid();
        group::end_all(
            std::process::id(),
            pgid,
            self.timings.kill_grace,
            &mut || {},
        );
        self.drain(&rx, &mut heard);
        self.sup.client_pid = None;
        self.beat();
        self.print_history();
        Ok(RunEnd {
            status,
            last_error: heard.error.or(heard.stderr),
            no_such_session: heard.no_such_session,
            loop_over,
        })
    }

    /// Handles the lines the client wrote since the last look.
    fn read_lines(&mut self, rx: &Receiver<Line>, heard: &mut Heard) {
        loop {
            match rx.try_recv() {
                Ok(line) => self.handle(line, heard),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    /// Reads what is left once the client is gone (bounded: a process that escaped the
    /// group could hold the pipe open).
    fn drain(&mut self, rx: &Receiver<Line>, heard: &mut Heard) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) => self.handle(line, heard),
                Err(_) => return,
            }
        }
    }

    fn handle(&mut self, line: Line, heard: &mut Heard) {
        self.sup.last_output = Some(clock::format(clock::now()));
        let text = match line {
            Line::Err(text) => {
                if host::says_no_such_session(self.sup.agent, &text) {
                    heard.no_such_session = true;
                }
                if !text.trim().is_empty() {
                    heard.stderr = Some(text.trim().to_string());
                }
                return;
            }
            Line::Out(text) => text,
        };
        for event in events::parse(self.sup.agent, &text) {
            match event {
                ClientEvent::Session(id) => {
                    match record::bind(&self.store, &self.sup.loop_id, &id, clock::now()) {
                        Ok(Some(what)) => {
                            say(format!("[ralph] {what}"));
                        }
                        Ok(None) => {}
                        Err(err) => {
                            say(format!("[ralph] could not bind the session {id}: {err}"));
                        }
                    }
                }
                ClientEvent::Message(text) => {
                    say(format!("agent: {}", headline(&text)));
                    self.last_message = Some(text);
                }
                ClientEvent::Notice(text) => {
                    say(format!("[hook] {}", headline(&text)));
                }
                ClientEvent::Error(text) => {
                    say(format!("[client error] {}", headline(&text)));
                    heard.error = Some(text);
                }
            }
        }
    }

    /// The first prompt of a fresh loop's next session: the stop's continuation (`body`),
    /// the workspace since the loop began, the previous session's last message and its
    /// hand-off note.
    fn next_session_prompt(&mut self, record: &LoopRecord, body: &str) -> String {
        let workspace = self.store.workspace();
        let base = record
            .fresh
            .as_ref()
            .and_then(|fresh| fresh.base.as_deref());
        let handoff = fresh::read_handoff(workspace);
        let unchanged = match &handoff {
            Handoff::Note { text, .. } => {
                let same = self.handoff_given.as_deref() == Some(text.as_str());
                self.handoff_given = Some(text.clone());
                same
            }
            Handoff::Missing | Handoff::Refused(_) => false,
        };
        let context = FreshContext {
            mode: record
                .fresh
                .as_ref()
                .map_or(FreshMode::Iteration, |fresh| fresh.mode),
            summary: fresh::workspace_summary(workspace, record.git, base),
            last_message: self.last_message.as_deref().map(fresh::last_message),
            handoff: Some(handoff),
            handoff_unchanged: unchanged,
        };
        render::fresh_prompt(
            &record.state,
            body,
            &self.store.state_path(),
            workspace,
            &context,
        )
    }

    /// The first prompt of a session started in place of one that cannot be resumed (the
    /// host never saved it, or the client died before naming it): the loop's own first
    /// prompt when no iteration was done yet, else a fresh loop's next-session prompt or
    /// the continuation.
    fn replacement_prompt(&mut self, record: &LoopRecord) -> String {
        let now = clock::now();
        let state_path = self.store.state_path();
        if record.state.iteration == 0 {
            self.sup.spec.first_prompt.clone()
        } else if record.fresh.is_some() {
            let body = render::continuation_body(
                &record.state,
                &Continuation::default(),
                &state_path,
                now,
            );
            self.next_session_prompt(record, &body)
        } else {
            render::continuation_prompt(&record.state, &Continuation::default(), &state_path, now)
        }
    }

    /// Prints the history lines written since the last look (the hooks' decisions).
    fn print_history(&mut self) {
        let Ok(history) = self.store.history() else {
            return;
        };
        for entry in history.iter().skip(self.history_seen) {
            if entry.loop_id.as_deref() == Some(self.sup.loop_id.as_str()) {
                say(format!("[ralph] {}", digest_line(entry)));
            }
        }
        self.history_seen = history.len();
    }

    /// True when the loop's last line is a stop's finish: the client ends by itself.
    fn ended_by_stop(&self) -> bool {
        self.store.last_history_entry().is_some_and(|entry| {
            entry.event == Event::Stop
                && entry.decision == Action::Finish
                && entry.loop_id.as_deref() == Some(self.sup.loop_id.as_str())
        })
    }

    /// Waits `after` before the next attempt, beating; false when the loop ended or a
    /// signal came meanwhile.
    fn pause(&mut self, after: Duration) -> bool {
        let until = Instant::now() + after;
        let mut last_beat = Instant::now();
        while Instant::now() < until {
            if let Some(signal) = signals::take() {
                say(format!("[ralph] {signal}: cancelling the loop"));
                let _ = lifecycle::cancel(&self.store, clock::now());
                return false;
            }
            if record::current(&self.store, &self.sup.loop_id).is_none() {
                return false;
            }
            if last_beat.elapsed() >= self.timings.heartbeat {
                self.beat();
                last_beat = Instant::now();
            }
            thread::sleep(TICK);
        }
        true
    }

    /// The loop ended: the last history lines and the outcome, as `wait` prints it.
    fn finish(&mut self) -> i32 {
        self.print_history();
        final_report(&self.store, &self.sup.loop_id)
    }

    fn beat(&mut self) {
        self.sup.heartbeat = clock::format(clock::now());
        self.write();
    }

    fn write(&self) {
        if let Err(err) = self.sup.write(self.store.loop_dir()) {
            say(format!(
                "[ralph] could not write the supervisor file: {err}"
            ));
        }
    }
}

/// Copies each line of `from` into the log and hands it to the supervisor.
fn reader<R: Read + Send + 'static>(
    from: R,
    wrap: fn(String) -> Line,
    to: mpsc::Sender<Line>,
    log: Arc<Mutex<CappedLog>>,
) {
    thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\n', '\r'])
                .to_string();
            if let Ok(mut log) = log.lock() {
                let _ = log.line(&line);
            }
            if to.send(wrap(line)).is_err() {
                return;
            }
        }
    });
}

/// Why a client ended, in words: its exit code or signal, and the last error it printed.
fn cause(status: Option<ExitStatus>, last_error: Option<&str>) -> String {
    let how = match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
                Ok(signal) => format!("killed by {signal}"),
                Err(_) => format!("killed by signal {signal}"),
            },
            (None, None) => "ended".to_string(),
        },
        None => "ended".to_string(),
    };
    match last_error {
        Some(error) => format!("{how}; last error: {}", headline(error)),
        None => how,
    }
}

/// The first line of `text`, cut to a digest line and made safe to print.
fn headline(text: &str) -> String {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut line: String = first.chars().take(DIGEST_CHARS).collect();
    if first.chars().count() > DIGEST_CHARS || text.trim().lines().count() > 1 {
        line.push('…');
    }
    printable(&line).into_owned()
}

/// A history line as the digest shows it.
fn digest_line(entry: &HistoryEntry) -> String {
    let mut line = format!(
        "{} {} iteration {}",
        entry.event.as_str(),
        entry.decision.as_str(),
        if entry.max_iterations == 0 {
            entry.iteration.to_string()
        } else {
            format!("{}/{}", entry.iteration, entry.max_iterations)
        }
    );
    if let Some(reason) = entry.reason {
        line.push_str(&format!(" [{}]", reason.as_str()));
    }
    if let Some(detail) = &entry.detail {
        line.push_str(&format!(": {}", printable(detail)));
    }
    line
}

/// A number in [0, 1) that differs between calls and processes, for the backoff's jitter.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let mixed = (u64::from(nanos) ^ (u64::from(std::process::id()) << 17)) % 1_000_000;
    mixed as f64 / 1_000_000.0
}

/// The path of the client's log for a loop folder.
pub(crate) fn client_log(store: &Store) -> PathBuf {
    store.loop_dir().join(CLIENT_LOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_cause_names_the_exit_and_the_last_error() {
        assert_eq!(
            cause(Some(ExitStatus::from_raw(9)), None),
            "killed by SIGKILL"
        );
        assert_eq!(
            cause(
                Some(ExitStatus::from_raw(1 << 8)),
                Some("API Error: 400\nmore")
            ),
            "exit code 1; last error: API Error: 400…"
        );
    }

    #[test]
    fn jitter_stays_in_its_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
