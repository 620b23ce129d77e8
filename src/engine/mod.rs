//! The loop core: everything that decides and keeps a loop, and nothing that talks to a
//! host, a terminal or an installer. Front ends (`hook`, `commands`, `install`) call in;
//! nothing here calls out to them.
//!
//! - [`decide`]: the pure decision of one stop — start here to see what a stop does;
//!   [`stop`]: the stop as one transaction around it (gather, decide, write, answer).
//! - [`outcome`], [`action`]: the one list of how a loop ends, each with its code; the
//!   one list of what a decision did.
//! - [`signal`], [`digest`]: reading the agent's message; fingerprints for the brake.
//! - [`fingerprint`]: what the no-progress brake sees of a git workspace.
//! - [`fresh`]: `run --fresh` (a new session per iteration): the record's hand-over, the
//!   hand-off note, the workspace summary a new session starts with.
//! - [`settings`], [`state`]: the flag table (every loop flag once, checked once) and the
//!   state file's shape.
//! - [`store`], [`workspace`], [`files`]: where a loop lives on disk (the user's record,
//!   the workspace's mirror), locking, atomic writes; files opened, never followed.
//! - [`ownership`], [`lifecycle`], [`history`]: the user's record and whose stops a loop
//!   obeys; start, end, pause, adopt; the typed history. [`lookup`]: finding the loop a
//!   command or a hook acts on.
//! - [`once`]: one host event acted on once when ralph-hook is installed twice.
//! - [`verify`], [`transcript`]: the verify command; the transcript fallback.
//! - [`usage`]: tokens the session used, read incrementally from the host's transcript;
//!   [`flush`]: a stop's count once the host has written the turn's last reply.
//! - [`prices`]: what a model's tokens cost, for `--max-cost`.
//! - [`config`]: the user's defaults for loop flags; [`notify`]: the user's notify command.
//! - [`render`]: the words handed to the agent and the user; [`status`]: how a loop
//!   stands, for `show` and `$ralph-loop status`.
//! - `sample`: sample loops for tests and benches only (the `testing` feature).
//! - [`tasks`]: `--tasks FILE`: the checklist, the current item, acceptance on evidence.
//! - [`supervision`]: the supervisor file of `ralph-hook run` and the one state
//!   vocabulary (`running`, `crashed`, …) of `list`, `show --json` and `wait`.

pub mod action;
pub mod config;
pub mod decide;
pub mod digest;
pub mod files;
pub mod fingerprint;
pub mod flush;
pub mod fresh;
pub(crate) mod history;
pub mod lifecycle;
pub(crate) mod liveness;
pub(crate) mod lookup;
pub(crate) mod notify;
pub(crate) mod once;
pub(crate) mod outcome;
pub mod ownership;
pub mod prices;
pub(crate) mod private;
pub mod render;
#[cfg(any(test, feature = "testing"))]
pub mod sample;
pub(crate) mod session_events;
pub mod settings;
pub mod signal;
pub mod state;
pub(crate) mod status;
pub(crate) mod stop;
pub mod store;
pub mod supervision;
pub mod tasks;
pub mod transcript;
pub mod usage;
pub(crate) mod verify;
pub(crate) mod visible;
pub(crate) mod workspace;
