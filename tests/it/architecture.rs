//! Where things sit (issue 9): the loop core imports no front end, and no module imports
//! one that imports it back, directly or around a circle. Read from the source, so a new
//! `use` that breaks either fails here with the path it took.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The front ends: they may call the core, never the other way.
const FRONT_ENDS: [&str; 4] = ["hook", "commands", "install", "cli"];

/// `engine::decide`, `hook`, `install`, … for a source file; `None` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [] => None,
        [one] if one == "lib" || one == "main" => None,
        [engine, name, ..] if engine == "engine" => Some(format!("engine::{name}")),
        [first, ..] => Some(first.clone()),
    }
}

/// The modules a file names through `crate::…`, outside comments and its test module.
fn references(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut parts = path.split("::").filter(|part| !part.is_empty());
            match (parts.next(), parts.next()) {
                (Some("engine"), Some(name))
                    if name.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
                {
                    found.insert(format!("engine::{name}"));
                }
                (Some(first), _) if !first.is_empty() => {
                    found.insert(first.to_string());
                }
                _ => {}
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs_err::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Module → the modules it imports (self-references and a parent's own children left out).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = fs_err::read_to_string(&file).expect("read source");
        let edges = graph.entry(module.clone()).or_default();
        for target in references(&text) {
            if target != module && !target.starts_with(&format!("{module}::")) {
                edges.insert(target);
            }
        }
    }
    graph
}

/// A circle of imports, if there is one, as the path around it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// The graph with `engine::x` folded into `engine`: the top-level view.
fn top_level(graph: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let top = |name: &str| name.split("::").next().unwrap_or(name).to_string();
    let mut folded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in graph {
        let edges = folded.entry(top(from)).or_default();
        edges.extend(
            targets
                .iter()
                .map(|to| top(to))
                .filter(|to| *to != top(from)),
        );
    }
    folded
}

#[test]
fn the_loop_core_imports_no_front_end() {
    let graph = graph();
    assert!(
        graph.keys().any(|module| module == "engine::decide"),
        "{graph:?}"
    );
    let wrong: Vec<String> = graph
        .iter()
        .filter(|(module, _)| module.starts_with("engine"))
        .flat_map(|(module, targets)| {
            targets
                .iter()
                .filter(|target| FRONT_ENDS.contains(&target.as_str()))
                .map(move |target| format!("{module} -> {target}"))
        })
        .collect();
    assert!(wrong.is_empty(), "the core imports a front end: {wrong:?}");
}

#[test]
fn no_module_imports_itself_around_a_circle() {
    let graph = graph();
    assert_eq!(find_cycle(&graph), None, "a cycle between modules");
    assert_eq!(
        find_cycle(&top_level(&graph)),
        None,
        "a cycle between top-level modules"
    );
}

#[test]
fn the_cycle_finder_finds_a_planted_circle() {
    let mut graph = graph();
    graph
        .entry("engine::decide".into())
        .or_default()
        .insert("engine::lifecycle".into());
    assert!(find_cycle(&graph).is_some());
    assert_eq!(
        references(
            "use crate::engine::store::Store; // crate::hook is a comment\n#[cfg(test)]\nuse crate::cli;"
        ),
        BTreeSet::from(["engine::store".to_string()])
    );
}

/// The calls that write, create, move or remove a file or folder.
const FILE_WRITES: [&str; 14] = [
    "write",
    "copy",
    "rename",
    "remove_file",
    "remove_dir",
    "remove_dir_all",
    "create_dir",
    "create_dir_all",
    "set_permissions",
    "hard_link",
    "soft_link",
    "symlink",
    "File::create",
    "File::create_new",
];

/// Where a source text writes or removes a file: `line: text` for each call of
/// [`FILE_WRITES`] through a path (`fs::write(`, `std::os::unix::fs::symlink(`) or by a bare
/// imported name (`remove_file(`), and each `OpenOptions`, outside comments and the test
/// module. A method (`plan.create_dir(`, `out.write(`) is not a file write.
fn file_writes(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let writes = code.contains("OpenOptions")
            || FILE_WRITES.iter().any(|name| {
                code.match_indices(&format!("{name}(")).any(|(at, _)| {
                    let before = &code[..at];
                    let through_path = before.ends_with("::")
                        && (!matches!(*name, "write" | "copy" | "rename")
                            || before.ends_with("fs::"));
                    let bare = !matches!(*name, "write" | "copy" | "rename")
                        && !before.ends_with(|c: char| c.is_alphanumeric() || "_.:".contains(c));
                    through_path || bare
                })
            });
        if writes {
            found.push(format!("{}: {}", number + 1, line.trim()));
        }
    }
    found
}

/// The installer writes only through its plan (issue 20): `install/plan.rs` is the one
/// module that writes, backs up and undoes, so every change shows under `--dry-run` and
/// applies all-or-nothing. A write anywhere else in `src/install/` fails here.
#[test]
fn no_installer_module_but_the_plan_writes_or_removes_a_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/install");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(
        files.iter().any(|file| file.ends_with("trust.rs")),
        "{files:?}"
    );
    let plan = dir.join("plan.rs");
    assert!(
        !file_writes(&fs_err::read_to_string(&plan).expect("read plan.rs")).is_empty(),
        "the plan's own writes are not recognised"
    );
    let wrong: Vec<String> = files
        .iter()
        .filter(|file| **file != plan)
        .flat_map(|file| {
            let text = fs_err::read_to_string(file).expect("read source");
            file_writes(&text)
                .into_iter()
                .map(move |at| format!("{}:{at}", file.display()))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "an installer module writes outside install/plan.rs (make it a Change in the plan): {wrong:#?}"
    );
    // And a plan is applied by the command that runs it (install/mod.rs), not by a
    // planner of its own, so each part shows in the report before it applies.
    let own_apply: Vec<String> = files
        .iter()
        .filter(|file| **file != plan && !file.ends_with("install/mod.rs"))
        .flat_map(|file| {
            let text = fs_err::read_to_string(file).expect("read source");
            let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
            code.lines()
                .enumerate()
                .filter(|(_, line)| {
                    line.split("//")
                        .next()
                        .unwrap_or_default()
                        .contains(".apply(")
                })
                .map(|(number, line)| format!("{}:{}: {}", file.display(), number + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        own_apply.is_empty(),
        "a planner applies its own plan: {own_apply:#?}"
    );
}

#[test]
fn the_write_finder_finds_a_planted_write() {
    for planted in [
        "std::fs::write(&file, text)?;",
        "fs_err::remove_dir_all(path).ok();",
        "    remove_file(&copy)?;",
        "let f = File::create(&p)?;",
        "std::os::unix::fs::symlink(a, b)?;",
        "let f = std::fs::OpenOptions::new().append(true).open(p);",
        "fs::rename(&a, &b)?;",
    ] {
        assert_eq!(file_writes(planted).len(), 1, "{planted}");
    }
    for harmless in [
        "plan.create_dir(missing);",
        "writeln!(out, \"{line}\")?;",
        "out.write(bytes)?;",
        "std::io::copy(&mut a, &mut b)?;",
        "let set = remove_dirs(x); // std::fs::write(a, b)",
        "#[cfg(test)]\nmod tests {\n    std::fs::write(a, b).unwrap();\n}",
    ] {
        assert_eq!(file_writes(harmless), Vec::<String>::new(), "{harmless}");
    }
}

/// The engine modules that keep a loop on disk: a front end that imports one could
/// write a loop's state, history or notice past the stop's and lifecycle's rules.
const WRITERS: [&str; 3] = ["store", "history", "notify"];

/// The `engine::…` modules a file names, `use crate::engine::{a, b::C}` included
/// (outside comments and its test module).
fn engine_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::engine::") {
        rest = &rest[at + "crate::engine::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(list) => {
                // The names at the top level of the braces: `{store::{self, X}, history}`.
                let mut depth = 0;
                let end = list
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => return true,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        false
                    })
                    .map_or(list.len(), |(i, _)| i);
                let mut depth = 0;
                let mut start = 0;
                let mut items = Vec::new();
                for (i, c) in list[..end].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            items.push(&list[start..i]);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                items.push(&list[start..end]);
                items
            }
            None => vec![rest],
        };
        for name in names {
            let name: String = name
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// `hook/`'s imports of the engine modules that write a loop, as `file -> module`.
fn hook_writers(files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .flat_map(|(file, text)| {
            engine_modules(text)
                .into_iter()
                .filter(|module| WRITERS.contains(&module.as_str()))
                .map(move |module| format!("{file} -> engine::{module}"))
        })
        .collect()
}

#[test]
fn the_hooks_write_a_loop_only_through_the_engine_transitions() {
    let hook = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hook");
    let mut paths = Vec::new();
    rust_files(&hook, &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|path| {
            (
                path.display().to_string(),
                fs_err::read_to_string(path).expect("read source"),
            )
        })
        .collect();
    assert!(
        files.iter().any(|(file, _)| file.ends_with("stop.rs")),
        "{paths:?}"
    );
    let wrong = hook_writers(&files);
    assert!(
        wrong.is_empty(),
        "hook/ imports an engine module that writes a loop (give it an engine entry point instead): {wrong:?}"
    );
}

#[test]
fn the_writer_check_sees_every_way_of_importing() {
    let planted = |text: &str| hook_writers(&[("planted.rs".to_string(), text.to_string())]);
    assert_eq!(
        planted("use crate::engine::store::{self, Located};"),
        ["planted.rs -> engine::store"]
    );
    assert_eq!(
        planted("use crate::engine::{history::Event, render, notify};"),
        [
            "planted.rs -> engine::history",
            "planted.rs -> engine::notify"
        ]
    );
    assert_eq!(
        planted("use crate::engine::{\n    lifecycle::{self, Ending},\n    store,\n};"),
        ["planted.rs -> engine::store"]
    );
    assert_eq!(
        planted("    crate::engine::history::append(x);"),
        ["planted.rs -> engine::history"]
    );
    assert!(
        planted(
            "use crate::engine::stop::{self, StopAnswer}; // crate::engine::store\n#[cfg(test)]\nuse crate::engine::store;"
        )
        .is_empty()
    );
}

/// Lines of code (not comments, not `use` lines) that name a module through
/// `crate::a::b::…` inline, as `file:line`.
fn inline_paths(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in files {
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default().trim_start();
            let code = code
                .strip_prefix("pub(crate) ")
                .or_else(|| code.strip_prefix("pub "))
                .unwrap_or(code);
            if code.starts_with("use ") || code.starts_with("mod ") {
                continue;
            }
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                let before = rest[..at].chars().last();
                rest = &rest[at + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let named_inside = rest[module.len()..].starts_with("::");
                if !module.is_empty()
                    && named_inside
                    && !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                {
                    found.push(format!("{name}:{}: {}", number + 1, line.trim()));
                    break;
                }
            }
        }
    }
    found
}

fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let name = file
                .strip_prefix(&src)
                .expect("in src")
                .display()
                .to_string();
            (name, fs_err::read_to_string(&file).expect("read source"))
        })
        .collect()
}

#[test]
fn every_file_names_what_it_depends_on_in_its_use_lines() {
    let inline = inline_paths(&sources());
    assert!(
        inline.is_empty(),
        "call through a `use` line, not an inline `crate::…` path (issue 20), so a file's \
         header shows what it depends on:\n{}",
        inline.join("\n")
    );
}

#[test]
fn the_inline_path_finder_finds_a_planted_path() {
    let planted = vec![(
        "engine/x.rs".to_string(),
        "use crate::engine::render;\n/// see crate::engine::render::printable\nfn f() { let s = crate::engine::render::printable(\"a\"); }\nfn g() { render::printable(\"b\"); }\n".to_string(),
    )];
    assert_eq!(
        inline_paths(&planted),
        ["engine/x.rs:3: fn f() { let s = crate::engine::render::printable(\"a\"); }"]
    );
}

/// The crate's public surface is `run` and the hidden `testing` module: every other module
/// is private, so rustc's `dead_code` and `unreachable_pub` see what the crate itself uses.
#[test]
fn the_crate_root_exports_only_run_and_the_testing_surface() {
    let (_, lib) = sources()
        .into_iter()
        .find(|(name, _)| name == "lib.rs")
        .expect("lib.rs");
    let public: Vec<&str> = lib
        .lines()
        .filter(|line| line.starts_with("pub "))
        .collect();
    assert_eq!(
        public,
        [
            "pub mod testing {",
            "pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {"
        ],
        "a new public item at the crate root widens the surface; re-export what tests need \
         from `testing` instead"
    );
    assert!(lib.contains("#[doc(hidden)]\npub mod testing {"), "{lib}");
}

/// Test helpers (`SampleLoop`) exist only under the `testing` feature, which only the
/// crate's dev-dependency on itself turns on: a release build never has them.
#[test]
fn test_helpers_are_not_in_a_release_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml_edit::DocumentMut = fs_err::read_to_string(root.join("Cargo.toml"))
        .expect("read Cargo.toml")
        .parse()
        .expect("Cargo.toml parses");
    let features = manifest["features"].as_table().expect("[features]");
    assert!(features.contains_key("testing"), "{features}");
    let default = features
        .get("default")
        .and_then(|item| item.as_array())
        .map(|array| array.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(
        !default.contains(&"testing"),
        "testing is a default feature"
    );
    let own = &manifest["dev-dependencies"]["ralph-hook"];
    assert!(
        own["features"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("testing"))),
        "the dev-dependency on the crate itself turns on `testing`"
    );
    let engine = fs_err::read_to_string(root.join("src/engine/mod.rs")).expect("read");
    assert!(
        engine.contains("#[cfg(any(test, feature = \"testing\"))]\npub mod sample;"),
        "the sample loop module is compiled only for tests"
    );
    let sample = fs_err::read_to_string(root.join("src/engine/state.rs")).expect("read");
    assert!(
        !sample.contains("struct SampleLoop"),
        "SampleLoop lives in engine::sample"
    );
}
