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
    if !run.success() && run.stderr.contains("not built yet") {
        world.note("ralph-hook install is not built yet: the harness installed by hand");
        fallback::install(world, trust);
    } else {
        assert!(run.success(), "ralph-hook install failed");
    }
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

/// Until `ralph-hook install` lands: the files it will write, written by hand.
mod fallback {
    use serde_json::json;

    use super::super::clients::Client;
    use super::super::codex;
    use super::super::world::{World, hook_source};

    pub fn install(world: &World, trust: bool) {
        let home = world.client_home();
        let hooks = home.join("hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        let bin = hooks.join("ralph-hook");
        std::fs::copy(hook_source(), &bin).unwrap();
        let skill = home.join("skills/ralph-loop");
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(
            skill.join("SKILL.md"),
            "---\nname: ralph-loop\ndescription: Keep working on one task until it is done.\n---\nThe ralph-loop hooks run the loop.\n",
        )
        .unwrap();
        let agent = world.client.name();
        let entry = |sub: &str| json!([{"hooks": [{"type": "command", "command": format!("\"{}\" {sub} --agent {agent}", bin.display()), "timeout": 60}]}]);
        let hooks_obj = json!({"UserPromptSubmit": entry("prompt"), "Stop": entry("stop")});
        match world.client {
            Client::Codex => {
                std::os::unix::fs::symlink(&bin, hooks.join("ralph-loop-stop.sh")).unwrap();
                std::fs::write(
                    home.join("hooks.json"),
                    serde_json::to_string_pretty(&json!({"hooks": hooks_obj})).unwrap(),
                )
                .unwrap();
                let config = home.join("config.toml");
                let mut text = std::fs::read_to_string(&config).unwrap();
                text.push_str("\n[features]\nhooks = true\n");
                std::fs::write(&config, text).unwrap();
                if trust {
                    codex::trust_all(world);
                }
            }
            Client::Claude => {
                std::fs::write(
                    home.join("settings.json"),
                    serde_json::to_string_pretty(&json!({
                        "env": {"CLAUDE_CODE_STOP_HOOK_BLOCK_CAP": "1000"},
                        "hooks": hooks_obj,
                    }))
                    .unwrap(),
                )
                .unwrap();
            }
        }
    }
}
