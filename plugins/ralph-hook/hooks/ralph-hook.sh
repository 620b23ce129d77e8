#!/bin/sh
# The ralph-hook plugin's hook command, the same for Codex and Claude Code:
#
#   sh "${CLAUDE_PLUGIN_ROOT}/hooks/ralph-hook.sh" prompt|stop|session-end|stop-failure
#
# A plugin ships no compiled code, so this finds the ralph-hook program and runs it with
# the hook's arguments and stdin (the host's JSON payload). It looks on PATH,
# then in cargo's bin folder, then in the plugin's data folder (<data>/bin/ralph-hook,
# where `cargo install --root <data>` puts it).
#
# Without the program no loop can run. The hook then lets every prompt and stop through
# (exit 0, nothing on stdout) and says once per session, on stderr, the command that
# installs it. It never builds anything, and it never exits 2: both hosts read exit 2 as
# "block, and continue with stderr as the prompt".

# The public repository, for the install command in the notice (empty: described instead).
repository=''

root=${PLUGIN_ROOT:-${CLAUDE_PLUGIN_ROOT:-$(dirname "$0")/..}}
data=${PLUGIN_DATA:-${CLAUDE_PLUGIN_DATA:-}}

runnable() {
  [ -f "$1" ] && [ -x "$1" ]
}

bin=$(command -v ralph-hook 2>/dev/null) || bin=
case $bin in
  /*) runnable "$bin" || bin= ;;
  *) bin= ;;
esac
if [ -z "$bin" ]; then
  for candidate in "${CARGO_HOME:-${HOME:-}/.cargo}/bin/ralph-hook" \
    "${HOME:-}/.cargo/bin/ralph-hook" ${data:+"$data/bin/ralph-hook"}; do
    if runnable "$candidate"; then
      bin=$candidate
      break
    fi
  done
fi
if [ -n "$bin" ]; then
  # Not exec: whatever the program does, this hook must not exit 2.
  "$bin" "$@"
  status=$?
  [ "$status" -eq 2 ] && exit 1
  exit "$status"
fi

# No program: read the payload (the host is writing it) and keep its start for the id.
payload=$(head -c 4096 2>/dev/null)
cat >/dev/null 2>&1
session=$(printf '%s\n' "$payload" |
  sed -n 's/.*"session_id"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9._-]\{1,128\}\)".*/\1/p' |
  sed -n 1p)

# Once per session: mkdir succeeds for the first hook of a session only (and never
# follows a link someone planted).
notices="${TMPDIR:-/tmp}/ralph-hook-$(id -u 2>/dev/null || echo user)"
mkdir -p "$notices" 2>/dev/null
if mkdir "$notices/missing.${session:-unknown}" 2>/dev/null; then
  checkout=$(cd "$root/../.." 2>/dev/null && pwd)
  if [ -n "$checkout" ] && grep -q '^name = "ralph-hook"' "$checkout/Cargo.toml" 2>/dev/null; then
    install="cargo install --locked --path '$checkout'"
  elif [ -n "$repository" ]; then
    install="cargo install --locked --git $repository ralph-hook"
  else
    install="cargo install --locked --git <the repository you added this plugin's marketplace from> ralph-hook"
  fi
  echo "ralph-hook: the ralph-hook plugin is on, but the ralph-hook program is not installed (not on PATH, in ~/.cargo/bin${data:+ or in $data/bin}), so no loop runs and every stop is allowed. Install it once with: $install" >&2
fi
exit 0
