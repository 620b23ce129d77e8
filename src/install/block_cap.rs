//! Claude Code's cap on consecutive Stop-hook blocks: 8 unless
//! `env.CLAUDE_CODE_STOP_HOOK_BLOCK_CAP` in settings.json says otherwise (measured on
//! Claude Code 2.1.328). A loop longer than the cap would be cut by Claude Code itself.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The settings.json variable that sets the cap.
pub(super) const VARIABLE: &str = "CLAUDE_CODE_STOP_HOOK_BLOCK_CAP";

/// The cap install sets: far above any sensible `--max-iterations`; ralph-hook's own
/// budgets are the real brake.
pub(super) const INSTALLED_CAP: u64 = 1000;

/// Claude Code's cap when the variable is not set.
pub(super) const DEFAULT_CAP: u64 = 8;

/// What install did to the variable, so uninstall can put the user's value back exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CapRaised {
    /// The user's value before install (absent when there was none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<Value>,
    /// Whether install created the `env` object.
    #[serde(default)]
    pub created_env: bool,
}

/// The cap in force according to these settings.
pub(super) fn effective_cap(root: &Value) -> u64 {
    root.get("env")
        .and_then(|env| env.get(VARIABLE))
        .and_then(parse_cap)
        .unwrap_or(DEFAULT_CAP)
}

/// Raises the cap to [`INSTALLED_CAP`] unless the user's value is already at least that.
pub(super) fn raise(root: &mut Value, path: &Path) -> Result<Option<CapRaised>> {
    let object = root.as_object_mut().ok_or_else(|| {
        Error::input(
            path.display().to_string(),
            "the file must hold a JSON object",
        )
    })?;
    let created_env = !object.contains_key("env");
    let env = object
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| {
            Error::input(
                path.display().to_string(),
                "\"env\" must be an object of variables (nothing was changed)",
            )
        })?;
    let original = env.get(VARIABLE).cloned();
    if original
        .as_ref()
        .and_then(parse_cap)
        .is_some_and(|cap| cap >= INSTALLED_CAP)
    {
        return Ok(None);
    }
    env.insert(VARIABLE.into(), Value::String(INSTALLED_CAP.to_string()));
    Ok(Some(CapRaised {
        original,
        created_env,
    }))
}

/// Puts back what [`raise`] replaced, if the value is still the one install set.
pub(super) fn restore(root: &mut Value, raised: &CapRaised) {
    let Some(object) = root.as_object_mut() else {
        return;
    };
    let Some(env) = object.get_mut("env").and_then(Value::as_object_mut) else {
        return;
    };
    if env.get(VARIABLE) != Some(&Value::String(INSTALLED_CAP.to_string())) {
        return;
    }
    match &raised.original {
        Some(original) => {
            env.insert(VARIABLE.into(), original.clone());
        }
        None => {
            env.shift_remove(VARIABLE);
            if env.is_empty() && raised.created_env {
                object.shift_remove("env");
            }
        }
    }
}

fn parse_cap(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error;
    use serde_json::json;

    fn raise_in(mut root: Value) -> (Value, Option<CapRaised>) {
        let raised = raise(&mut root, Path::new("settings.json")).unwrap();
        (root, raised)
    }

    #[test]
    fn a_missing_cap_is_set_and_restored() {
        let before = json!({"model": "x"});
        let (after, raised) = raise_in(before.clone());
        assert_eq!(after, json!({"model": "x", "env": {VARIABLE: "1000"}}));
        let mut back = after;
        restore(&mut back, &raised.unwrap());
        assert_eq!(back, before);
    }

    #[test]
    fn a_lower_user_value_is_raised_and_put_back_exactly() {
        let before = json!({"env": {"A": "1", VARIABLE: 20}});
        let (after, raised) = raise_in(before.clone());
        assert_eq!(after, json!({"env": {"A": "1", VARIABLE: "1000"}}));
        let mut back = after;
        restore(&mut back, &raised.unwrap());
        assert_eq!(back, before);
    }

    #[test]
    fn a_higher_user_value_is_left_alone() {
        let before = json!({"env": {VARIABLE: "5000"}});
        let (after, raised) = raise_in(before.clone());
        assert_eq!(after, before);
        assert_eq!(raised, None);
        assert_eq!(effective_cap(&after), 5000);
    }

    #[test]
    fn a_value_the_user_changed_later_is_not_restored() {
        let mut root = json!({"env": {VARIABLE: "30"}});
        restore(
            &mut root,
            &CapRaised {
                original: None,
                created_env: true,
            },
        );
        assert_eq!(root, json!({"env": {VARIABLE: "30"}}));
    }

    #[test]
    fn env_that_is_not_an_object_is_refused() {
        let mut root = json!({"env": []});
        assert_eq!(
            raise(&mut root, Path::new("s")).unwrap_err().code(),
            error::EXIT_DATA
        );
    }
}
