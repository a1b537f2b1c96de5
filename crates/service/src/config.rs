//! Per-service configuration sections: `[metering]` in the TOML file, overridden by
//! `SOUK_METERING__<KEY>` variables (`__` also separates nested keys). A section is a
//! `Deserialize + Default` struct with `deny_unknown_fields`, so a misspelt key fails start-up
//! with its name instead of being ignored.

use anyhow::Context;
use serde::de::DeserializeOwned;

/// The environment prefix of section `name`: `SOUK_METERING__`.
pub fn env_prefix(name: &str) -> String {
    format!("SOUK_{}__", name.to_ascii_uppercase())
}

/// Section `name` of the configuration: the file's table (if any), then every variable of
/// `vars` under [`env_prefix`]. Values from the environment are read as TOML values when they
/// parse as one (`30`, `true`) and as strings otherwise (`15s`, `https://…`).
pub fn section<T: DeserializeOwned>(
    name: &str,
    file: Option<toml::Table>,
    vars: &[(String, String)],
) -> anyhow::Result<T> {
    let prefix = env_prefix(name);
    let mut table = file.unwrap_or_default();
    for (var, raw) in vars {
        let Some(path) = var.strip_prefix(&prefix) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        insert(&mut table, &keys, env_value(raw))
            .with_context(|| format!("{var} does not fit the [{name}] section"))?;
    }
    toml::Value::Table(table)
        .try_into()
        .with_context(|| format!("invalid [{name}] settings (file or {prefix}* variables)"))
}

fn env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn insert(table: &mut toml::Table, keys: &[String], value: toml::Value) -> anyhow::Result<()> {
    match keys {
        [] => anyhow::bail!("no key after the prefix"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => insert(inner, rest, value),
                _ => anyhow::bail!("{first} is not a table"),
            }
        }
    }
}

/// Deserializes a duration written `"500ms"`, `"15s"`, `"2m"`, `"1h"` or as whole seconds;
/// use with `#[serde(deserialize_with = "souk_service::config::duration")]`.
pub fn duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::time::Duration, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Seconds(seconds) => Ok(std::time::Duration::from_secs(seconds)),
        Raw::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses `"500ms"`, `"15s"`, `"2m"` or `"1h"`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let reason = || format!("{text:?} is not a duration like \"500ms\", \"15s\", \"2m\" or \"1h\"");
    let number: u64 = number.parse().map_err(|_| reason())?;
    let millis = match unit {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(reason)?;
    Ok(std::time::Duration::from_millis(millis))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Shipper {
        batch: u32,
        enabled: bool,
        url: String,
        #[serde(deserialize_with = "duration")]
        interval: std::time::Duration,
        nested: Nested,
    }

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Nested {
        depth: i64,
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_overrides_the_file_with_typed_values() {
        let file: toml::Table = toml::from_str("batch = 10\ninterval = \"2m\"").unwrap();
        let got: Shipper = section(
            "metering",
            Some(file),
            &vars(&[
                ("SOUK_METERING__ENABLED", "true"),
                ("SOUK_METERING__URL", "https://x.example/y"),
                ("SOUK_METERING__NESTED__DEPTH", "3"),
                ("SOUK_OFFER__BATCH", "99"),
            ]),
        )
        .unwrap();
        assert_eq!(got.batch, 10);
        assert!(got.enabled);
        assert_eq!(got.url, "https://x.example/y");
        assert_eq!(got.interval, std::time::Duration::from_secs(120));
        assert_eq!(got.nested.depth, 3);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = section::<Shipper>("metering", None, &vars(&[("SOUK_METERING__BACH", "1")]))
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("invalid [metering] settings"), "{text}");
        assert!(text.contains("unknown field `bach`"), "{text}");
        assert_eq!(
            parse_duration("15x").unwrap_err(),
            "\"15x\" is not a duration like \"500ms\", \"15s\", \"2m\" or \"1h\""
        );
        assert_eq!(
            parse_duration("500ms").unwrap(),
            std::time::Duration::from_millis(500)
        );
    }
}
