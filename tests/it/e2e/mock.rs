//! A scripted model server for the real clients: plain HTTP/1.1 on 127.0.0.1 with an
//! ephemeral port, std only (no async runtime), one thread per connection.
//!
//! It speaks just enough of each wire protocol to drive a whole session:
//! - Codex 0.169.0 (`wire_api = "responses"`): `POST /v1/responses` with `"stream": true`
//!   answered by the SSE events `response.created`, `response.output_item.done` (a
//!   `message` with `output_text`, or a `function_call` to `exec_command`) and
//!   `response.completed` with a `usage` object.
//! - Claude Code 2.1.328, 2.1.330 and 2.1.332: `POST /v1/messages` answered by the Messages SSE sequence
//!   (`message_start`, `content_block_start`, `content_block_delta`, `content_block_stop`,
//!   `message_delta`, `message_stop`); a `tool_use` block named `Bash` makes it run a
//!   command. Requests without `tools` are side calls (title, topic detection): they get
//!   a short fixed answer and never consume the script.
//!
//! Every request is recorded, so a test can count turns and read what the hooks injected.
//! Responses end with `Connection: close`: each request gets a fresh connection, which
//! keeps the server free of keep-alive bookkeeping.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

/// Which wire protocol the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Responses API, as Codex uses it.
    Codex,
    /// Anthropic Messages API, as Claude Code uses it.
    Claude,
}

/// One scripted answer of the model.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A final assistant message: the turn ends and the Stop hook runs.
    Text(String),
    /// A shell command for the agent to run (Codex `exec_command`, Claude `Bash`); the
    /// client then sends the result back in the next request.
    Command(String),
    /// This reply, but only once the test calls [`MockServer::release`]: holds a session
    /// in the middle of its loop while the test does something else.
    Held(Box<Reply>),
    /// Some text and then a shell command, in one model response (two content blocks in
    /// Claude's message, two output items in Codex's response).
    TextThenCommand(String, String),
    /// A shell command the agent starts in the background (Claude's `Bash` with
    /// `run_in_background`; Codex has no such thing and runs it as a plain command).
    Background(String),
    /// An API error instead of a reply: this HTTP status with this error type (`429`
    /// `rate_limit_error`, `529` `overloaded_error` …).
    ApiError(u16, &'static str),
}

/// The token usage the server reports for every response it streams. Each field is a
/// disjoint part, so a test knows exactly what a client should add up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens neither read from nor written to a prompt cache.
    pub input: u64,
    /// Input tokens read from the prompt cache (Responses `cached_tokens`, Messages
    /// `cache_read_input_tokens`).
    pub cache_read: u64,
    /// Input tokens written to the prompt cache (Responses `cache_write_tokens`, Messages
    /// `cache_creation_input_tokens`).
    pub cache_write: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// The reasoning part of `output` (Responses `reasoning_tokens`; Messages has none).
    pub reasoning: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            input: 10,
            cache_read: 0,
            cache_write: 0,
            output: 5,
            reasoning: 0,
        }
    }
}

/// A plain assistant message.
pub fn text(s: impl Into<String>) -> Reply {
    Reply::Text(s.into())
}

/// A shell command the agent runs.
pub fn command(s: impl Into<String>) -> Reply {
    Reply::Command(s.into())
}

/// Text and then a shell command in one response.
pub fn text_then_command(t: impl Into<String>, cmd: impl Into<String>) -> Reply {
    Reply::TextThenCommand(t.into(), cmd.into())
}

/// A shell command the agent starts in the background.
pub fn background(s: impl Into<String>) -> Reply {
    Reply::Background(s.into())
}

/// An API error instead of a reply.
pub fn api_error(status: u16, kind: &'static str) -> Reply {
    Reply::ApiError(status, kind)
}

/// `reply`, held until [`MockServer::release`].
pub fn held(reply: Reply) -> Reply {
    Reply::Held(Box::new(reply))
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target, query included (Claude Code adds `?beta=true`).
    pub path: String,
    /// The body as sent (bodies are JSON and UTF-8 for both clients).
    pub body: String,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<Value>,
    /// Index into the script of the reply this request got; `None` for side calls and
    /// for requests that came after the script ran out.
    pub reply: Option<usize>,
    /// True when this was a model turn (it would have consumed the script).
    pub turn: bool,
}

#[derive(Default)]
struct Shared {
    script: Vec<Reply>,
    next: usize,
    requests: Vec<Request>,
    /// Model turns asked for after the script ran out.
    overruns: usize,
    /// Set by [`MockServer::release`]: held replies may go.
    released: bool,
    /// What every response reports as its token usage.
    usage: Usage,
    /// Compaction requests answered with a summary.
    compactions: usize,
}

/// Words of the clients' own compaction prompts (Codex 0.169.0, Claude Code 2.1.330).
const COMPACTION_MARKERS: [&str; 2] = [
    "CONTEXT CHECKPOINT COMPACTION",
    "Your task is to create a detailed summary of the conversation so far",
];

/// The summary the mock gives a client that compacts its context.
pub const COMPACTION_SUMMARY: &str = "Summary: the conversation so far was compacted.";

/// A running mock model server. Dropping it stops accepting connections.
pub struct MockServer {
    wire: Wire,
    port: u16,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl MockServer {
    /// Starts a server on 127.0.0.1 with an ephemeral port that plays `script` in order.
    pub fn start(wire: Wire, script: Vec<Reply>) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new((
            Mutex::new(Shared {
                script,
                ..Shared::default()
            }),
            Condvar::new(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    thread::spawn(move || {
                        let _ = serve(wire, stream, &shared);
                    });
                }
            });
        }
        MockServer {
            wire,
            port,
            shared,
            stop,
        }
    }

    /// The base URL clients are pointed at (Codex appends `/v1` itself in its config).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.0.lock().unwrap().requests.clone()
    }

    /// The model turns (requests that consumed, or would have consumed, the script).
    pub fn turns(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.turn).collect()
    }

    /// Replaces the script (for scripts that name paths of the world the server is part
    /// of); only before the first model turn.
    pub fn set_script(&self, script: Vec<Reply>) {
        let mut shared = self.shared.0.lock().unwrap();
        assert_eq!(
            shared.next, 0,
            "set_script after the script started playing"
        );
        shared.script = script;
    }

    /// Sets the token usage every later response reports.
    pub fn set_usage(&self, usage: Usage) {
        self.shared.0.lock().unwrap().usage = usage;
    }

    /// Lets held replies go.
    pub fn release(&self) {
        self.shared.0.lock().unwrap().released = true;
        self.shared.1.notify_all();
    }

    /// Waits until at least `n` model turns have arrived (held ones count), up to
    /// `timeout`; true when they did.
    pub fn wait_for_turns(&self, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.turns().len() >= n {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Model turns requested after the script ran out (each got a text saying so).
    pub fn overruns(&self) -> usize {
        self.shared.0.lock().unwrap().overruns
    }

    /// How many compaction requests the client sent (answered outside the script).
    pub fn compactions(&self) -> usize {
        self.shared.0.lock().unwrap().compactions
    }

    /// The request log, readable in a CI log: one header line per request, then the
    /// conversation items that are new since the previous model turn (each turn carries
    /// the whole conversation; the clients' long instructions are cut).
    pub fn log(&self) -> String {
        let shared = self.shared.0.lock().unwrap();
        let mut out = format!(
            "mock {:?} server at {}: {} requests, {} of {} scripted replies played, {} turns past the script\n",
            self.wire,
            self.url(),
            shared.requests.len(),
            shared.next,
            shared.script.len(),
            shared.overruns
        );
        let mut previous: Vec<String> = Vec::new();
        for (i, r) in shared.requests.iter().enumerate() {
            let what = match (r.turn, r.reply) {
                (true, Some(n)) => format!(
                    "model turn, answered with script[{n}] = {:?}",
                    shared.script[n]
                ),
                (true, None) => "model turn past the end of the script: answered 400".to_string(),
                (false, _) => "side request".to_string(),
            };
            let _ = writeln!(out, "--- request {i}: {} {} ({what})", r.method, r.path);
            if r.turn {
                let lines = conversation(self.wire, r);
                let common = previous
                    .iter()
                    .zip(&lines)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common > 0 {
                    let _ = writeln!(out, "    [{common} items as in the previous turn]");
                }
                for line in &lines[common..] {
                    let _ = writeln!(out, "    {line}");
                }
                if let Some(extra) = injected_system_context(self.wire, r) {
                    let _ = writeln!(out, "    [system prompt hook context] {}", short(&extra));
                }
                previous = lines;
            } else {
                let _ = writeln!(out, "    {}", short(&r.body));
            }
        }
        out
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The conversation a model turn carried, one readable line per item or content part.
pub fn conversation(wire: Wire, r: &Request) -> Vec<String> {
    let Some(body) = &r.json else {
        return vec![r.body.clone()];
    };
    let mut out = Vec::new();
    match wire {
        Wire::Codex => {
            for item in body["input"].as_array().into_iter().flatten() {
                let kind = item["type"].as_str().unwrap_or("?");
                let role = item["role"].as_str().unwrap_or("");
                let text = match kind {
                    "message" => item["content"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    "function_call" => item["arguments"].as_str().unwrap_or("").to_string(),
                    "function_call_output" => match &item["output"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    _ => item.to_string(),
                };
                out.push(format!("[{kind} {role}] {}", short(&text)));
            }
        }
        Wire::Claude => {
            for msg in body["messages"].as_array().into_iter().flatten() {
                let role = msg["role"].as_str().unwrap_or("?");
                match &msg["content"] {
                    Value::String(s) => out.push(format!("[{role}] {}", short(s))),
                    Value::Array(parts) => {
                        for p in parts {
                            let kind = p["type"].as_str().unwrap_or("?");
                            let text = match kind {
                                "text" => p["text"].as_str().unwrap_or("").to_string(),
                                "tool_use" => p["input"].to_string(),
                                "tool_result" => p["content"].to_string(),
                                _ => p.to_string(),
                            };
                            out.push(format!("[{role} {kind}] {}", short(&text)));
                        }
                    }
                    other => out.push(format!("[{role}] {other}")),
                }
            }
        }
    }
    out
}

/// Claude Code puts a UserPromptSubmit hook's `additionalContext` into the system prompt.
fn injected_system_context(wire: Wire, r: &Request) -> Option<String> {
    const MARK: &str = "UserPromptSubmit hook additional context:";
    match wire {
        Wire::Codex => None,
        Wire::Claude => {
            let text = all_text(r.json.as_ref()?.get("system")?);
            let at = text.find(MARK)?;
            Some(text[at..].to_string())
        }
    }
}

/// Every string inside a JSON value, joined by newlines: what the model was sent, as
/// text, whatever the nesting.
pub fn all_text(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(v, &mut out);
    out
}

/// Codex XML-escapes a block reason inside `<hook_prompt>` (`<promise>` reaches the
/// model as `&lt;promise&gt;`); this gives back the text the hook wrote.
fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

impl Request {
    /// Everything this request sent the model, as text.
    pub fn text(&self) -> String {
        self.json
            .as_ref()
            .map(all_text)
            .unwrap_or_else(|| self.body.clone())
    }

    /// The Stop hook block reasons this request carried, oldest first, as the hook wrote
    /// them: Codex wraps each in a user message `<hook_prompt …>REASON</hook_prompt>`
    /// (XML-escaped); Claude Code sends a user message `Stop hook feedback:\nREASON`
    /// (2.1.330), or the same inside a `<system-reminder>` after a line saying a hook wrote
    /// it (2.1.332; see [`claude_hook_feedback`]).
    pub fn hook_prompts(&self, wire: Wire) -> Vec<String> {
        let Some(body) = &self.json else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match wire {
            Wire::Codex => {
                for item in body["input"].as_array().into_iter().flatten() {
                    if item["role"] != "user" {
                        continue;
                    }
                    for c in item["content"].as_array().into_iter().flatten() {
                        let Some(t) = c["text"].as_str() else {
                            continue;
                        };
                        if let Some(rest) = t.trim_start().strip_prefix("<hook_prompt") {
                            let inner = rest.split_once('>').map_or(rest, |(_, r)| r);
                            let inner = inner.strip_suffix("</hook_prompt>").unwrap_or(inner);
                            out.push(unescape_xml(inner));
                        }
                    }
                }
            }
            Wire::Claude => {
                for msg in body["messages"].as_array().into_iter().flatten() {
                    if msg["role"] != "user" {
                        continue;
                    }
                    let texts: Vec<String> = match &msg["content"] {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(parts) => parts
                            .iter()
                            .filter_map(|p| p["text"].as_str().map(str::to_string))
                            .collect(),
                        _ => Vec::new(),
                    };
                    out.extend(texts.iter().filter_map(|t| claude_hook_feedback(t)));
                }
            }
        }
        out
    }
}

/// The block reason in one text of a Claude Code user message, if it is a Stop hook's
/// feedback. Measured: 2.1.328 and 2.1.330 send a text block `Stop hook feedback:\nREASON`;
/// 2.1.332 sends a plain string `<system-reminder>\nThe text below is the output of a hook
/// that the user, their organization or this environment set up. …\nStop hook
/// feedback:\nREASON\n</system-reminder>`.
fn claude_hook_feedback(text: &str) -> Option<String> {
    const MARK: &str = "Stop hook feedback:";
    if let Some(rest) = text.strip_prefix(MARK) {
        return Some(rest.trim_start_matches('\n').to_string());
    }
    let inner = text
        .strip_prefix("<system-reminder>\n")?
        .strip_suffix("</system-reminder>")?;
    let preamble = inner.find(&format!("\n{MARK}\n"))?;
    let reason = &inner[preamble + MARK.len() + 2..];
    Some(reason.strip_suffix('\n').unwrap_or(reason).to_string())
}

/// Long developer/system texts (the clients' own instructions) are cut in the log; the
/// loop's own texts are short and stay whole.
fn short(s: &str) -> String {
    const MAX: usize = 600;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} […{} more bytes]", &s[..end], s.len() - end)
}

fn serve(wire: Wire, stream: TcpStream, shared: &(Mutex<Shared>, Condvar)) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;

    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();

    let mut content_length = None;
    let mut chunked = false;
    let mut expect_continue = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => content_length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "expect" => expect_continue = value.eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    if expect_continue {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if chunked {
        read_chunked(&mut reader)?
    } else if let Some(len) = content_length {
        let mut buf = vec![0; len];
        reader.read_exact(&mut buf)?;
        buf
    } else {
        Vec::new()
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let json: Option<Value> = serde_json::from_str(&body).ok();

    // A client compacting its context asks the model for a summary: answered here with
    // one, outside the script (the test counts them with `compactions`).
    let is_compaction = method == "POST" && COMPACTION_MARKERS.iter().any(|m| body.contains(m));
    let is_turn = method == "POST"
        && !is_compaction
        && match wire {
            Wire::Codex => path.ends_with("/responses"),
            // Claude's side calls (title, topic) carry no tools.
            Wire::Claude => {
                path.starts_with("/v1/messages")
                    && !path.contains("count_tokens")
                    && json
                        .as_ref()
                        .and_then(|j| j["tools"].as_array())
                        .is_some_and(|t| !t.is_empty())
            }
        };

    let (reply, index, usage) = {
        let mut shared = shared.0.lock().unwrap();
        let usage = shared.usage;
        if is_compaction {
            shared.compactions += 1;
        }
        let (reply, index) = if is_turn {
            if shared.next < shared.script.len() {
                let n = shared.next;
                shared.next += 1;
                (Some(shared.script[n].clone()), Some(n))
            } else {
                // No text: a reply here could feed a broken loop forever. A 400 ends
                // the client's turn without retries.
                shared.overruns += 1;
                (None, None)
            }
        } else {
            (None, None)
        };
        shared.requests.push(Request {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
            json: json.clone(),
            reply: index,
            turn: is_turn,
        });
        (reply, index, usage)
    };

    // A held reply waits for the test (bounded, so a forgotten release cannot hang CI).
    let reply = match reply {
        Some(Reply::Held(inner)) => {
            let (lock, cvar) = shared;
            let guard = lock.lock().unwrap();
            let _ = cvar
                .wait_timeout_while(guard, Duration::from_secs(90), |s| !s.released)
                .unwrap();
            Some(*inner)
        }
        other => other,
    };

    let seq = index.unwrap_or(999);
    let reply = if is_compaction {
        Some(Reply::Text(COMPACTION_SUMMARY.to_string()))
    } else {
        reply
    };
    match (wire, reply) {
        (_, None) if is_turn => send_json(
            &mut stream,
            400,
            &json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": "mock: the test's script ran out of replies"}}),
        )?,
        (_, Some(Reply::ApiError(status, kind))) => send_json(
            &mut stream,
            status,
            &json!({"type": "error", "error": {"type": kind, "message": format!("mock: {kind}")}}),
        )?,
        (Wire::Codex, Some(reply)) => send_sse(&mut stream, &codex_events(&reply, seq, usage))?,
        (Wire::Claude, Some(reply)) => {
            let stream_wanted = json.as_ref().is_some_and(|j| j["stream"] == true);
            if stream_wanted {
                send_sse(&mut stream, &claude_events(&reply, seq, usage))?;
            } else {
                send_json(&mut stream, 200, &claude_message(&reply, seq, usage))?;
            }
        }
        (Wire::Claude, None) if path.starts_with("/v1/messages") && method == "POST" => {
            let side = Reply::Text("Ralph loop test".to_string());
            if path.contains("count_tokens") {
                send_json(&mut stream, 200, &json!({"input_tokens": 10}))?;
            } else if json.as_ref().is_some_and(|j| j["stream"] == true) {
                send_sse(&mut stream, &claude_events(&side, 900, usage))?;
            } else {
                send_json(&mut stream, 200, &claude_message(&side, 900, usage))?;
            }
        }
        (Wire::Codex, None) if path.ends_with("/models") => {
            send_json(&mut stream, 200, &json!({"models": [], "data": []}))?;
        }
        _ => send_json(
            &mut stream,
            404,
            &json!({"error": {"type": "not_found", "message": "mock: no such endpoint"}}),
        )?,
    }
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("0");
        let size = usize::from_str_radix(size_hex, 16).unwrap_or(0);
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let mut chunk = vec![0; size];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk);
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}

fn send_json(stream: &mut TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Error",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn send_sse(stream: &mut TcpStream, events: &[(String, Value)]) -> std::io::Result<()> {
    let mut body = String::new();
    for (name, data) in events {
        let _ = write!(body, "event: {name}\ndata: {data}\n\n");
    }
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn codex_events(reply: &Reply, seq: usize, usage: Usage) -> Vec<(String, Value)> {
    let id = format!("resp_{seq}");
    let mut events = vec![(
        "response.created".to_string(),
        json!({"type": "response.created", "response": {"id": id}}),
    )];
    for item in codex_items(reply, seq) {
        events.push((
            "response.output_item.done".into(),
            json!({"type": "response.output_item.done", "item": item}),
        ));
    }
    // The Responses API counts cached tokens inside `input_tokens` and reasoning inside
    // `output_tokens`.
    let input = usage.input + usage.cache_read + usage.cache_write;
    events.push((
        "response.completed".into(),
        json!({"type": "response.completed", "response": {
            "id": id,
            "usage": {
                "input_tokens": input,
                "input_tokens_details": {
                    "cached_tokens": usage.cache_read,
                    "cache_write_tokens": usage.cache_write
                },
                "output_tokens": usage.output,
                "output_tokens_details": {"reasoning_tokens": usage.reasoning},
                "total_tokens": input + usage.output
            }
        }}),
    ));
    events
}

fn codex_items(reply: &Reply, seq: usize) -> Vec<Value> {
    match reply {
        Reply::Held(inner) => codex_items(inner, seq),
        Reply::Text(t) => vec![json!({
            "type": "message",
            "role": "assistant",
            "id": format!("msg_{seq}"),
            "content": [{"type": "output_text", "text": t}],
        })],
        Reply::Command(cmd) => vec![json!({
            "type": "function_call",
            "id": format!("fc_{seq}"),
            "call_id": format!("call_{seq}"),
            "name": "exec_command",
            "arguments": json!({"cmd": cmd, "yield_time_ms": 10000}).to_string(),
        })],
        Reply::Background(cmd) => codex_items(&Reply::Command(cmd.clone()), seq),
        Reply::ApiError(..) => Vec::new(),
        Reply::TextThenCommand(t, cmd) => {
            let mut items = codex_items(&Reply::Text(t.clone()), seq);
            items.extend(codex_items(&Reply::Command(cmd.clone()), seq));
            items
        }
    }
}

/// One content block of a Claude message: its `content_block_start`, its one delta, the
/// block as a whole, and the stop reason it gives the message when it is the last.
struct ClaudeBlock {
    start: Value,
    delta: Value,
    whole: Value,
    stop_reason: &'static str,
}

fn claude_blocks(reply: &Reply, seq: usize) -> Vec<ClaudeBlock> {
    match reply {
        Reply::Held(inner) => claude_blocks(inner, seq),
        Reply::Text(t) => vec![ClaudeBlock {
            start: json!({"type": "text", "text": ""}),
            delta: json!({"type": "text_delta", "text": t}),
            whole: json!({"type": "text", "text": t}),
            stop_reason: "end_turn",
        }],
        Reply::Command(cmd) => {
            let input = json!({"command": cmd, "description": "scripted command"});
            vec![ClaudeBlock {
                start: json!({"type": "tool_use", "id": format!("toolu_{seq}"), "name": "Bash", "input": {}}),
                delta: json!({"type": "input_json_delta", "partial_json": input.to_string()}),
                whole: json!({"type": "tool_use", "id": format!("toolu_{seq}"), "name": "Bash", "input": input}),
                stop_reason: "tool_use",
            }]
        }
        Reply::ApiError(..) => Vec::new(),
        Reply::Background(cmd) => {
            let input = json!({"command": cmd, "description": "scripted background command", "run_in_background": true});
            vec![ClaudeBlock {
                start: json!({"type": "tool_use", "id": format!("toolu_{seq}"), "name": "Bash", "input": {}}),
                delta: json!({"type": "input_json_delta", "partial_json": input.to_string()}),
                whole: json!({"type": "tool_use", "id": format!("toolu_{seq}"), "name": "Bash", "input": input}),
                stop_reason: "tool_use",
            }]
        }
        Reply::TextThenCommand(t, cmd) => {
            let mut blocks = claude_blocks(&Reply::Text(t.clone()), seq);
            blocks.extend(claude_blocks(&Reply::Command(cmd.clone()), seq));
            blocks
        }
    }
}

fn claude_stop_reason(blocks: &[ClaudeBlock]) -> &'static str {
    blocks.last().map_or("end_turn", |b| b.stop_reason)
}

/// The streamed events of one message. As the Messages API does, `message_start` carries
/// the input side of the usage and a provisional output count, `message_delta` the final
/// output count.
fn claude_events(reply: &Reply, seq: usize, usage: Usage) -> Vec<(String, Value)> {
    let blocks = claude_blocks(reply, seq);
    let mut events = vec![(
        "message_start".to_string(),
        json!({"type": "message_start", "message": {
            "id": format!("msg_{seq}"),
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {
                "input_tokens": usage.input,
                "cache_creation_input_tokens": usage.cache_write,
                "cache_read_input_tokens": usage.cache_read,
                "output_tokens": 1
            }
        }}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        events.push((
            "content_block_start".into(),
            json!({"type": "content_block_start", "index": index, "content_block": block.start}),
        ));
        events.push((
            "content_block_delta".into(),
            json!({"type": "content_block_delta", "index": index, "delta": block.delta}),
        ));
        events.push((
            "content_block_stop".into(),
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push((
        "message_delta".into(),
        json!({"type": "message_delta",
            "delta": {"stop_reason": claude_stop_reason(&blocks), "stop_sequence": null},
            "usage": {"output_tokens": usage.output}}),
    ));
    events.push(("message_stop".into(), json!({"type": "message_stop"})));
    events
}

fn claude_message(reply: &Reply, seq: usize, usage: Usage) -> Value {
    let blocks = claude_blocks(reply, seq);
    json!({
        "id": format!("msg_{seq}"),
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": blocks.iter().map(|b| b.whole.clone()).collect::<Vec<_>>(),
        "stop_reason": claude_stop_reason(&blocks),
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input,
            "cache_creation_input_tokens": usage.cache_write,
            "cache_read_input_tokens": usage.cache_read,
            "output_tokens": usage.output
        }
    })
}
