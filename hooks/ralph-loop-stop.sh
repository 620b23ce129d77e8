#!/bin/sh
# ralph-hook's Stop entry point for dispatchers (cmux's cmux-stop-dispatch.sh calls it).
# Runs the ralph-hook binary installed beside this script; exec passes stdin through.
exec "$(dirname "$0")/ralph-hook" stop --agent codex
