//! A stop's token count once the host has written the turn's last reply to its transcript.
//!
//! A Stop hook can run before the host's transcript holds the reply that ended the turn
//! (measured, see `docs/MEASURED.md`): Claude Code 2.1.330 appends it a few milliseconds
//! to a few hundred after starting the hook, so a single read counts the turn one response
//! short and `--max-tokens` overshoots by a turn on a fast machine. Claude Code 2.1.332,
//! Codex 0.169.0 and 0.171.0 have it in place before the hook starts.
//!
//! So a stop that counts tokens reads what was appended since its cursor and, while that
//! does not yet end with the reply the payload names in `last_assistant_message` (and,
//! on Codex, the `token_count` after it), reads on every [`POLL_ENV`] until [`WAIT_ENV`]
//! has passed. Whatever the host writes later is read by the next stop from the cursor
//! this one leaves: counted once, late, never twice. A stop that gave up says so on
//! stderr. Each look costs an open, a stat and a 64-byte read when nothing was appended,
//! and all the looks of one stop read at most [`usage::READ_CAP`] bytes together; the
//! transcript's path is refused when it is a symbolic link or not a regular file (a FIFO
//! never blocks), on every look.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::agent::Agent;
use crate::engine::usage::{self, Cursor, Reading, Watch};
use crate::messages::warn;

/// The longest a stop waits for the turn's last reply, as a duration (`2s`, `500ms`;
/// `0` = read once, do not wait).
pub const WAIT_ENV: &str = "RALPH_HOOK_REPLY_WAIT";
/// How long a waiting stop sleeps between two looks at the transcript (`10ms`).
pub const POLL_ENV: &str = "RALPH_HOOK_REPLY_POLL";

/// The wait when [`WAIT_ENV`] is unset: far above the longest delay measured (see the
/// module docs), far below the installed Stop hook's timeout of 600 s.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(2);
/// The longest wait [`WAIT_ENV`] may ask for. The Stop hook also runs `--verify` (up to
/// 540 s) before it answers; a project's settings can set the hook's environment, and
/// must not make every stop slow.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// The poll interval when [`POLL_ENV`] is unset.
pub const DEFAULT_POLL: Duration = Duration::from_millis(10);
/// The shortest poll interval (a tighter one would only burn the CPU the host needs).
pub const MIN_POLL: Duration = Duration::from_millis(1);
/// The longest poll interval.
pub const MAX_POLL: Duration = Duration::from_secs(1);

/// How long a stop may wait for the reply, and how often it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The longest wait.
    pub bound: Duration,
    /// The sleep between two looks.
    pub poll: Duration,
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            bound: DEFAULT_WAIT,
            poll: DEFAULT_POLL,
        }
    }
}

impl Wait {
    /// The wait from [`WAIT_ENV`] and [`POLL_ENV`]; a value that is not a duration or is
    /// out of range is replaced (one line on stderr each).
    pub fn from_env() -> Wait {
        let (wait, problems) = Wait::parse(
            std::env::var(WAIT_ENV).ok().as_deref(),
            std::env::var(POLL_ENV).ok().as_deref(),
        );
        for problem in problems {
            warn(problem);
        }
        wait
    }

    /// The wait from the two settings' texts, and what was wrong with them.
    fn parse(bound: Option<&str>, poll: Option<&str>) -> (Wait, Vec<String>) {
        let mut problems = Vec::new();
        let mut setting = |name: &str, text: Option<&str>, default, min, max| {
            let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
                return default;
            };
            match humantime::parse_duration(text) {
                Ok(value) if value < min || value > max => {
                    let used = value.clamp(min, max);
                    problems.push(format!(
                        "{name}={text} is out of range ({} to {}); using {}",
                        humantime::format_duration(min),
                        humantime::format_duration(max),
                        humantime::format_duration(used)
                    ));
                    used
                }
                Ok(value) => value,
                Err(err) => {
                    problems.push(format!(
                        "{name}={text:?} is not a duration ({err}); using {}: write it like `2s` or `500ms`",
                        humantime::format_duration(default)
                    ));
                    default
                }
            }
        };
        let bound = setting(WAIT_ENV, bound, DEFAULT_WAIT, Duration::ZERO, MAX_WAIT);
        let poll = setting(POLL_ENV, poll, DEFAULT_POLL, MIN_POLL, MAX_POLL);
        (Wait { bound, poll }, problems)
    }
}

/// How a stop's wait for the reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The transcript has the reply and its usage: the turn is counted whole.
    Found,
    /// The payload names no reply: read once.
    NothingNamed,
    /// The bound passed first: what comes later is counted at the next stop.
    OutOfTime,
    /// Reading on could not help now: the transcript was replaced or truncated, more than
    /// a stop reads was appended, or it can no longer be read (the next stop reports why).
    CutShort,
}

/// What a stop counted, and how its wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Everything read by this stop's looks, as one reading.
    pub reading: Reading,
    /// How the wait ended.
    pub outcome: Outcome,
}

/// Reads the tokens appended to the transcript at `path` since `cursor`, waiting (with
/// the [`Wait::from_env`] bound) for `reply`, the payload's `last_assistant_message`.
/// Errors are the first read's (see `usage::read_watching`); a stop that ran out of time says so
/// on stderr.
pub fn read(
    path: &Path,
    agent: Agent,
    cursor: &Cursor,
    reply: Option<&str>,
) -> io::Result<Reading> {
    let wait = Wait::from_env();
    let settled = read_settled(path, agent, cursor, reply, wait)?;
    if settled.outcome == Outcome::OutOfTime {
        warn(format!(
            "the turn's last reply was not in the transcript {} after {}; what the host writes later is counted at the next stop (raise {WAIT_ENV} if this repeats)",
            path.display(),
            humantime::format_duration(wait.bound)
        ));
    }
    Ok(settled.reading)
}

/// [`read`] with an explicit wait, and how it ended.
pub fn read_settled(
    path: &Path,
    agent: Agent,
    cursor: &Cursor,
    reply: Option<&str>,
    wait: Wait,
) -> io::Result<Settled> {
    let started = Instant::now();
    let mut watch = Watch::new(reply.unwrap_or_default());
    let mut left = usage::READ_CAP;
    let mut reading = usage::read_watching(path, agent, cursor, left, &mut watch)?;
    if !watch.looking() {
        return Ok(Settled {
            reading,
            outcome: Outcome::NothingNamed,
        });
    }
    left = left.saturating_sub(consumed(cursor, &reading));
    let outcome = loop {
        if watch.found() {
            break Outcome::Found;
        }
        if reading.restarted.is_some() || reading.behind || left == 0 {
            break Outcome::CutShort;
        }
        let elapsed = started.elapsed();
        if elapsed >= wait.bound {
            break Outcome::OutOfTime;
        }
        std::thread::sleep(wait.poll.min(wait.bound - elapsed));
        let Ok(next) = usage::read_watching(path, agent, &reading.cursor, left, &mut watch) else {
            break Outcome::CutShort;
        };
        left = left.saturating_sub(consumed(&reading.cursor, &next));
        let mut spent = std::mem::take(&mut reading.spent);
        usage::merge_spent(&mut spent, &next.spent);
        reading = Reading {
            tokens: reading.tokens.saturating_add(next.tokens),
            spent,
            ..next
        };
    };
    Ok(Settled { reading, outcome })
}

/// Bytes a read moved the cursor on (a restart reads at most its anchor window, which the
/// next look does not get to: the wait ends there).
fn consumed(before: &Cursor, after: &Reading) -> u64 {
    if after.restarted.is_some() {
        return 0;
    }
    after.cursor.offset.saturating_sub(before.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::mpsc;

    /// What each test response reports: any distinct number does.
    const RESPONSE: u64 = 1500;

    fn claude_line(id: &str, block: &str) -> String {
        let content = match block {
            "tool_use" => {
                r#"{"type":"tool_use","id":"toolu_0","name":"Bash","input":{"command":"echo hi"}}"#
                    .to_string()
            }
            text => serde_json::json!({"type": "text", "text": text}).to_string(),
        };
        format!(
            r#"{{"type":"assistant","message":{{"id":"{id}","role":"assistant","content":[{content}],"usage":{{"input_tokens":900,"cache_creation_input_tokens":200,"cache_read_input_tokens":300,"output_tokens":100}}}}}}"#
        )
    }

    fn codex_reply(text: &str) -> String {
        serde_json::json!({"type": "response_item", "payload": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}}).to_string()
    }

    fn codex_total(total: u64) -> String {
        format!(
            r#"{{"type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{total},"output_tokens":0,"total_tokens":{total}}},"last_token_usage":{{"total_tokens":{RESPONSE}}}}}}}}}"#
        )
    }

    struct Transcript {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    impl Transcript {
        fn new(lines: &[String]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("session.jsonl");
            std::fs::write(&path, "").unwrap();
            let t = Transcript { _dir: dir, path };
            for line in lines {
                t.line(line);
            }
            t
        }

        fn line(&self, line: &str) {
            append(&self.path, line);
        }
    }

    fn append(path: &Path, line: &str) {
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    /// Appends `lines` from another thread after `delay`, as the host does after it
    /// started the Stop hook.
    fn later(path: &Path, delay: Duration, lines: Vec<String>) -> std::thread::JoinHandle<()> {
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            for line in lines {
                append(&path, &line);
            }
        })
    }

    fn wait(bound_ms: u64) -> Wait {
        Wait {
            bound: Duration::from_millis(bound_ms),
            poll: Duration::from_millis(5),
        }
    }

    /// A stop whose transcript has the turn's first response (text and a tool call) and
    /// not yet its last reply, with the cursor where the previous stop left it.
    fn claude_turn_without_reply() -> (Transcript, Cursor) {
        let t = Transcript::new(&[claude_line("msg_0", "Earlier turn, done.")]);
        let cursor = usage::read(&t.path, Agent::Claude, &Cursor::default())
            .unwrap()
            .cursor;
        t.line(&claude_line("msg_1", "Editing."));
        t.line(&claude_line("msg_1", "tool_use"));
        (t, cursor)
    }

    #[test]
    fn a_reply_that_arrives_within_the_bound_is_counted_at_this_stop() {
        let (t, cursor) = claude_turn_without_reply();
        let writer = later(
            &t.path,
            Duration::from_millis(150),
            vec![claude_line("msg_2", "Turn done.")],
        );
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("Turn done."),
            wait(20_000),
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(settled.outcome, Outcome::Found);
        assert_eq!(
            settled.reading.tokens,
            2 * RESPONSE,
            "both responses of the turn"
        );
        let next = usage::read(&t.path, Agent::Claude, &settled.reading.cursor).unwrap();
        assert_eq!(next.tokens, 0, "nothing is counted twice at the next stop");
    }

    #[test]
    fn a_reply_that_arrives_after_the_bound_is_counted_at_the_next_stop() {
        let (t, cursor) = claude_turn_without_reply();
        let writer = later(
            &t.path,
            Duration::from_millis(600),
            vec![claude_line("msg_2", "Turn done.")],
        );
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("Turn done."),
            wait(100),
        )
        .unwrap();
        assert_eq!(settled.outcome, Outcome::OutOfTime);
        assert_eq!(
            settled.reading.tokens, RESPONSE,
            "what had arrived is counted"
        );
        writer.join().unwrap();
        // The next turn: one more response, then the next stop.
        t.line(&claude_line("msg_3", "Next turn done."));
        let next = read_settled(
            &t.path,
            Agent::Claude,
            &settled.reading.cursor,
            Some("Next turn done."),
            wait(100),
        )
        .unwrap();
        assert_eq!(next.outcome, Outcome::Found);
        assert_eq!(
            next.reading.tokens,
            2 * RESPONSE,
            "the late reply and the next turn's, each once"
        );
    }

    #[test]
    fn a_transcript_that_never_gets_the_reply_costs_at_most_the_bound() {
        let (t, cursor) = claude_turn_without_reply();
        // The host keeps writing other lines, never the reply.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (path, stop) = (t.path.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    append(&path, r#"{"type":"system","subtype":"progress"}"#);
                    append(&path, &claude_line(&format!("other_{i}"), "tool_use"));
                    i += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let bound = Duration::from_millis(300);
        let started = Instant::now();
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("A reply that never comes."),
            Wait {
                bound,
                poll: Duration::from_millis(5),
            },
        )
        .unwrap();
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(settled.outcome, Outcome::OutOfTime);
        assert!(took >= bound, "gave up early: {took:?}");
        // Generous: only a hang, not a slow machine, exceeds it.
        assert!(took < bound + Duration::from_secs(5), "waited {took:?}");
        assert!(
            settled.reading.tokens >= RESPONSE,
            "what arrived is counted"
        );
        let rest = usage::read(&t.path, Agent::Claude, &settled.reading.cursor).unwrap();
        let all = usage::read(&t.path, Agent::Claude, &cursor).unwrap();
        assert_eq!(
            settled.reading.tokens + rest.tokens,
            all.tokens,
            "this stop and the next count every response once"
        );
    }

    /// The captured sessions (`tests/fixtures/hosts/`): each ends with the reply
    /// "Looked. Nothing else to do." and its usage.
    const FIXTURES: [(&str, Agent); 2] = [
        (
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/hosts/claude-2.1.328/transcript-usage.jsonl"
            ),
            Agent::Claude,
        ),
        (
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/hosts/codex-0.169.0/rollout-usage.jsonl"
            ),
            Agent::Codex,
        ),
    ];

    #[test]
    fn the_real_transcripts_have_the_reply_the_payload_names_and_not_before_its_usage() {
        const REPLY: &str = "Looked. Nothing else to do.";
        for (fixture, agent) in FIXTURES {
            let text = std::fs::read_to_string(fixture).unwrap();
            let settled = read_settled(
                Path::new(fixture),
                agent,
                &Cursor::default(),
                Some(REPLY),
                wait(0),
            )
            .unwrap();
            assert_eq!(settled.outcome, Outcome::Found, "{agent}");
            // Cut before the line that carries the reply's usage (Claude: the reply's own
            // line; Codex: the `token_count` after it): not there yet.
            let usage_mark = match agent {
                Agent::Claude => REPLY,
                Agent::Codex => "\"token_count\"",
            };
            let lines: Vec<&str> = text.lines().collect();
            let cut = lines.iter().rposition(|l| l.contains(usage_mark)).unwrap();
            let t = Transcript::new(
                &lines[..cut]
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            );
            let settled =
                read_settled(&t.path, agent, &Cursor::default(), Some(REPLY), wait(0)).unwrap();
            assert_eq!(settled.outcome, Outcome::OutOfTime, "{agent}");
        }
    }

    #[test]
    fn a_reply_already_there_costs_no_wait() {
        let (t, cursor) = claude_turn_without_reply();
        t.line(&claude_line("msg_2", "Turn done."));
        let started = Instant::now();
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("  Turn done.\n"),
            wait(60_000),
        )
        .unwrap();
        assert_eq!(settled.outcome, Outcome::Found);
        assert_eq!(settled.reading.tokens, 2 * RESPONSE);
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn no_named_reply_reads_once() {
        let (t, cursor) = claude_turn_without_reply();
        for reply in [None, Some(""), Some(" \n ")] {
            let settled =
                read_settled(&t.path, Agent::Claude, &cursor, reply, wait(60_000)).unwrap();
            assert_eq!(settled.outcome, Outcome::NothingNamed, "{reply:?}");
            assert_eq!(settled.reading.tokens, RESPONSE);
        }
    }

    #[test]
    fn only_the_newest_reply_counts_as_the_one_named() {
        // The previous turn's identical answer arrived late, after the previous stop:
        // it is in what this stop reads, but this turn's own reply is not there yet.
        let t = Transcript::new(&[claude_line("msg_0", "Tool call first.")]);
        let cursor = usage::read(&t.path, Agent::Claude, &Cursor::default())
            .unwrap()
            .cursor;
        t.line(&claude_line("msg_1", "Still working."));
        t.line(&claude_line("msg_2", "Editing."));
        t.line(&claude_line("msg_2", "tool_use"));
        let writer = later(
            &t.path,
            Duration::from_millis(150),
            vec![claude_line("msg_3", "Still working.")],
        );
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("Still working."),
            wait(20_000),
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(settled.outcome, Outcome::Found);
        assert_eq!(settled.reading.tokens, 3 * RESPONSE);
    }

    #[test]
    fn a_reply_of_several_blocks_is_there_when_its_last_block_is() {
        let (t, cursor) = claude_turn_without_reply();
        t.line(&claude_line("msg_2", "First part."));
        let writer = later(
            &t.path,
            Duration::from_millis(150),
            vec![claude_line("msg_2", "Second part.")],
        );
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("First part.\n\nSecond part."),
            wait(20_000),
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(settled.outcome, Outcome::Found);
        assert_eq!(settled.reading.tokens, 2 * RESPONSE, "one id counts once");
        assert_eq!(
            usage::read(&t.path, Agent::Claude, &settled.reading.cursor)
                .unwrap()
                .tokens,
            0
        );
    }

    #[test]
    fn codex_waits_for_the_token_count_after_the_reply() {
        let t = Transcript::new(&[codex_total(RESPONSE)]);
        let cursor = usage::read(&t.path, Agent::Codex, &Cursor::default())
            .unwrap()
            .cursor;
        t.line(&codex_total(2 * RESPONSE));
        t.line(&codex_reply("Turn done."));
        let writer = later(
            &t.path,
            Duration::from_millis(150),
            vec![codex_total(3 * RESPONSE)],
        );
        let settled = read_settled(
            &t.path,
            Agent::Codex,
            &cursor,
            Some("Turn done."),
            wait(20_000),
        )
        .unwrap();
        writer.join().unwrap();
        assert_eq!(settled.outcome, Outcome::Found);
        assert_eq!(settled.reading.tokens, 2 * RESPONSE);
        let next = usage::read(&t.path, Agent::Codex, &settled.reading.cursor).unwrap();
        assert_eq!(next.tokens, 0);
    }

    #[test]
    fn codex_counts_a_late_total_once_at_the_next_stop() {
        let t = Transcript::new(&[codex_total(RESPONSE)]);
        let cursor = usage::read(&t.path, Agent::Codex, &Cursor::default())
            .unwrap()
            .cursor;
        t.line(&codex_reply("Turn done."));
        let settled =
            read_settled(&t.path, Agent::Codex, &cursor, Some("Turn done."), wait(50)).unwrap();
        assert_eq!(settled.outcome, Outcome::OutOfTime);
        assert_eq!(settled.reading.tokens, 0);
        t.line(&codex_total(2 * RESPONSE));
        let next = usage::read(&t.path, Agent::Codex, &settled.reading.cursor).unwrap();
        assert_eq!(next.tokens, RESPONSE);
    }

    /// Runs `f` on another thread and fails (instead of hanging the suite) when it has not
    /// returned after 20 s.
    fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(f());
        });
        receive
            .recv_timeout(Duration::from_secs(20))
            .expect("the read hung")
    }

    #[cfg(unix)]
    fn mkfifo(path: &Path) {
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_symlink_transcript_is_refused_at_once() {
        let (t, cursor) = claude_turn_without_reply();
        let fifo = t.path.with_extension("fifo");
        mkfifo(&fifo);
        let link = t.path.with_extension("link");
        std::os::unix::fs::symlink(&t.path, &link).unwrap();
        for path in [fifo, link] {
            let cursor = cursor.clone();
            let result = within_20s(move || {
                read_settled(&path, Agent::Claude, &cursor, Some("never"), wait(60_000))
            });
            assert!(result.is_err(), "{result:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_transcript_swapped_for_a_fifo_while_waiting_ends_the_wait() {
        let (t, cursor) = claude_turn_without_reply();
        let path = t.path.clone();
        let swapper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let aside = path.with_extension("aside");
            std::fs::rename(&path, &aside).unwrap();
            mkfifo(&path);
        });
        let path = t.path.clone();
        let started = Instant::now();
        let settled = within_20s(move || {
            read_settled(&path, Agent::Claude, &cursor, Some("never"), wait(60_000))
        })
        .unwrap();
        swapper.join().unwrap();
        assert_eq!(settled.outcome, Outcome::CutShort);
        assert_eq!(settled.reading.tokens, RESPONSE, "what was read stands");
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn more_than_a_stop_reads_ends_the_wait() {
        let (t, cursor) = claude_turn_without_reply();
        // One line longer than everything a stop reads, then the reply.
        let filler = format!(
            r#"{{"type":"user","message":{{"content":"{}"}}}}"#,
            "x".repeat(usize::try_from(usage::READ_CAP).unwrap())
        );
        t.line(&filler);
        t.line(&claude_line("msg_2", "Turn done."));
        let path = t.path.clone();
        let cursor2 = cursor.clone();
        let settled = within_20s(move || {
            read_settled(
                &path,
                Agent::Claude,
                &cursor2,
                Some("Turn done."),
                wait(60_000),
            )
        })
        .unwrap();
        assert_eq!(settled.outcome, Outcome::CutShort);
        assert!(settled.reading.behind);
        // The next stops go on reading, and count the reply once.
        let mut total = settled.reading.tokens;
        let mut cursor = settled.reading.cursor;
        for _ in 0..4 {
            let reading = usage::read(&t.path, Agent::Claude, &cursor).unwrap();
            total += reading.tokens;
            cursor = reading.cursor;
        }
        assert_eq!(total, 2 * RESPONSE);
    }

    #[test]
    fn a_transcript_replaced_while_waiting_starts_over_without_counting_twice() {
        let (t, cursor) = claude_turn_without_reply();
        let path = t.path.clone();
        let replacer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let new = path.with_extension("new");
            std::fs::write(&new, format!("{}\n", claude_line("msg_9", "Turn done."))).unwrap();
            std::fs::rename(&new, &path).unwrap();
        });
        let settled = read_settled(
            &t.path,
            Agent::Claude,
            &cursor,
            Some("Turn done."),
            wait(20_000),
        )
        .unwrap();
        replacer.join().unwrap();
        assert_eq!(settled.outcome, Outcome::CutShort);
        assert_eq!(settled.reading.restarted, Some(usage::Restart::Replaced));
        assert_eq!(settled.reading.tokens, RESPONSE);
    }

    #[test]
    fn the_settings_parse_clamp_and_fall_back() {
        assert_eq!(Wait::parse(None, None), (Wait::default(), vec![]));
        assert_eq!(Wait::parse(Some(" "), Some("")), (Wait::default(), vec![]));
        let (wait, problems) = Wait::parse(Some("500ms"), Some("2ms"));
        assert_eq!(
            (wait.bound, wait.poll, problems.len()),
            (Duration::from_millis(500), Duration::from_millis(2), 0)
        );
        let (wait, problems) = Wait::parse(Some("0"), None);
        assert_eq!((wait.bound, problems.len()), (Duration::ZERO, 0));
        let (wait, problems) = Wait::parse(Some("10m"), Some("0s"));
        assert_eq!((wait.bound, wait.poll), (MAX_WAIT, MIN_POLL));
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains(WAIT_ENV) && problems[0].contains("out of range"));
        let (wait, problems) = Wait::parse(Some("soon"), Some("-1"));
        assert_eq!(wait, Wait::default());
        assert!(
            problems[0].contains("\"soon\" is not a duration"),
            "{problems:?}"
        );
        assert!(problems[1].contains(POLL_ENV), "{problems:?}");
    }

    #[test]
    fn a_zero_bound_reads_once() {
        let (t, cursor) = claude_turn_without_reply();
        let settled =
            read_settled(&t.path, Agent::Claude, &cursor, Some("Turn done."), wait(0)).unwrap();
        assert_eq!(settled.outcome, Outcome::OutOfTime);
        assert_eq!(settled.reading.tokens, RESPONSE);
    }
}
