#!/usr/bin/env bash
# One-command set-up: builds ralph-hook, puts it on PATH and wires it into every agent found
# (Codex: $CODEX_HOME or ~/.codex; Claude Code: ~/.claude).
#
#   install/install.sh                 # copy the binary to ~/.local/bin (or $RALPH_BIN_DIR)
#   install/install.sh --agent codex   # extra flags go to `ralph-hook install`
#   RALPH_USE_CARGO_INSTALL=1 install/install.sh   # use `cargo install --path .` instead
#
# The man pages go to ${XDG_DATA_HOME:-~/.local/share}/man/man1 (or $RALPH_MAN_DIR).
# `ralph-hook uninstall --purge` removes the copy placed on PATH and the man pages again.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v cargo >/dev/null 2>&1; then
  echo "install: cargo not found; install Rust from https://rustup.rs first" >&2
  exit 1
fi

placed=()
if [ "${RALPH_USE_CARGO_INSTALL:-0}" = 1 ]; then
  cargo install --locked --path "$repo"
  bin="${CARGO_HOME:-$HOME/.cargo}/bin/ralph-hook"
else
  cargo build --release --locked --manifest-path "$repo/Cargo.toml"
  dest=${RALPH_BIN_DIR:-$HOME/.local/bin}
  mkdir -p "$dest"
  # Copy beside, then rename: a running hook keeps its old binary until it exits.
  cp "${CARGO_TARGET_DIR:-$repo/target}/release/ralph-hook" "$dest/.ralph-hook.new"
  chmod 755 "$dest/.ralph-hook.new"
  mv -f "$dest/.ralph-hook.new" "$dest/ralph-hook"
  bin="$dest/ralph-hook"
  placed=(--path-copy "$bin")
  case ":$PATH:" in
    *":$dest:"*) ;;
    *) echo "install: $dest is not on your PATH; add it, e.g. export PATH=\"$dest:\$PATH\"" >&2 ;;
  esac
fi

echo "install: $("$bin" --version) at $bin"

man_dir=${RALPH_MAN_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/man/man1}
if "$bin" man --dir "$man_dir" >/dev/null; then
  placed+=(--man-pages "$man_dir")
  # `man ralph-hook` finds the pages only where man looks: say the MANPATH line otherwise.
  man_root=$(dirname "$man_dir")
  if command -v manpath >/dev/null 2>&1 && manpath 2>/dev/null | tr ':' '\n' | grep -qxF "$man_root"; then
    echo "install: man pages in $man_dir (man ralph-hook)"
  else
    echo "install: man pages in $man_dir; man does not look there yet: add to your shell's profile"
    echo "         export MANPATH=\"$man_root:\$MANPATH\""
  fi
else
  echo "install: could not write the man pages to $man_dir; run '$bin man --dir DIR' later" >&2
fi
echo "install: shell completions: '$bin completions bash|zsh|fish|powershell' prints the script;"
echo "         '$bin completions --help' says where each shell looks for it"
if [ "$#" -eq 0 ] && [ -z "${CODEX_HOME:-}" ] && [ ! -d "$HOME/.codex" ] && [ ! -d "$HOME/.claude" ]; then
  echo "install: found neither Codex (~/.codex) nor Claude Code (~/.claude); run '$bin install --agent codex|claude' once one is set up" >&2
  exit 0
fi
"$bin" install ${placed[@]+"${placed[@]}"} "$@"
"$bin" doctor || true
