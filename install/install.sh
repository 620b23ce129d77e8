#!/usr/bin/env bash
# One-command set-up: builds ralph-hook, puts it on PATH and wires it into every agent found
# (Codex: $CODEX_HOME or ~/.codex; Claude Code: ~/.claude).
#
#   install/install.sh                 # copy the binary to ~/.local/bin (or $RALPH_BIN_DIR)
#   install/install.sh --agent codex   # extra flags go to `ralph-hook install`
#   RALPH_USE_CARGO_INSTALL=1 install/install.sh   # use `cargo install --path .` instead
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v cargo >/dev/null 2>&1; then
  echo "install: cargo not found; install Rust from https://rustup.rs first" >&2
  exit 1
fi

if [ "${RALPH_USE_CARGO_INSTALL:-0}" = 1 ]; then
  cargo install --locked --path "$repo"
  bin="${CARGO_HOME:-$HOME/.cargo}/bin/ralph-hook"
else
  cargo build --release --locked --manifest-path "$repo/Cargo.toml"
  dest=${RALPH_BIN_DIR:-$HOME/.local/bin}
  mkdir -p "$dest"
  # Copy beside, then rename: a running hook keeps its old binary until it exits.
  cp "$repo/target/release/ralph-hook" "$dest/.ralph-hook.new"
  chmod 755 "$dest/.ralph-hook.new"
  mv -f "$dest/.ralph-hook.new" "$dest/ralph-hook"
  bin="$dest/ralph-hook"
  case ":$PATH:" in
    *":$dest:"*) ;;
    *) echo "install: $dest is not on your PATH; add it, e.g. export PATH=\"$dest:\$PATH\"" >&2 ;;
  esac
fi

echo "install: $("$bin" --version) at $bin"
if [ "$#" -eq 0 ] && [ -z "${CODEX_HOME:-}" ] && [ ! -d "$HOME/.codex" ] && [ ! -d "$HOME/.claude" ]; then
  echo "install: found neither Codex (~/.codex) nor Claude Code (~/.claude); run '$bin install --agent codex|claude' once one is set up" >&2
  exit 0
fi
"$bin" install "$@"
"$bin" doctor || true
