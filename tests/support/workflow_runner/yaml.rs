//! Workflow and action files as JSON values (YAML 1.2 through yaml-rust2: `on` is a string key,
//! `true`/`false` are booleans, quoted scalars stay strings), and checks that a mapping holds
//! only the keys the runner understands.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Parses the first document of a YAML file.
pub fn load(text: &str, what: &str) -> Result<Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{what}: invalid YAML: {e}"))?;
    let doc = docs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{what}: an empty file"))?;
    to_json(&doc).map_err(|e| format!("{what}: {e}"))
}

fn to_json(y: &Yaml) -> Result<Value, String> {
    Ok(match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number(Number::from(*i)),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(r.clone()), Value::Number),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => return Err(format!("a mapping key that is not a string: {other:?}")),
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".into()),
        Yaml::BadValue => return Err("a bad YAML value".into()),
    })
}

/// Fails when `node` (a mapping, or null) has a key outside `known`.
pub fn check_keys(node: &Value, known: &[&str], what: &str) -> Result<(), String> {
    match node {
        Value::Null => Ok(()),
        Value::Object(map) => {
            for key in map.keys() {
                if !known.contains(&key.as_str()) {
                    return Err(format!(
                        "{what}: `{key}` is not supported by the workflow runner (known: {})",
                        known.join(", ")
                    ));
                }
            }
            Ok(())
        }
        other => Err(format!("{what}: expected a mapping, found {other}")),
    }
}

/// The entries of a mapping (none for null).
pub fn entries(node: &Value) -> Vec<(String, Value)> {
    match node {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

/// A scalar as text (`None` for null, arrays and mappings).
pub fn scalar(node: &Value) -> Option<String> {
    match node {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(super::expr::to_string(&Value::Number(n.clone()))),
        _ => None,
    }
}

/// `needs: a` or `needs: [a, b]`.
pub fn string_list(node: &Value) -> Vec<String> {
    match node {
        Value::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}
