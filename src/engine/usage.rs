//! How many tokens a session has used, read from the host's transcript at
//! `transcript_path` a piece at a time: each stop reads only what was appended since the
//! previous one (at most [`READ_CAP`] bytes), so its cost does not grow with the
//! transcript.
//!
//! Which tokens count is the same on both hosts: every token the model read or wrote for
//! the session, cached or not (measured on Codex 0.169.0 and Claude Code 2.1.328; the
//! captured transcripts are in `tests/fixtures/hosts/`):
//! - Codex writes an `event_msg` line whose payload is `token_count` after every model
//!   response. Its `info.total_token_usage` is cumulative for the session, and its
//!   `total_tokens` is `input_tokens` (cache reads and cache writes included) plus
//!   `output_tokens` (reasoning included): that is the count. Tokens used since the
//!   cursor are the newest total minus the total at the cursor. `info` is null before
//!   the first response.
//! - Claude Code writes one `type:"assistant"` line per content block of a response, each
//!   with the same `message.id` and the response's `message.usage`. A response counts
//!   `input_tokens + cache_creation_input_tokens + cache_read_input_tokens +
//!   output_tokens` (thinking is part of the output), once per `message.id`; should a
//!   later line of an id report more, the difference is added.
//!
//! The same pass keeps the tokens by kind (fresh input, cache reads, cache writes,
//! output, reasoning) and the model that answered, for `--max-cost`: Codex names the
//! model in each turn's `turn_context` line (`payload.model`) and reports
//! `cached_input_tokens`, `cache_write_input_tokens` (both inside `input_tokens`) and
//! `reasoning_output_tokens` (inside `output_tokens`); Claude Code names it in
//! `message.model` and reports the kinds apart. See [`Spent`].
//!
//! The cursor remembers enough to notice a transcript that was replaced, truncated or
//! rewritten: then counting starts over at its end (nothing in it is counted twice), and
//! the reading says so.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use memchr::memmem;
use serde::{Deserialize, Serialize};

use crate::agent::Agent;
use crate::engine::digest;
use crate::regular_file::{self, Links};

/// The most bytes one stop reads from a transcript. More appended since the previous stop
/// is read by the next stops (Claude Code), or skipped because the newest cumulative total
/// covers it (Codex).
pub const READ_CAP: u64 = 8 * 1024 * 1024;

/// How many bytes from the end a new cursor reads to learn where the session stands
/// (Codex's newest total, Claude's newest ids): once per loop, so a little more than a
/// turn's worth; a Codex total further back is stood in for by the next response's own
/// usage.
const ANCHOR_WINDOW: u64 = 1024 * 1024;

/// How many Claude message ids the cursor keeps. The lines of one response are written
/// together, so a few ids cover a response whose lines are split between two reads.
const RECENT_IDS: usize = 16;

/// Longer message ids are kept as a digest, so a hostile id cannot bloat the state file.
const MAX_ID_LEN: usize = 128;

/// How many bytes before the cursor its mark covers.
const MARK_BYTES: u64 = 64;

/// A file's identity on its file system: a transcript replaced by another file at the
/// same path has another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// The device.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
}

/// Longer model names are not believed: no provider names a model so.
const MAX_MODEL_LEN: usize = 128;

/// Tokens by kind, as both hosts report them apart; what a price multiplies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Fresh input: neither read from nor written to a prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub input: u64,
    /// Input read from the prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_read: u64,
    /// Input written to the prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write: u64,
    /// Output, reasoning included.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub output: u64,
    /// The part of `output` that was reasoning, where the host reports it (Codex).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Tokens {
    /// Every token of every kind (reasoning is inside output): the raw count.
    pub fn total(&self) -> u64 {
        [self.input, self.cache_read, self.cache_write, self.output]
            .into_iter()
            .fold(0u64, u64::saturating_add)
    }

    /// Each kind's growth from `before` to `self` (a kind that went down grew by 0).
    fn since(&self, before: &Tokens) -> Tokens {
        Tokens {
            input: self.input.saturating_sub(before.input),
            cache_read: self.cache_read.saturating_sub(before.cache_read),
            cache_write: self.cache_write.saturating_sub(before.cache_write),
            output: self.output.saturating_sub(before.output),
            reasoning: self.reasoning.saturating_sub(before.reasoning),
        }
    }

    /// The larger of each kind.
    fn max(&self, other: &Tokens) -> Tokens {
        Tokens {
            input: self.input.max(other.input),
            cache_read: self.cache_read.max(other.cache_read),
            cache_write: self.cache_write.max(other.cache_write),
            output: self.output.max(other.output),
            reasoning: self.reasoning.max(other.reasoning),
        }
    }

    fn add(&mut self, other: &Tokens) {
        self.input = self.input.saturating_add(other.input);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.output = self.output.saturating_add(other.output);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }
}

/// Tokens one model used in what a read covered (`model: None` when the transcript did
/// not say which model answered). What `engine::prices` turns into money.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spent {
    /// The model, as the host wrote it.
    pub model: Option<String>,
    /// Its tokens by kind.
    pub tokens: Tokens,
}

/// Adds `tokens` of `model` to `spent`, one entry per model.
pub fn add_spent(spent: &mut Vec<Spent>, model: Option<&str>, tokens: &Tokens) {
    if tokens.total() == 0 && tokens.reasoning == 0 {
        return;
    }
    match spent.iter_mut().find(|part| part.model.as_deref() == model) {
        Some(part) => part.tokens.add(tokens),
        None => spent.push(Spent {
            model: model.map(str::to_string),
            tokens: *tokens,
        }),
    }
}

/// Merges `more` into `spent`.
pub fn merge_spent(spent: &mut Vec<Spent>, more: &[Spent]) {
    for part in more {
        add_spent(spent, part.model.as_deref(), &part.tokens);
    }
}

/// Tokens already counted for one Claude message id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The message id (a digest when the id is longer than 128 bytes).
    pub id: String,
    /// The tokens counted for it so far.
    pub tokens: u64,
    /// The same by kind.
    #[serde(default)]
    pub kinds: Tokens,
}

/// Where the previous read of a transcript stopped, and what it needs to go on from there
/// without counting anything twice. Kept in the loop's state between stops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The file read so far. `None`: no transcript existed when counting started, so all
    /// of the first file found counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileId>,
    /// Bytes of the file already read; the start of a line unless `skipping`.
    #[serde(default)]
    pub offset: u64,
    /// The file's size at the previous read: a smaller file now was truncated.
    #[serde(default)]
    pub size: u64,
    /// A digest of the bytes just before `offset`: different bytes there now mean the
    /// file was rewritten in place.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mark: String,
    /// Codex: the cumulative `total_tokens` at the cursor, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex_total: Option<u64>,
    /// Codex: the cumulative tokens by kind at the cursor, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex_kinds: Option<Tokens>,
    /// The model that answered last, as the transcript named it (Codex's `turn_context`,
    /// Claude Code's `message.model`): a response whose own line names none is its.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Claude Code: the newest message ids counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<Counted>,
    /// True while the cursor is inside a line longer than [`READ_CAP`], which is skipped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipping: bool,
}

/// Why counting started over at the end of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Another file is at the transcript's path now.
    Replaced,
    /// The file is shorter than at the previous read.
    Truncated,
    /// The bytes before the cursor changed.
    Rewritten,
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Restart::Replaced => "the transcript was replaced by another file",
            Restart::Truncated => "the transcript was truncated",
            Restart::Rewritten => "the transcript was rewritten",
        })
    }
}

/// What one read of a transcript found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// Tokens used in what was read (see the module docs for which count).
    pub tokens: u64,
    /// The same tokens by model and kind, for pricing.
    pub spent: Vec<Spent>,
    /// Where the next read goes on.
    pub cursor: Cursor,
    /// Set when the file was not the one the cursor knew and counting started over at
    /// its end.
    pub restarted: Option<Restart>,
    /// True when more was appended than one read takes; the next read goes on.
    pub behind: bool,
}

/// The cursor for counting that starts now: at the end of the transcript, with what the
/// end of the file tells about the session so far (Codex's cumulative total, Claude's
/// newest message ids) so that nothing written before now is counted. A transcript that
/// does not exist yet gives the cursor that counts all of the file once it appears.
pub fn start(path: &Path, agent: Agent) -> io::Result<Cursor> {
    start_capped(path, agent, ANCHOR_WINDOW)
}

/// Reads what was appended to the transcript at `path` since `cursor`: the tokens used
/// there and the cursor to keep. Errors are the file's: missing, not a regular file (a
/// symbolic link is not followed), unreadable.
#[cfg(any(test, feature = "testing"))]
pub fn read(path: &Path, agent: Agent, cursor: &Cursor) -> io::Result<Reading> {
    read_capped(path, agent, cursor, READ_CAP)
}

/// What the reads of one stop have seen of the turn's last reply, the text the Stop
/// payload names in `last_assistant_message`: has the host written it, with its usage, to
/// the transcript yet? (Claude Code 2.1.330 may write it only after the Stop hook
/// started; see `engine::flush`.) Only what was appended since the cursor is looked at,
/// and only the newest reply there counts, so an earlier turn's identical answer is not
/// taken for this one.
#[derive(Debug, Clone)]
pub struct Watch<'a> {
    reply: Option<&'a str>,
    seen: Seen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The newest reply read (if any) is not the one looked for.
    Not,
    /// Codex: the reply's message is there; the `token_count` after it is not yet.
    Written,
    /// The reply is there, and so is its usage.
    Counted,
}

impl<'a> Watch<'a> {
    /// Looks for `reply` (surrounding whitespace does not matter).
    pub fn new(reply: &'a str) -> Self {
        let reply = reply.trim();
        Watch {
            reply: (!reply.is_empty()).then_some(reply),
            seen: Seen::Not,
        }
    }

    /// Looks for nothing.
    fn off() -> Watch<'static> {
        Watch {
            reply: None,
            seen: Seen::Not,
        }
    }

    /// True when there is a reply to look for.
    pub fn looking(&self) -> bool {
        self.reply.is_some()
    }

    /// True when the reads so far end with the reply and its usage.
    pub fn found(&self) -> bool {
        self.seen == Seen::Counted
    }

    /// A reply's text was read (`None`: a reply line with no text, such as a tool call);
    /// `with_usage` when its usage is on the same line (Claude Code).
    fn saw_reply(&mut self, text: Option<&str>, with_usage: bool) {
        let Some(reply) = self.reply else {
            return;
        };
        // A message of several text blocks reaches the payload whole and the transcript
        // a block per line: the last block ends the message.
        let matches = text.is_some_and(|text| {
            let text = text.trim();
            !text.is_empty() && reply.ends_with(text)
        });
        self.seen = match (matches, with_usage) {
            (false, _) => Seen::Not,
            (true, true) => Seen::Counted,
            (true, false) => Seen::Written,
        };
    }

    /// A usage record after the reply (Codex's `token_count`).
    fn saw_usage(&mut self) {
        if self.seen == Seen::Written {
            self.seen = Seen::Counted;
        }
    }
}

fn start_capped(path: &Path, agent: Agent, cap: u64) -> io::Result<Cursor> {
    match regular_file::open(path, Links::Refuse) {
        Ok((mut file, metadata)) => {
            anchor(&mut file, file_id(&metadata), metadata.len(), agent, cap)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Cursor::default()),
        Err(err) => Err(err),
    }
}

#[cfg(any(test, feature = "testing"))]
fn read_capped(path: &Path, agent: Agent, cursor: &Cursor, cap: u64) -> io::Result<Reading> {
    read_watching(path, agent, cursor, cap, &mut Watch::off())
}

/// Reads what was appended to the transcript since `cursor`, at most `cap` bytes, and
/// tells `watch` what it saw of the turn's last reply.
pub(crate) fn read_watching(
    path: &Path,
    agent: Agent,
    cursor: &Cursor,
    cap: u64,
    watch: &mut Watch<'_>,
) -> io::Result<Reading> {
    let (mut file, metadata) = match regular_file::open(path, Links::Refuse) {
        Ok(opened) => opened,
        Err(err) if err.kind() == io::ErrorKind::NotFound && cursor.file.is_none() => {
            return Ok(Reading {
                tokens: 0,
                spent: Vec::new(),
                cursor: cursor.clone(),
                restarted: None,
                behind: false,
            });
        }
        Err(err) => return Err(err),
    };
    let id = file_id(&metadata);
    let len = metadata.len();
    let Some(known) = cursor.file else {
        let fresh = Cursor {
            file: Some(id),
            // A new session file: its first total is all it used.
            codex_total: Some(0),
            codex_kinds: Some(Tokens::default()),
            ..Cursor::default()
        };
        return advance(&mut file, len, agent, fresh, cap, watch);
    };
    let restart = if known != id {
        Some(Restart::Replaced)
    } else if len < cursor.size || len < cursor.offset {
        Some(Restart::Truncated)
    } else if mark_at(&mut file, cursor.offset)? != cursor.mark {
        Some(Restart::Rewritten)
    } else {
        None
    };
    let Some(restart) = restart else {
        return advance(&mut file, len, agent, cursor.clone(), cap, watch);
    };
    let anchored = anchor(&mut file, id, len, agent, cap.min(ANCHOR_WINDOW))?;
    // Codex's totals are the session's, whatever file they are in: a newer total in the
    // new file still says what was used since.
    let tokens = match (agent, cursor.codex_total, anchored.codex_total) {
        (Agent::Codex, Some(before), Some(now)) => now.saturating_sub(before),
        (Agent::Codex | Agent::Claude, _, _) => 0,
    };
    let mut spent = Vec::new();
    if let (Agent::Codex, Some(before), Some(now)) =
        (agent, cursor.codex_kinds, anchored.codex_kinds)
    {
        add_spent(&mut spent, anchored.model.as_deref(), &now.since(&before));
    }
    Ok(Reading {
        tokens,
        spent,
        cursor: anchored,
        restarted: Some(restart),
        behind: false,
    })
}

/// Reads on from `cursor` (at most `cap` bytes) and counts.
fn advance(
    file: &mut File,
    len: u64,
    agent: Agent,
    mut cursor: Cursor,
    cap: u64,
    watch: &mut Watch<'_>,
) -> io::Result<Reading> {
    let start = cursor.offset;
    if len <= start {
        cursor.size = len;
        return Ok(Reading {
            tokens: 0,
            spent: Vec::new(),
            cursor,
            restarted: None,
            behind: false,
        });
    }
    // Codex's totals are cumulative, so when more was appended than one read takes, the
    // newest part is enough: its last total covers everything before it.
    let jumped = match agent {
        Agent::Codex => len - start > cap,
        Agent::Claude => false,
    };
    let from = if jumped { len - cap } else { start };
    let to = len.min(from + cap);
    let buf = read_range(file, from, to)?;
    let mut pos = 0;
    if jumped || cursor.skipping {
        // `from` is inside a line: go on after its end.
        match memchr::memchr(b'\n', &buf) {
            Some(newline) => {
                pos = newline + 1;
                cursor.skipping = false;
            }
            None => {
                cursor.offset = from + buf.len() as u64;
                cursor.skipping = true;
                return finish(file, len, cursor, (0, Vec::new()), to < len);
            }
        }
    }
    let end = memchr::memrchr(b'\n', &buf[pos..]).map_or(pos, |at| pos + at + 1);
    let mut counted = (0u64, Vec::new());
    if end == pos {
        if pos == 0 && buf.len() as u64 == cap {
            // One line longer than a whole read: no usage line is that long; skip it.
            cursor.offset = from + buf.len() as u64;
            cursor.skipping = true;
        } else {
            // Only the start of a line that is still being written: read it next time.
            cursor.offset = from + pos as u64;
        }
    } else {
        counted = count(&buf[pos..end], agent, &mut cursor, watch);
        cursor.offset = from + end as u64;
    }
    let behind = to < len;
    finish(file, len, cursor, counted, behind)
}

fn finish(
    file: &mut File,
    len: u64,
    mut cursor: Cursor,
    (tokens, spent): (u64, Vec<Spent>),
    behind: bool,
) -> io::Result<Reading> {
    cursor.size = len;
    cursor.mark = mark_at(file, cursor.offset)?;
    Ok(Reading {
        tokens,
        spent,
        cursor,
        restarted: None,
        behind,
    })
}

/// The cursor at the end of the file, knowing what its last `cap` bytes tell.
fn anchor(file: &mut File, id: FileId, len: u64, agent: Agent, cap: u64) -> io::Result<Cursor> {
    let from = len.saturating_sub(cap);
    let buf = read_range(file, from, len)?;
    let mut cursor = Cursor {
        file: Some(id),
        ..Cursor::default()
    };
    let pos = if from > 0 {
        match memchr::memchr(b'\n', &buf) {
            Some(newline) => newline + 1,
            None => {
                // The whole window is inside one over-long line.
                cursor.offset = len;
                cursor.skipping = true;
                cursor.size = len;
                cursor.mark = mark_at(file, len)?;
                return Ok(cursor);
            }
        }
    } else {
        0
    };
    let end = memchr::memrchr(b'\n', &buf[pos..]).map_or(pos, |at| pos + at + 1);
    // Seed what the counting needs (Codex's total, Claude's ids); the count is discarded.
    count(&buf[pos..end], agent, &mut cursor, &mut Watch::off());
    if from == 0 && cursor.codex_total.is_none() {
        // The whole file was seen and no response has been counted yet: nothing used.
        (cursor.codex_total, cursor.codex_kinds) = match agent {
            Agent::Codex => (Some(0), Some(Tokens::default())),
            Agent::Claude => (None, None),
        };
    }
    cursor.offset = from + end as u64;
    cursor.size = len;
    cursor.mark = mark_at(file, cursor.offset)?;
    Ok(cursor)
}

/// Counts the complete lines in `lines`, updating what the cursor remembers and what
/// `watch` saw of the turn's last reply.
fn count(
    lines: &[u8],
    agent: Agent,
    cursor: &mut Cursor,
    watch: &mut Watch<'_>,
) -> (u64, Vec<Spent>) {
    let mut tokens = 0u64;
    let mut spent = Vec::new();
    let watching = watch.looking();
    match agent {
        Agent::Codex => {
            let finder = memmem::Finder::new(b"\"token_count\"");
            let reply = memmem::Finder::new(b"\"assistant\"");
            let context = memmem::Finder::new(b"\"turn_context\"");
            for line in lines.split(|b| *b == b'\n') {
                if watching
                    && reply.find(line).is_some()
                    && let Some(text) = codex_reply(line)
                {
                    watch.saw_reply(text.as_deref(), false);
                }
                if context.find(line).is_some()
                    && let Some(model) = codex_turn_model(line)
                {
                    cursor.model = Some(model);
                    continue;
                }
                if finder.find(line).is_none() {
                    continue;
                }
                if let Some(count) = codex_token_count(line) {
                    let (used, kinds) = cursor.codex_step(&count);
                    tokens = tokens.saturating_add(used);
                    add_spent(&mut spent, cursor.model.as_deref(), &kinds);
                    watch.saw_usage();
                }
            }
        }
        Agent::Claude => {
            let finder = memmem::Finder::new(b"\"usage\"");
            for line in lines.split(|b| *b == b'\n') {
                if finder.find(line).is_none() {
                    continue;
                }
                if let Some(usage) = claude_usage(line) {
                    if let Some(model) = usage.model.clone() {
                        cursor.model = Some(model);
                    }
                    let (used, kinds) = cursor.claude_step(usage.id, usage.total, usage.kinds);
                    tokens = tokens.saturating_add(used);
                    add_spent(&mut spent, cursor.model.as_deref(), &kinds);
                    if watching {
                        watch.saw_reply(claude_reply_text(line).as_deref(), true);
                    }
                }
            }
        }
    }
    (tokens, spent)
}

impl Cursor {
    /// Tokens used up to a Codex `token_count` with cumulative `total` (and `last`, the
    /// response's own usage), since the previous one.
    fn codex_step(&mut self, count: &CodexCount) -> (u64, Tokens) {
        let (used, kinds) = match (self.codex_total, self.codex_kinds) {
            (Some(before), Some(kinds)) if count.total >= before => {
                (count.total - before, count.kinds.since(&kinds))
            }
            (Some(before), None) if count.total >= before => {
                (count.total - before, count.last_kinds.unwrap_or_default())
            }
            // No total known before (the start of the transcript was out of reach), or a
            // total that went down: the response's own usage is all we know.
            (Some(_) | None, _) => (
                count.last.unwrap_or(0),
                count.last_kinds.unwrap_or_default(),
            ),
        };
        self.codex_total = Some(count.total);
        self.codex_kinds = Some(count.kinds);
        (used, kinds)
    }

    /// Tokens of a Claude message `id` reporting `used`, not counted before.
    fn claude_step(&mut self, id: Option<String>, used: u64, kinds: Tokens) -> (u64, Tokens) {
        let Some(id) = id else {
            return (used, kinds);
        };
        let id = if id.len() > MAX_ID_LEN {
            digest::hex(id.as_bytes())
        } else {
            id
        };
        let new = match self.recent.iter().position(|counted| counted.id == id) {
            Some(at) => {
                let mut counted = self.recent.remove(at);
                let new = (
                    used.saturating_sub(counted.tokens),
                    kinds.since(&counted.kinds),
                );
                counted.tokens = counted.tokens.max(used);
                counted.kinds = counted.kinds.max(&kinds);
                self.recent.push(counted);
                new
            }
            None => {
                self.recent.push(Counted {
                    id,
                    tokens: used,
                    kinds,
                });
                (used, kinds)
            }
        };
        if self.recent.len() > RECENT_IDS {
            self.recent.remove(0);
        }
        new
    }
}

#[derive(Deserialize)]
struct CodexLine {
    #[serde(rename = "type")]
    kind: Option<String>,
    payload: Option<CodexPayload>,
}

#[derive(Deserialize)]
struct CodexPayload {
    #[serde(rename = "type")]
    kind: Option<String>,
    info: Option<CodexInfo>,
}

#[derive(Deserialize)]
struct CodexInfo {
    total_token_usage: Option<CodexUsage>,
    last_token_usage: Option<CodexUsage>,
}

#[derive(Deserialize)]
struct CodexUsage {
    input_tokens: Option<u64>,
    cached_input_tokens: Option<u64>,
    cache_write_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    reasoning_output_tokens: Option<u64>,
    total_tokens: Option<u64>,
}

/// A Codex `token_count` event, read.
struct CodexCount {
    /// The session's cumulative total.
    total: u64,
    /// The same by kind.
    kinds: Tokens,
    /// This response's total.
    last: Option<u64>,
    /// The same by kind.
    last_kinds: Option<Tokens>,
}

impl CodexUsage {
    /// By kind: Codex counts cache reads and writes inside `input_tokens`, reasoning
    /// inside `output_tokens`.
    fn kinds(&self) -> Tokens {
        let input = self.input_tokens.unwrap_or(0);
        let cache_read = self.cached_input_tokens.unwrap_or(0).min(input);
        let cache_write = self
            .cache_write_input_tokens
            .unwrap_or(0)
            .min(input - cache_read);
        let output = self.output_tokens.unwrap_or(0);
        Tokens {
            input: input - cache_read - cache_write,
            cache_read,
            cache_write,
            output,
            reasoning: self.reasoning_output_tokens.unwrap_or(0).min(output),
        }
    }

    fn total(&self) -> u64 {
        self.total_tokens.unwrap_or_else(|| {
            self.input_tokens
                .unwrap_or(0)
                .saturating_add(self.output_tokens.unwrap_or(0))
        })
    }
}

/// A Codex `token_count` event.
fn codex_token_count(line: &[u8]) -> Option<CodexCount> {
    let line: CodexLine = serde_json::from_slice(line.trim_ascii()).ok()?;
    if line.kind.as_deref() != Some("event_msg") {
        return None;
    }
    let payload = line.payload?;
    if payload.kind.as_deref() != Some("token_count") {
        return None;
    }
    let info = payload.info?;
    let total = info.total_token_usage?;
    Some(CodexCount {
        total: total.total(),
        kinds: total.kinds(),
        last: info.last_token_usage.as_ref().map(CodexUsage::total),
        last_kinds: info.last_token_usage.as_ref().map(CodexUsage::kinds),
    })
}

/// The model a Codex `turn_context` line names for the turn.
fn codex_turn_model(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: Option<String>,
        payload: Option<Payload>,
    }
    #[derive(Deserialize)]
    struct Payload {
        model: Option<String>,
    }
    let line: Line = serde_json::from_slice(line.trim_ascii()).ok()?;
    if line.kind.as_deref() != Some("turn_context") {
        return None;
    }
    believable_model(line.payload?.model?)
}

/// A model name as a transcript gave it, when it looks like one (not empty, not huge,
/// no control characters).
fn believable_model(model: String) -> Option<String> {
    let fine =
        !model.is_empty() && model.len() <= MAX_MODEL_LEN && !model.chars().any(char::is_control);
    fine.then_some(model)
}

/// A Codex assistant message (`response_item` of type `message`): its last text, `None`
/// when it has none. Not such a message: `None` outside.
fn codex_reply(line: &[u8]) -> Option<Option<String>> {
    #[derive(Deserialize)]
    struct Line {
        #[serde(rename = "type")]
        kind: Option<String>,
        payload: Option<Payload>,
    }
    #[derive(Deserialize)]
    struct Payload {
        #[serde(rename = "type")]
        kind: Option<String>,
        role: Option<String>,
        #[serde(default)]
        content: Vec<Part>,
    }
    #[derive(Deserialize)]
    struct Part {
        #[serde(rename = "type")]
        kind: Option<String>,
        text: Option<String>,
    }
    let line: Line = serde_json::from_slice(line.trim_ascii()).ok()?;
    let payload = line.payload?;
    if line.kind.as_deref() != Some("response_item")
        || payload.kind.as_deref() != Some("message")
        || payload.role.as_deref() != Some("assistant")
    {
        return None;
    }
    Some(
        payload
            .content
            .into_iter()
            .rev()
            .filter(|part| part.kind.as_deref() == Some("output_text"))
            .find_map(|part| part.text.filter(|text| !text.trim().is_empty())),
    )
}

/// The last text block of a Claude assistant line (one already known to carry usage), or
/// `None` when it has none (a tool call, thinking).
fn claude_reply_text(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Line {
        message: Message,
    }
    #[derive(Deserialize)]
    struct Message {
        content: Vec<Block>,
    }
    #[derive(Deserialize)]
    struct Block {
        #[serde(rename = "type")]
        kind: Option<String>,
        text: Option<String>,
    }
    let line: Line = serde_json::from_slice(line.trim_ascii()).ok()?;
    line.message
        .content
        .into_iter()
        .rev()
        .filter(|block| block.kind.as_deref() == Some("text"))
        .find_map(|block| block.text.filter(|text| !text.trim().is_empty()))
}

#[derive(Deserialize)]
struct ClaudeLine {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<ClaudeMessage>,
}

#[derive(Deserialize)]
struct ClaudeMessage {
    id: Option<String>,
    model: Option<String>,
    usage: Option<ClaudeUsage>,
}

/// A Claude assistant line's usage.
struct ClaudeUsed {
    /// The message id.
    id: Option<String>,
    /// The model, when the line names a believable one.
    model: Option<String>,
    /// Its tokens.
    total: u64,
    /// The same by kind.
    kinds: Tokens,
}

#[derive(Deserialize)]
struct ClaudeUsage {
    input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

/// A Claude assistant line's usage.
fn claude_usage(line: &[u8]) -> Option<ClaudeUsed> {
    let line: ClaudeLine = serde_json::from_slice(line.trim_ascii()).ok()?;
    if line.kind.as_deref() != Some("assistant") {
        return None;
    }
    let message = line.message?;
    let usage = message.usage?;
    let used = [
        usage.input_tokens,
        usage.cache_creation_input_tokens,
        usage.cache_read_input_tokens,
        usage.output_tokens,
    ]
    .into_iter()
    .flatten()
    .fold(0u64, u64::saturating_add);
    let kinds = Tokens {
        input: usage.input_tokens.unwrap_or(0),
        cache_read: usage.cache_read_input_tokens.unwrap_or(0),
        cache_write: usage.cache_creation_input_tokens.unwrap_or(0),
        output: usage.output_tokens.unwrap_or(0),
        reasoning: 0,
    };
    Some(ClaudeUsed {
        id: message.id,
        model: message.model.and_then(believable_model),
        total: used,
        kinds,
    })
}

fn file_id(metadata: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        FileId { dev: 0, ino: 0 }
    }
}

/// The bytes `[from, to)` of `file`, or fewer if it shrank meanwhile.
fn read_range(file: &mut File, from: u64, to: u64) -> io::Result<Vec<u8>> {
    let want = to.saturating_sub(from);
    let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    file.seek(SeekFrom::Start(from))?;
    file.take(want).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The digest of up to [`MARK_BYTES`] bytes before `offset`.
fn mark_at(file: &mut File, offset: u64) -> io::Result<String> {
    if offset == 0 {
        return Ok(String::new());
    }
    let from = offset.saturating_sub(MARK_BYTES);
    Ok(digest::hex(&read_range(file, from, offset)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    const CODEX_FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hosts/codex-0.169.0/rollout-usage.jsonl"
    );
    const CLAUDE_FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hosts/claude-2.1.328/transcript-usage.jsonl"
    );
    /// What the mock reported for each response of the captured sessions: 900 fresh input,
    /// 300 cache-read, 200 cache-written, 100 output (20 of it reasoning on Codex).
    const PER_RESPONSE: u64 = 900 + 300 + 200 + 100;

    fn codex_event(total: u64, last: u64) -> String {
        format!(
            r#"{{"timestamp":"t","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{i},"cached_input_tokens":0,"output_tokens":{o},"reasoning_output_tokens":0,"total_tokens":{total}}},"last_token_usage":{{"input_tokens":{li},"output_tokens":{lo},"total_tokens":{last}}}}},"rate_limits":null}}}}"#,
            i = total - total / 10,
            o = total / 10,
            li = last - last / 10,
            lo = last / 10,
        )
    }

    fn claude_line(id: &str, input: u64, output: u64) -> String {
        format!(
            r#"{{"type":"assistant","message":{{"id":"{id}","role":"assistant","content":[{{"type":"text","text":"hi"}}],"usage":{{"input_tokens":{input},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":{output}}}}},"sessionId":"s"}}"#
        )
    }

    struct Transcript {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    impl Transcript {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.jsonl");
            std::fs::write(&path, "").unwrap();
            Transcript { _dir: dir, path }
        }

        fn append(&self, text: &str) {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&self.path)
                .unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }

        fn line(&self, line: &str) {
            self.append(&format!("{line}\n"));
        }
    }

    #[test]
    fn the_real_codex_rollout_counts_total_tokens_of_every_response() {
        let reading = read(Path::new(CODEX_FIXTURE), Agent::Codex, &Cursor::default()).unwrap();
        assert_eq!(reading.tokens, 2 * PER_RESPONSE);
        assert_eq!(reading.cursor.codex_total, Some(2 * PER_RESPONSE));
        assert_eq!(reading.restarted, None);
    }

    #[test]
    fn the_real_transcripts_give_the_tokens_by_kind_and_the_model_that_answered() {
        let twice = Tokens {
            input: 2 * 900,
            cache_read: 2 * 300,
            cache_write: 2 * 200,
            output: 2 * 100,
            reasoning: 0,
        };
        let codex = read(Path::new(CODEX_FIXTURE), Agent::Codex, &Cursor::default()).unwrap();
        assert_eq!(
            codex.spent,
            [Spent {
                model: Some("mock-model".into()),
                tokens: Tokens {
                    reasoning: 2 * 20,
                    ..twice
                },
            }]
        );
        assert_eq!(codex.cursor.model.as_deref(), Some("mock-model"));
        let claude = read(Path::new(CLAUDE_FIXTURE), Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(
            claude.spent,
            [Spent {
                model: Some("claude-sonnet-4-5".into()),
                tokens: twice,
            }]
        );
        // A loop started at the end knows the model before the next response.
        let cursor = start(Path::new(CLAUDE_FIXTURE), Agent::Claude).unwrap();
        assert_eq!(cursor.model.as_deref(), Some("claude-sonnet-4-5"));
        let cursor = start(Path::new(CODEX_FIXTURE), Agent::Codex).unwrap();
        assert_eq!(cursor.model.as_deref(), Some("mock-model"));
    }

    #[test]
    fn a_codex_response_is_the_model_of_its_turn_and_kinds_are_differences_of_totals() {
        let t = Transcript::new();
        let context = |model: &str| {
            format!(r#"{{"type":"turn_context","payload":{{"cwd":"/w","model":"{model}"}}}}"#)
        };
        let count = |input: u64, cached: u64, output: u64| {
            format!(
                r#"{{"type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{input},"cached_input_tokens":{cached},"output_tokens":{output},"reasoning_output_tokens":0,"total_tokens":{t}}}}}}}}}"#,
                t = input + output
            )
        };
        t.line(&context("gpt-5.5"));
        t.line(&count(1000, 400, 100));
        t.line(&context("gpt-5.4"));
        t.line(&count(3000, 1400, 300));
        let reading = read(&t.path, Agent::Codex, &Cursor::default()).unwrap();
        assert_eq!(
            reading.spent,
            [
                Spent {
                    model: Some("gpt-5.5".into()),
                    tokens: Tokens {
                        input: 600,
                        cache_read: 400,
                        output: 100,
                        ..Tokens::default()
                    },
                },
                Spent {
                    model: Some("gpt-5.4".into()),
                    tokens: Tokens {
                        input: 1000,
                        cache_read: 1000,
                        output: 200,
                        ..Tokens::default()
                    },
                },
            ]
        );
        // A hostile model name is not believed.
        t.line(&context(&"m".repeat(500)));
        t.line(&count(3100, 1400, 300));
        let next = read(&t.path, Agent::Codex, &reading.cursor).unwrap();
        assert_eq!(next.spent[0].model.as_deref(), Some("gpt-5.4"));
    }

    #[test]
    fn the_real_claude_transcript_counts_each_message_id_once() {
        let reading = read(Path::new(CLAUDE_FIXTURE), Agent::Claude, &Cursor::default()).unwrap();
        // msg_0 is written twice (a text block and a tool_use block), msg_1 once.
        assert_eq!(reading.tokens, 2 * PER_RESPONSE);
        let ids: Vec<&str> = reading
            .cursor
            .recent
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["msg_0", "msg_1"]);
    }

    #[test]
    fn a_fixture_read_line_by_line_gives_the_same_count_as_read_whole() {
        for (fixture, agent) in [
            (CODEX_FIXTURE, Agent::Codex),
            (CLAUDE_FIXTURE, Agent::Claude),
        ] {
            let text = std::fs::read_to_string(fixture).unwrap();
            let t = Transcript::new();
            let mut cursor = Cursor::default();
            let mut total = 0;
            for line in text.split_inclusive('\n') {
                // Each line arrives in two writes; the half line waits for the rest.
                let (a, b) = line.split_at(line.len() / 2);
                t.append(a);
                let reading = read(&t.path, agent, &cursor).unwrap();
                total += reading.tokens;
                cursor = reading.cursor;
                t.append(b);
                let reading = read(&t.path, agent, &cursor).unwrap();
                assert_eq!(reading.restarted, None);
                total += reading.tokens;
                cursor = reading.cursor;
            }
            assert_eq!(total, 2 * PER_RESPONSE, "{agent}");
        }
    }

    #[test]
    fn starting_at_the_end_counts_only_what_comes_after() {
        let t = Transcript::new();
        t.line(&codex_event(1000, 1000));
        t.line(&codex_event(2500, 1500));
        let cursor = start(&t.path, Agent::Codex).unwrap();
        assert_eq!(cursor.codex_total, Some(2500));
        let reading = read(&t.path, Agent::Codex, &cursor).unwrap();
        assert_eq!(reading.tokens, 0, "nothing new");
        t.line(&codex_event(4000, 1500));
        t.line(r#"{"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#);
        let reading = read(&t.path, Agent::Codex, &reading.cursor).unwrap();
        assert_eq!(reading.tokens, 1500);
    }

    #[test]
    fn a_codex_total_out_of_the_start_window_is_stood_in_for_by_the_next_response() {
        let t = Transcript::new();
        t.line(&codex_event(1000, 1000));
        t.line(&format!(
            r#"{{"type":"response_item","payload":{{"output":"{}"}}}}"#,
            "x".repeat(5000)
        ));
        let cursor = start_capped(&t.path, Agent::Codex, 1000).unwrap();
        assert_eq!(cursor.codex_total, None);
        t.line(&codex_event(1600, 600));
        t.line(&codex_event(2000, 400));
        let reading = read(&t.path, Agent::Codex, &cursor).unwrap();
        assert_eq!(reading.tokens, 1000);
    }

    #[test]
    fn a_claude_message_continuing_after_the_start_is_not_counted_again() {
        let t = Transcript::new();
        t.line(&claude_line("msg_a", 100, 10));
        let cursor = start(&t.path, Agent::Claude).unwrap();
        t.line(&claude_line("msg_a", 100, 10));
        t.line(&claude_line("msg_b", 200, 20));
        let reading = read(&t.path, Agent::Claude, &cursor).unwrap();
        assert_eq!(reading.tokens, 220);
    }

    #[test]
    fn a_claude_message_split_between_two_reads_counts_once() {
        let t = Transcript::new();
        t.line(&claude_line("msg_a", 100, 10));
        let first = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(first.tokens, 110);
        t.line(&claude_line("msg_a", 100, 10));
        let second = read(&t.path, Agent::Claude, &first.cursor).unwrap();
        assert_eq!(second.tokens, 0);
    }

    #[test]
    fn a_claude_message_that_reports_more_later_adds_the_difference() {
        let t = Transcript::new();
        // Provisional usage first (as streamed), the final count on a later line.
        t.line(&claude_line("msg_a", 100, 1));
        t.line(&claude_line("msg_a", 100, 50));
        t.line(&claude_line("msg_a", 100, 50));
        let reading = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(reading.tokens, 150);
    }

    #[test]
    fn a_claude_line_without_an_id_counts_by_itself() {
        let t = Transcript::new();
        t.line(r#"{"type":"assistant","message":{"usage":{"input_tokens":5,"output_tokens":5}}}"#);
        t.line(r#"{"type":"assistant","message":{"usage":{"input_tokens":5,"output_tokens":5,"cache_read_input_tokens":null}}}"#);
        let reading = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(reading.tokens, 20);
    }

    #[test]
    fn only_the_hosts_own_usage_lines_count() {
        let t = Transcript::new();
        // A user line quoting usage JSON (a tool result) and other hosts' shapes.
        t.line(r#"{"type":"user","message":{"id":"x","usage":{"input_tokens":999}}}"#);
        t.line(&codex_event(5000, 5000));
        t.line(r#"{"type":"response_item","payload":{"type":"token_count","info":{"total_token_usage":{"total_tokens":77}}}}"#);
        assert_eq!(
            read(&t.path, Agent::Claude, &Cursor::default())
                .unwrap()
                .tokens,
            0
        );
        t.line(&claude_line("m", 1, 1));
        let codex = read(&t.path, Agent::Codex, &Cursor::default()).unwrap();
        assert_eq!(codex.tokens, 5000);
    }

    #[test]
    fn malformed_and_hostile_lines_are_skipped() {
        let t = Transcript::new();
        t.append("not json \"usage\" \"token_count\"\n");
        t.append("\u{0}\u{1}\u{ff}\n");
        t.append(
            "{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":-5}}}\n",
        );
        t.append("{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":1e30}}}\n");
        t.append("{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":99999999999999999999999}}}\n");
        t.append(
            "{\"type\":\"assistant\",\"message\":{\"id\":7,\"usage\":{\"input_tokens\":5}}}\n",
        );
        t.append(&format!("{}\n", claude_line("ok", 3, 4)));
        t.append("\n\n   \n");
        let reading = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(reading.tokens, 7);
        let huge = u64::MAX / 2;
        t.line(&claude_line("big1", huge, huge));
        t.line(&claude_line("big2", huge, huge));
        let reading = read(&t.path, Agent::Claude, &reading.cursor).unwrap();
        assert_eq!(reading.tokens, u64::MAX, "saturates instead of wrapping");
    }

    #[test]
    fn a_long_message_id_is_kept_as_a_digest() {
        let t = Transcript::new();
        let id = "i".repeat(10_000);
        t.line(&claude_line(&id, 1, 1));
        let reading = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(reading.cursor.recent[0].id.len(), 16);
        t.line(&claude_line(&id, 1, 1));
        assert_eq!(
            read(&t.path, Agent::Claude, &reading.cursor)
                .unwrap()
                .tokens,
            0
        );
    }

    #[test]
    fn the_cursor_keeps_only_the_newest_ids() {
        let t = Transcript::new();
        for i in 0..100 {
            t.line(&claude_line(&format!("m{i}"), 1, 0));
        }
        let reading = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        assert_eq!(reading.tokens, 100);
        assert_eq!(reading.cursor.recent.len(), RECENT_IDS);
        assert_eq!(reading.cursor.recent.last().unwrap().id, "m99");
    }

    #[test]
    fn a_truncated_transcript_starts_over_at_its_end() {
        let t = Transcript::new();
        t.line(&claude_line("a", 10, 0));
        t.line(&claude_line("b", 10, 0));
        let first = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        std::fs::write(&t.path, format!("{}\n", claude_line("c", 10, 0))).unwrap();
        let second = read(&t.path, Agent::Claude, &first.cursor).unwrap();
        assert_eq!(second.restarted, Some(Restart::Truncated));
        assert_eq!(second.tokens, 0);
        t.line(&claude_line("d", 10, 0));
        let third = read(&t.path, Agent::Claude, &second.cursor).unwrap();
        assert_eq!((third.tokens, third.restarted), (10, None));
    }

    #[test]
    fn a_transcript_rewritten_in_place_starts_over() {
        let t = Transcript::new();
        t.line(&claude_line("a", 10, 0));
        let first = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        // Same inode, same length and more: only the bytes before the cursor differ.
        let other = claude_line("z", 10, 9);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&t.path)
            .unwrap();
        file.write_all(format!("{other}\n{other}\n").as_bytes())
            .unwrap();
        drop(file);
        let second = read(&t.path, Agent::Claude, &first.cursor).unwrap();
        assert_eq!(second.restarted, Some(Restart::Rewritten));
        assert_eq!(second.tokens, 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_transcript_starts_over_and_codex_totals_carry_on() {
        let t = Transcript::new();
        t.line(&codex_event(1000, 1000));
        let first = read(&t.path, Agent::Codex, &Cursor::default()).unwrap();
        assert_eq!(first.tokens, 1000);
        let replacement = t.path.with_extension("new");
        std::fs::write(
            &replacement,
            format!("{}\n{}\n", codex_event(1000, 1000), codex_event(1800, 800)),
        )
        .unwrap();
        std::fs::rename(&replacement, &t.path).unwrap();
        let second = read(&t.path, Agent::Codex, &first.cursor).unwrap();
        assert_eq!(second.restarted, Some(Restart::Replaced));
        assert_eq!(second.tokens, 800, "the session's total grew by 800");
        let claude = Transcript::new();
        claude.line(&claude_line("a", 10, 0));
        let first = read(&claude.path, Agent::Claude, &Cursor::default()).unwrap();
        let replacement = claude.path.with_extension("new");
        std::fs::write(
            &replacement,
            format!("{}\n{}\n", claude_line("a", 10, 0), claude_line("b", 10, 0)),
        )
        .unwrap();
        std::fs::rename(&replacement, &claude.path).unwrap();
        let second = read(&claude.path, Agent::Claude, &first.cursor).unwrap();
        assert_eq!(
            (second.tokens, second.restarted),
            (0, Some(Restart::Replaced))
        );
    }

    #[test]
    fn a_transcript_that_did_not_exist_at_the_start_counts_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.jsonl");
        let cursor = start(&path, Agent::Codex).unwrap();
        assert_eq!(cursor, Cursor::default());
        let none_yet = read(&path, Agent::Codex, &cursor).unwrap();
        assert_eq!(none_yet.tokens, 0);
        std::fs::write(
            &path,
            format!("{}\n{}\n", codex_event(1000, 1000), codex_event(1500, 500)),
        )
        .unwrap();
        let reading = read(&path, Agent::Codex, &none_yet.cursor).unwrap();
        assert_eq!(reading.tokens, 1500);
    }

    #[test]
    fn a_transcript_that_vanished_is_an_error() {
        let t = Transcript::new();
        t.line(&claude_line("a", 1, 1));
        let first = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        std::fs::remove_file(&t.path).unwrap();
        let err = read(&t.path, Agent::Claude, &first.cursor).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_or_fifo_transcript_is_refused_without_hanging() {
        let t = Transcript::new();
        let link = t.path.with_extension("link");
        std::os::unix::fs::symlink(&t.path, &link).unwrap();
        assert!(read(&link, Agent::Codex, &Cursor::default()).is_err());
        assert!(start(&link, Agent::Codex).is_err());
        let fifo = t.path.with_extension("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert!(read(&fifo, Agent::Claude, &Cursor::default()).is_err());
        assert!(start(&fifo, Agent::Claude).is_err());
    }

    #[test]
    fn claude_reads_at_most_the_cap_and_catches_up_later() {
        let t = Transcript::new();
        let line = claude_line("m0", 1, 0);
        let cap = (line.len() as u64 + 1) * 3;
        for i in 0..10 {
            t.line(&claude_line(&format!("m{i}"), 1, 0));
        }
        let mut cursor = Cursor::default();
        let mut total = 0;
        let mut reads = 0;
        loop {
            let reading = read_capped(&t.path, Agent::Claude, &cursor, cap).unwrap();
            total += reading.tokens;
            cursor = reading.cursor;
            reads += 1;
            if !reading.behind {
                break;
            }
        }
        assert_eq!(total, 10);
        assert_eq!(reads, 4, "three lines per read");
    }

    #[test]
    fn codex_reads_only_the_newest_part_when_much_was_appended() {
        let t = Transcript::new();
        t.line(&codex_event(100, 100));
        let first = read(&t.path, Agent::Codex, &Cursor::default()).unwrap();
        let filler = format!(
            r#"{{"type":"response_item","payload":{{"type":"function_call_output","output":"{}"}}}}"#,
            "x".repeat(5000)
        );
        for i in 1..=20 {
            t.line(&filler);
            t.line(&codex_event(100 + i * 50, 50));
        }
        let reading = read_capped(&t.path, Agent::Codex, &first.cursor, 6000).unwrap();
        assert_eq!(
            reading.tokens, 1000,
            "the newest cumulative total covers the skipped part"
        );
        assert!(!reading.behind);
        assert_eq!(
            reading.cursor.offset,
            std::fs::metadata(&t.path).unwrap().len()
        );
    }

    #[test]
    fn a_line_longer_than_the_cap_is_skipped_and_the_next_lines_count() {
        let t = Transcript::new();
        t.line(&claude_line("a", 1, 0));
        t.line(&format!(
            r#"{{"type":"user","message":{{"content":"{}"}}}}"#,
            "y".repeat(1000)
        ));
        t.line(&claude_line("b", 2, 0));
        let mut cursor = Cursor::default();
        let mut total = 0;
        for _ in 0..20 {
            let reading = read_capped(&t.path, Agent::Claude, &cursor, 300).unwrap();
            total += reading.tokens;
            cursor = reading.cursor;
            if !reading.behind {
                break;
            }
        }
        assert_eq!(total, 3);
        assert!(!cursor.skipping);
        // A cursor started inside a long line skips it too.
        let started = start_capped(&t.path, Agent::Claude, 300).unwrap();
        assert_eq!(started.offset, std::fs::metadata(&t.path).unwrap().len());
    }

    #[test]
    fn an_unfinished_over_long_line_is_skipped_once_it_ends() {
        let t = Transcript::new();
        t.append(&"z".repeat(1000));
        let first = read_capped(&t.path, Agent::Claude, &Cursor::default(), 300).unwrap();
        assert!(first.cursor.skipping);
        let mut cursor = first.cursor;
        for _ in 0..5 {
            cursor = read_capped(&t.path, Agent::Claude, &cursor, 300)
                .unwrap()
                .cursor;
        }
        t.append("zzz\n");
        t.line(&claude_line("after", 4, 0));
        let reading = read_capped(&t.path, Agent::Claude, &cursor, 300).unwrap();
        assert_eq!(reading.tokens, 4);
    }

    #[test]
    fn the_cursor_survives_the_state_file() {
        let t = Transcript::new();
        t.line(&claude_line("a", 1, 2));
        let reading = read(&t.path, Agent::Claude, &Cursor::default()).unwrap();
        let json = serde_json::to_string(&reading.cursor).unwrap();
        let back: Cursor = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reading.cursor);
        let empty: Cursor = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, Cursor::default());
    }
}
