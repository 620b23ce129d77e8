#!/usr/bin/env bash
# Runs the whole end-to-end suite against the newest Codex CLI and Claude Code on npm
# (`@latest` of both), installed into a folder of their own, so a new client release that
# breaks the loop shows up before the pins in install/e2e-agents.env are raised. CI keeps
# the pins; this is for a developer's machine.
#
#   scripts/e2e-latest.sh                      # the whole e2e suite
#   scripts/e2e-latest.sh e2e::same_file_every  # only tests whose name contains this
#
# Environment: RALPH_E2E_LATEST_DIR (where the clients go; default
# ${TMPDIR:-/tmp}/ralph-e2e-latest). The e2e harness is told the installed versions
# through RALPH_E2E_CODEX_VERSION and RALPH_E2E_CLAUDE_VERSION.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../install/e2e-agents.env
. "$repo/install/e2e-agents.env"
dest=${RALPH_E2E_LATEST_DIR:-${TMPDIR:-/tmp}/ralph-e2e-latest}

if ! command -v npm >/dev/null 2>&1; then
  echo "e2e-latest: npm not found; install Node.js 18 or newer (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi

mkdir -p "$dest"
echo "e2e-latest: installing $CODEX_PACKAGE@latest and $CLAUDE_PACKAGE@latest into $dest"
npm install --prefix "$dest" --no-audit --no-fund --no-save --loglevel=error \
  "$CODEX_PACKAGE@latest" "$CLAUDE_PACKAGE@latest"

version_of() {
  node -p "require(process.argv[1]).version" "$dest/node_modules/$1/package.json"
}
codex_version=$(version_of "$CODEX_PACKAGE")
claude_version=$(version_of "$CLAUDE_PACKAGE")
versions="codex $codex_version (pinned $CODEX_VERSION), claude $claude_version (pinned $CLAUDE_VERSION)"
echo "e2e-latest: testing $versions"
"$dest/node_modules/.bin/codex" --version
"$dest/node_modules/.bin/claude" --version

filters=("$@")
if [ "${#filters[@]}" -eq 0 ]; then
  filters=(e2e::)
fi
status=0
(
  cd "$repo"
  RALPH_E2E_AGENTS="$dest" \
    RALPH_E2E_CODEX_VERSION="$codex_version" \
    RALPH_E2E_CLAUDE_VERSION="$claude_version" \
    RALPH_E2E_REQUIRE=1 \
    cargo test --test it -- "${filters[@]}"
) || status=$?
if [ "$status" -eq 0 ]; then
  echo "e2e-latest: passed with $versions"
else
  echo "e2e-latest: FAILED (exit $status) with $versions" >&2
fi
exit "$status"
