//! Parsing the YAML and applying `OUTCRY__...` environment overrides to it.

use super::*;

/// Parses YAML text into a config; an empty document is the defaults. Parsed from the text,
/// not from a `Value`, so that a scalar where a string is wanted is read as its text.
pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    let doc = serde_yaml_ng::Deserializer::from_str(text);
    let config: Option<Config> = serde_path_to_error::deserialize(doc).map_err(parse_error)?;
    Ok(config.unwrap_or_default())
}

pub(super) fn parse_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> ConfigError {
    let path = e.path().to_string();
    ConfigError::Parse(format!("{path}: {}", e.into_inner()))
}

/// Maps whose values are all strings, whatever their keys: an override of an entry is taken
/// as it is. `#` stands for a list index.
const STRING_MAPS: &[&[&str]] = &[
    &["kafka", "properties"],
    &["notifier", "webhooks", "#", "headers"],
];

/// Maps whose keys match whatever their case (HTTP header names): an override replaces the
/// entry the file spells otherwise instead of adding a second one.
const CASELESS_MAPS: &[&[&str]] = &[&["notifier", "webhooks", "#", "headers"]];

/// Whether the path of a section matches a pattern of [`STRING_MAPS`] or [`CASELESS_MAPS`].
fn section_is(pattern: &[&str], section: &[String]) -> bool {
    pattern.len() == section.len()
        && pattern.iter().zip(section).all(|(p, s)| {
            if *p == "#" {
                s.parse::<usize>().is_ok()
            } else {
                p == s
            }
        })
}

pub(super) fn apply_override(
    doc: &mut serde_yaml_ng::Value,
    var: &str,
    value: &str,
) -> Result<(), ConfigError> {
    use serde_yaml_ng::Value;
    let env_err = |reason: &str| ConfigError::Env {
        var: var.to_string(),
        reason: reason.to_string(),
    };
    let path: Vec<String> = var[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(env_err("empty path segment"));
    }
    let parsed = || {
        let parsed: Value = serde_yaml_ng::from_str(value).unwrap_or(Value::String(value.into()));
        match parsed {
            Value::Null
                if !value.trim().is_empty() && value.trim() != "null" && value.trim() != "~" =>
            {
                Value::String(value.into())
            }
            other => other,
        }
    };
    let (section, _) = path.split_at(path.len() - 1);
    let in_string_map = STRING_MAPS.iter().any(|m| section_is(m, section));
    let caseless = CASELESS_MAPS.iter().any(|m| section_is(m, section));
    let mut node = doc;
    for (i, key) in path.iter().enumerate() {
        if let Value::Sequence(list) = node {
            let len = list.len();
            let entry = key
                .parse::<usize>()
                .ok()
                .and_then(|index| list.get_mut(index))
                .ok_or_else(|| {
                    env_err(&format!(
                        "{key:?} is not an entry of a list of {len} (numbered from 0): the file must have the entry"
                    ))
                })?;
            if i + 1 == path.len() {
                *entry = parsed();
                return Ok(());
            }
            node = entry;
            continue;
        }
        let Value::Mapping(map) = node else {
            return Err(env_err(
                "the path goes through a value that is not a section",
            ));
        };
        // the variable's name is upper case: match the key the file spelt
        let existing = caseless
            .then(|| {
                map.keys()
                    .filter_map(Value::as_str)
                    .find(|k| k.eq_ignore_ascii_case(key))
                    .map(str::to_string)
            })
            .flatten();
        let key = Value::String(existing.unwrap_or_else(|| key.clone()));
        if i + 1 == path.len() {
            // where a string is wanted the text is the value, even when it reads as a number
            let wants_string = in_string_map || matches!(map.get(&key), Some(Value::String(_)));
            let value = if wants_string {
                Value::String(value.into())
            } else {
                parsed()
            };
            map.insert(key, value);
            return Ok(());
        }
        node = map
            .entry(key)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
    Ok(())
}
