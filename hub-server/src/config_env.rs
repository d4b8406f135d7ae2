//! The environment's part of the config: `SIGNAL_HUB_<KEY>` variables
//! that are lists written `a,b`, and variables under the prefix that are
//! no key (a warning for the server, an error for `check-config`), with
//! the key most likely meant.

use figment::value::Value;

use crate::config::{known_keys, ServerConfig, ENV_PREFIX};

/// List keys set by a `SIGNAL_HUB_*` variable as `a,b` rather than
/// `["a","b"]`: the way lists are written in an environment.
pub(crate) fn comma_lists() -> Vec<(String, Vec<String>)> {
    let Ok(Value::Dict(_, defaults)) = Value::serialize(ServerConfig::default()) else {
        return Vec::new();
    };
    std::env::vars()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
            let is_list = matches!(defaults.get(&key), Some(Value::Array(..)));
            (is_list && !value.trim_start().starts_with('[')).then(|| {
                let items = value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect();
                (key, items)
            })
        })
        .collect()
}

/// Variables named `SIGNAL_HUB_*` that are not a config key (nor
/// `SIGNAL_HUB_CONFIG`): ignored by [`ServerConfig::load`], and worth a
/// warning, since one of them may be a typo.
pub fn unknown_env_vars() -> Vec<String> {
    let known = known_keys();
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            name.strip_prefix(ENV_PREFIX).is_some_and(|key| {
                let key = key.to_ascii_lowercase();
                key != "config" && !known.contains(&key)
            })
        })
        .collect()
}

/// `name` (a `SIGNAL_HUB_*` variable that is no key) with the variable
/// it most likely meant, if one is close.
pub fn stranger_with_suggestion(name: &str) -> String {
    let key = name
        .strip_prefix(ENV_PREFIX)
        .unwrap_or(name)
        .to_ascii_lowercase();
    let nearest = known_keys()
        .into_iter()
        .map(|k| (strsim::jaro_winkler(&key, &k), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match nearest {
        Some((_, k)) => format!(
            "{name}: not a config key (did you mean {ENV_PREFIX}{}?)",
            k.to_ascii_uppercase()
        ),
        None => format!("{name}: not a config key (see hub-server --print-config)"),
    }
}
