//! Loading a TOML config file with `QMQ_<SECTION>_<KEY>` environment overrides.
//!
//! The file is read into a TOML table, environment variables are laid over it, and only then is
//! it deserialized, so an override is checked exactly like a value from the file.

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::config::ConfigError;

/// Reads `path` (or starts empty), applies the environment overrides, and deserializes.
///
/// # Errors
/// The file cannot be read or parsed, or a value has the wrong type.
pub fn load<T: DeserializeOwned>(path: Option<&Path>) -> Result<T, ConfigError> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            text.parse::<Table>().map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?
        }
        None => Table::new(),
    };
    apply_env(
        &mut table,
        std::env::vars().filter(|(name, _)| is_section_override(name)),
    );
    let shown = path.map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string());
    Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::File {
            path: shown,
            reason: e.to_string(),
        })
}

/// The sections environment variables may override; other `QMQ_*` variables (a client's
/// `QMQ_META`, a script's own flags) are not the server's and are ignored.
pub const SECTIONS: [&str; 6] = ["SERVER", "NET", "META", "BROKER", "DELAY", "WATCHDOG"];

fn is_section_override(name: &str) -> bool {
    name.strip_prefix("QMQ_")
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(section, _)| SECTIONS.contains(&section))
}

/// Lays `QMQ_<SECTION>_<KEY>=value` variables over `table` (section and key lower-cased; the
/// key keeps its underscores). Values parse as TOML scalars when they can, else as strings.
pub fn apply_env(table: &mut Table, vars: impl Iterator<Item = (String, String)>) {
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix("QMQ_") else {
            continue;
        };
        let Some((section, key)) = rest.split_once('_') else {
            continue;
        };
        if section.is_empty() || key.is_empty() {
            continue;
        }
        let value = parse_scalar(&raw);
        let section = table
            .entry(section.to_ascii_lowercase())
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(section) = section {
            section.insert(key.to_ascii_lowercase(), value);
        }
    }
}

fn parse_scalar(raw: &str) -> Value {
    if let Ok(v) = raw.parse::<i64>() {
        return Value::Integer(v);
    }
    if let Ok(v) = raw.parse::<bool>() {
        return Value::Boolean(v);
    }
    if let Ok(v) = raw.parse::<f64>() {
        return Value::Float(v);
    }
    Value::String(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_values() {
        let mut table: Table = "[broker]\nport = 1\nname = \"a\"\n".parse().unwrap();
        apply_env(
            &mut table,
            [
                ("QMQ_BROKER_PORT".to_owned(), "2".to_owned()),
                ("QMQ_META_ADVERTISED_HOST".to_owned(), "10.0.0.1".to_owned()),
                ("OTHER".to_owned(), "x".to_owned()),
            ]
            .into_iter(),
        );
        assert_eq!(table["broker"]["port"].as_integer(), Some(2));
        assert_eq!(table["broker"]["name"].as_str(), Some("a"));
        assert_eq!(table["meta"]["advertised_host"].as_str(), Some("10.0.0.1"));
    }

    #[test]
    fn only_server_sections_are_overridden() {
        assert!(is_section_override("QMQ_BROKER_PORT"));
        assert!(is_section_override("QMQ_SERVER_DATA_DIR"));
        assert!(!is_section_override("QMQ_C_SKIP_VALGRIND"));
        assert!(!is_section_override("QMQ_META"));
        assert!(!is_section_override("PATH"));
    }
}
