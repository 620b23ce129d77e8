//! One error type for every command, rendered in one place so that each message says
//! what went wrong, where, and how to fix it.

use crate::shell;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Exit code of a usage error: a wrong command line or flag value (sysexits' EX_USAGE).
/// Never 2: both hosts read exit 2 from a hook as "block and continue with this text".
pub const EXIT_USAGE: i32 = 64;
/// Exit code of malformed input: a config file, a state file (sysexits' EX_DATAERR).
pub const EXIT_DATA: i32 = 65;

/// Everything that can make a command fail. Variants carry the data the message needs.
#[derive(Debug)]
pub enum Error {
    /// The command line or a value in it is wrong (exit 64).
    Usage(String),
    /// An input file or text is malformed (exit 65): a config file, a state file.
    Input {
        /// Where the bad input lives (a file, or a name such as "stdin").
        location: String,
        /// What is wrong with it and how to fix it.
        message: String,
    },
    /// A file operation failed (exit 1).
    Io {
        /// What we were doing, e.g. "write the loop state".
        action: String,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
        /// A hint that tells the user what to do about it, if we know one.
        hint: Option<String>,
    },
    /// The command needs a loop of the user's and there is none here (exit 1).
    NoLoop {
        /// What the command was to do: `cancel`, `pause` …
        action: String,
        /// The workspace looked in.
        workspace: PathBuf,
        /// A state file that stands there although the user did not start it.
        unadopted: Option<PathBuf>,
    },
    /// A loop already runs where a new one would start (exit 1); the message says whose
    /// and how to replace it.
    LoopActive(String),
    /// Anything else that stops a command, with the whole message (exit 1).
    Failed(String),
}

impl Error {
    /// The process exit code scripts can rely on: 64 for usage errors, 65 for malformed
    /// input, 1 otherwise. Never 2.
    pub fn code(&self) -> i32 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Input { .. } => EXIT_DATA,
            Error::Io { .. } | Error::NoLoop { .. } | Error::LoopActive(_) | Error::Failed(_) => 1,
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }

    /// Shorthand for a malformed-input error at `location`.
    pub fn input(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Input {
            location: location.into(),
            message: message.into(),
        }
    }

    /// Wraps an IO failure with what we were doing and on which file.
    pub fn io(action: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action: action.into(),
            path: path.into(),
            source,
            hint: None,
        }
    }

    /// Adds a "what to do" hint. A hint already there is kept and the new one follows it;
    /// on variants without a hint field it is added to the message, so no advice is lost.
    pub fn with_hint(self, text: impl Into<String>) -> Self {
        let text = text.into();
        match self {
            Error::Io {
                action,
                path,
                source,
                hint,
            } => Error::Io {
                action,
                path,
                source,
                hint: Some(match hint {
                    Some(first) if first != text => format!("{first}\n  hint: {text}"),
                    Some(first) => first,
                    None => text,
                }),
            },
            Error::Usage(message) => Error::Usage(format!("{message}\n  hint: {text}")),
            Error::Input { location, message } => Error::Input {
                location,
                message: format!("{message}\n  hint: {text}"),
            },
            Error::LoopActive(message) => Error::LoopActive(format!("{message}\n  hint: {text}")),
            no_loop @ Error::NoLoop { .. } => Error::Failed(format!("{no_loop}\n  hint: {text}")),
            Error::Failed(message) => Error::Failed(format!("{message}\n  hint: {text}")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => write!(f, "{message}"),
            Error::Input { location, message } => write!(f, "{location}: {message}"),
            Error::Io {
                action,
                path,
                source,
                hint,
            } => {
                write!(f, "could not {action} ({}): {source}", path.display())?;
                if let Some(hint) = hint {
                    write!(f, "\n  hint: {hint}")?;
                }
                Ok(())
            }
            Error::NoLoop {
                action,
                workspace,
                unadopted: Some(file),
            } => write!(
                f,
                "{} is not a loop you started, so there is nothing to {action}; `ralph-hook show --workspace {}` shows it, and `ralph-hook adopt` makes it yours",
                file.display(),
                shell::word(workspace)
            ),
            Error::NoLoop {
                action,
                workspace,
                unadopted: None,
            } => write!(f, "no loop to {action} in {}", workspace.display()),
            Error::LoopActive(message) | Error::Failed(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Usage(_)
            | Error::Input { .. }
            | Error::NoLoop { .. }
            | Error::LoopActive(_)
            | Error::Failed(_) => None,
        }
    }
}

/// The result type of every command.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error() -> Error {
        Error::io(
            "write the loop state",
            "/ws/.codex/x",
            io::Error::from(io::ErrorKind::PermissionDenied),
        )
    }

    #[test]
    fn a_hint_is_never_dropped_or_overwritten() {
        let twice = io_error()
            .with_hint("first")
            .with_hint("second")
            .to_string();
        assert!(
            twice.contains("hint: first") && twice.contains("hint: second"),
            "{twice}"
        );
        let same = io_error().with_hint("one").with_hint("one").to_string();
        assert_eq!(same.matches("hint: one").count(), 1, "{same}");
        for err in [
            Error::usage("bad flag"),
            Error::input("f.json", "not JSON"),
            Error::Failed("no loop".into()),
        ] {
            let code = err.code();
            let hinted = err.with_hint("do this");
            assert!(hinted.to_string().contains("hint: do this"), "{hinted}");
            assert_eq!(hinted.code(), code);
        }
    }
}
