//! What the supervisor reads from a client's JSON events, one line at a time: the session
//! id (to bind the loop before its first stop), the agent's messages and the hooks'
//! notices (for the digest), and errors (the cause of a restart). A line that is not an
//! event is ignored: the raw output goes to the log whatever it holds.

use serde_json::Value;

use crate::agent::Agent;

/// One thing a client said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientEvent {
    /// The session's id (Codex `thread_id`, Claude Code `session_id`).
    Session(String),
    /// A message of the agent.
    Message(String),
    /// A notice of the client or a hook (Claude Code shows a Stop hook's `systemMessage`).
    Notice(String),
    /// An error the client reported (an API failure, a usage limit …).
    Error(String),
}

/// The events in one line of the client's stdout.
pub(crate) fn parse(agent: Agent, line: &str) -> Vec<ClientEvent> {
    let Ok(event) = serde_json::from_str::<Value>(line.trim()) else {
        return Vec::new();
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    let mut out = Vec::new();
    match agent {
        Agent::Codex => match event["type"].as_str().unwrap_or("") {
            "thread.started" => out.extend(text(&event["thread_id"]).map(ClientEvent::Session)),
            "item.completed" if event["item"]["type"] == "agent_message" => {
                out.extend(text(&event["item"]["text"]).map(ClientEvent::Message));
            }
            "turn.failed" => out.extend(
                text(&event["error"]["message"])
                    .or_else(|| Some(event["error"].to_string()))
                    .map(ClientEvent::Error),
            ),
            "error" => out.extend(text(&event["message"]).map(ClientEvent::Error)),
            _ => {}
        },
        Agent::Claude => {
            out.extend(text(&event["session_id"]).map(ClientEvent::Session));
            match event["type"].as_str().unwrap_or("") {
                "assistant" => {
                    for part in event["message"]["content"].as_array().into_iter().flatten() {
                        if part["type"] == "text" {
                            out.extend(text(&part["text"]).map(ClientEvent::Message));
                        }
                    }
                }
                "system" if event["subtype"] == "informational" => {
                    out.extend(text(&event["content"]).map(ClientEvent::Notice));
                }
                "result" if event["is_error"] == true => out.push(ClientEvent::Error(
                    text(&event["result"])
                        .filter(|r| !r.is_empty())
                        .or_else(|| errors(&event["errors"]))
                        .or_else(|| text(&event["subtype"]))
                        .unwrap_or_else(|| "the run failed".into()),
                )),
                _ => {}
            }
        }
    }
    out
}

/// A Claude Code result's `errors` (a run that failed before any turn, such as a
/// `--resume` of a session it never saved, says why only there), joined; `None` when empty.
fn errors(list: &Value) -> Option<String> {
    let words: Vec<&str> = list
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter(|e| !e.trim().is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_events_give_the_thread_id_messages_and_errors() {
        assert_eq!(
            parse(
                Agent::Codex,
                r#"{"type":"thread.started","thread_id":"019a-t"}"#
            ),
            [ClientEvent::Session("019a-t".into())]
        );
        assert_eq!(
            parse(
                Agent::Codex,
                r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"hi"}}"#
            ),
            [ClientEvent::Message("hi".into())]
        );
        assert_eq!(
            parse(
                Agent::Codex,
                r#"{"type":"turn.failed","error":{"message":"quota exceeded"}}"#
            ),
            [ClientEvent::Error("quota exceeded".into())]
        );
        assert!(parse(Agent::Codex, "not json").is_empty());
        assert!(
            parse(
                Agent::Codex,
                r#"{"type":"item.completed","item":{"type":"command_execution"}}"#
            )
            .is_empty()
        );
    }

    #[test]
    fn claude_events_give_the_session_id_messages_notices_and_errors() {
        assert_eq!(
            parse(
                Agent::Claude,
                r#"{"type":"assistant","session_id":"s1","message":{"content":[{"type":"text","text":"done"},{"type":"tool_use"}]}}"#
            ),
            [
                ClientEvent::Session("s1".into()),
                ClientEvent::Message("done".into())
            ]
        );
        assert_eq!(
            parse(
                Agent::Claude,
                r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 400","session_id":"s1"}"#
            )[1],
            ClientEvent::Error("API Error: 400".into())
        );
        assert_eq!(
            parse(
                Agent::Claude,
                r#"{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["No conversation found with session ID: s9"],"session_id":"s9"}"#
            )[1],
            ClientEvent::Error("No conversation found with session ID: s9".into())
        );
        assert_eq!(
            parse(
                Agent::Claude,
                r#"{"type":"result","subtype":"error_during_execution","is_error":true,"errors":[]}"#
            ),
            [ClientEvent::Error("error_during_execution".into())]
        );
        assert_eq!(
            parse(
                Agent::Claude,
                r#"{"type":"system","subtype":"informational","content":"Stop says: go"}"#
            ),
            [ClientEvent::Notice("Stop says: go".into())]
        );
    }
}
