//! Wiring ralph-hook into the world's client the way a user does: `ralph-hook install`,
//! with real hook trust through `codex app-server` (never
//! `--dangerously-bypass-hook-trust`).

use super::clients::Client;
use super::world::{TOOL_DEADLINE, World, hook_source};

/// Runs `ralph-hook install --agent <client>` into the world's homes. `trust: false`
/// passes `--no-trust`. Panics with the failure report when the install fails.
pub fn install(world: &World, trust: bool) {
    let mut cmd = world.command(hook_source());
    cmd.arg("install")
        .args(["--agent", world.client.name()])
        .arg("--codex-home")
        .arg(&world.codex_home)
        .arg("--claude-home")
        .arg(&world.claude_home);
    if world.client == Client::Codex {
        cmd.arg("--codex-bin").arg(&world.bin);
    }
    if !trust {
        cmd.arg("--no-trust");
    }
    let run = world.run_recorded(cmd, "ralph-hook install", TOOL_DEADLINE);
    assert!(run.success(), "ralph-hook install failed");
    assert!(
        world.hook_bin().is_file(),
        "install put no binary at {}",
        world.hook_bin().display()
    );
    if world.client == Client::Codex && trust {
        let untrusted: Vec<_> = super::codex::hooks(world)
            .into_iter()
            .filter(|h| h["trustStatus"] != "trusted")
            .collect();
        assert!(
            untrusted.is_empty(),
            "after install Codex still reports untrusted hooks: {untrusted:#?}"
        );
    }
}
