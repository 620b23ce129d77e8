#!/usr/bin/env bash
# Installs the pinned Codex CLI and Claude Code (from the npm registry) into the folder the
# end-to-end tests look in: $RALPH_E2E_AGENTS, default <repo>/.e2e-agents.
# Idempotent: a second run with the same versions does nothing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=e2e-agents.env
. "$repo/install/e2e-agents.env"
dest=${RALPH_E2E_AGENTS:-$repo/.e2e-agents}

if ! command -v npm >/dev/null 2>&1; then
  echo "e2e-agents: npm not found; install Node.js 18 or newer (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

installed_version() {
  local manifest="$dest/node_modules/$1/package.json"
  [ -f "$manifest" ] && node -p "require('$manifest').version" 2>/dev/null || true
}

if [ "$(installed_version "$CODEX_PACKAGE")" = "$CODEX_VERSION" ] &&
  [ "$(installed_version "$CLAUDE_PACKAGE")" = "$CLAUDE_VERSION" ] &&
  [ -x "$dest/node_modules/.bin/codex" ] && [ -x "$dest/node_modules/.bin/claude" ]; then
  echo "e2e-agents: codex $CODEX_VERSION and claude $CLAUDE_VERSION already in $dest"
  exit 0
fi

mkdir -p "$dest"
echo "e2e-agents: installing $CODEX_PACKAGE@$CODEX_VERSION and $CLAUDE_PACKAGE@$CLAUDE_VERSION into $dest"
npm install --prefix "$dest" --no-audit --no-fund --no-save --loglevel=error \
  "$CODEX_PACKAGE@$CODEX_VERSION" "$CLAUDE_PACKAGE@$CLAUDE_VERSION"
"$dest/node_modules/.bin/codex" --version
"$dest/node_modules/.bin/claude" --version
