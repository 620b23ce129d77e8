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
# (exit 0) and says once per session the command that installs it: on stderr, as a
# systemMessage, and for a prompt as context the agent repeats to the user. It never builds anything, and it never exits 2: both hosts read exit 2 as
# "block, and continue with stderr as the prompt".

# The public repository, for the install command in the notice (empty: described instead).
repository=''

root=${PLUGIN_ROOT:-${CLAUDE_PLUGIN_ROOT:-$(dirname "$0")/..}}
data=${PLUGIN_DATA:-${CLAUDE_PLUGIN_DATA:-}}

runnable() {
  [ -f "$1" ] && [ -x "$1" ]
}

# PATH's absolute entries only: a relative one (`.`, `node_modules/.bin`) would mean a
# file in the workspace, where the hook runs.
bin=
old_ifs=$IFS
IFS=:
for dir in $PATH; do
  case $dir in
    /*) if runnable "$dir/ralph-hook"; then bin=$dir/ralph-hook; break; fi ;;
  esac
done
IFS=$old_ifs
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

# Once per session: mkdir succeeds for the first hook of a session only. The folder of
# these marks is the user's alone (0700, so session ids are not listed to others): one
# that is a link, another user's, or open to others is never used, and the notice is
# then said every time rather than never.
notices="${TMPDIR:-/tmp}/ralph-hook-$(id -u 2>/dev/null || echo user)"
private_folder() {
  [ ! -L "$1" ] && [ -d "$1" ] && [ -O "$1" ] &&
    case $(ls -ld "$1" 2>/dev/null) in d???------*) true ;; *) false ;; esac
}
first_notice() {
  (umask 077 && mkdir "$notices" 2>/dev/null)
  private_folder "$notices" || return 0
  mkdir "$notices/missing.${session:-unknown}" 2>/dev/null
}
if first_notice; then
  checkout=$(cd "$root/../.." 2>/dev/null && pwd)
  if [ -n "$checkout" ] && grep -q '^name = "ralph-hook"' "$checkout/Cargo.toml" 2>/dev/null; then
    install="cargo install --locked --path '$checkout'"
  elif [ -n "$repository" ]; then
    install="cargo install --locked --git $repository ralph-hook"
  else
    install="cargo install --locked --git <the repository you added this plugin's marketplace from> ralph-hook"
  fi
  notice="ralph-hook: the ralph-hook plugin is on, but the ralph-hook program is not installed (not on PATH, in ~/.cargo/bin${data:+ or in $data/bin}), so no loop runs and every stop is allowed. Install it once with: $install"
  echo "$notice" >&2
  # stderr reaches no user of `codex exec` or plain `claude -p`: say it also where each
  # host shows it, a systemMessage (the interactive clients, Claude's stream-json) and,
  # for a prompt, context the agent passes on in its reply (every client prints that).
  text=$(printf '%s' "$notice" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')
  case ${1:-} in
    prompt)
      printf '{"systemMessage":"%s","hookSpecificOutput":{"hookEventName":"UserPromptSubmit","additionalContext":"Before anything else, tell the user this, word for word: %s"}}\n' "$text" "$text"
      ;;
    *) printf '{"systemMessage":"%s"}\n' "$text" ;;
  esac
fi
exit 0
