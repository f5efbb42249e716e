//! GitHub's own request and response schemas for the endpoints the fake implements, and a
//! validator for the JSON-Schema subset they use.
//!
//! `github-schemas.json` is extracted from the official OpenAPI description by
//! `scripts/extract-github-schema.py` (run it again to move to a newer version). Request bodies are
//! checked before a request is applied, as GitHub does; responses are checked after they are built,
//! so that a payload of the fake that drifts from GitHub's shape shows up in
//! `FakeGitHub::response_violations`.

use std::sync::OnceLock;

use serde_json::Value;

/// Every schema keyword the validator understands. `default` and `discriminator` are annotations
/// (the `oneOf` next to a discriminator does the real work), `format` is checked for `date-time`,
/// `uri` and `email` and ignored otherwise, as JSON Schema allows.
pub const KEYWORDS: &[&str] = &[
    "$ref",
    "additionalProperties",
    "allOf",
    "anyOf",
    "default",
    "discriminator",
    "enum",
    "format",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "nullable",
    "oneOf",
    "properties",
    "required",
    "type",
];

/// The extracted schema document, parsed once per test process.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(include_str!("github-schemas.json")).expect(
            "tests/support/fake_github/github-schemas.json is not valid JSON; regenerate it",
        )
    })
}

/// The keywords the extracted schemas use (written by the extraction script).
pub fn used_keywords() -> Vec<String> {
    document()["keywords"]
        .as_array()
        .map(|k| {
            k.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The endpoints the extraction script extracted (its ENDPOINTS list).
pub fn extracted_endpoints() -> Vec<String> {
    document()["endpoints"]
        .as_array()
        .map(|k| {
            k.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a request body against the schema of `endpoint` ("POST /repos/{owner}/{repo}/issues").
/// A missing body counts as `{}`, which is how GitHub reports missing required fields. Returns
/// GitHub's wording of the first problem found (without the "Invalid request." prefix).
pub fn check_request(endpoint: &str, body: Option<&Value>) -> Result<(), String> {
    let Some(entry) = document()["requests"].get(endpoint) else {
        return Ok(());
    };
    let empty = Value::Object(Default::default());
    let body = body.unwrap_or(&empty);
    Validator::new().check(&entry["schema"], body, "")
}

/// Checks a response body of the fake against GitHub's schema for that endpoint and status.
pub fn check_response(endpoint: &str, status: u16, body: &Value) -> Result<(), String> {
    let Some(schema) = document()["responses"]
        .get(endpoint)
        .and_then(|r| r.get(status.to_string()))
    else {
        return Ok(());
    };
    Validator::new().check(schema, body, "")
}

/// True when the extract has a schema for this endpoint's request body.
pub fn has_request_schema(endpoint: &str) -> bool {
    document()["requests"].get(endpoint).is_some()
}

struct Validator<'a> {
    components: &'a Value,
}

impl<'a> Validator<'a> {
    fn new() -> Self {
        Validator {
            components: &document()["components"],
        }
    }

    /// Validates `value` at JSON location `at` ("" for the root, "labels/0" below it).
    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let Some(schema) = schema.as_object() else {
            // `true`/`false` schemas (used by additionalProperties).
            return if schema == &Value::Bool(false) {
                Err(format!("{}is not permitted.", place(at)))
            } else {
                Ok(())
            };
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return self.check(self.resolve(reference)?, value, at);
        }
        if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return Ok(());
        }
        if let Some(types) = schema.get("type") {
            let names: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !names.iter().any(|t| has_type(value, t)) {
                return Err(format!(
                    "{}{} is not {}.",
                    place(at),
                    show(value),
                    article(&names.join(" or "))
                ));
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            let list: Vec<String> = options.iter().map(show).collect();
            return Err(format!(
                "{}{} is not a member of [{}].",
                place(at),
                show(value),
                list.join(", ")
            ));
        }
        match value {
            Value::Object(map) => self.check_object(schema, map, at)?,
            Value::Array(items) => {
                let len = items.len() as u64;
                if number(schema, "minItems").is_some_and(|min| len < min) {
                    return Err(format!(
                        "{}must have at least {} item(s).",
                        place(at),
                        schema["minItems"]
                    ));
                }
                if number(schema, "maxItems").is_some_and(|max| len > max) {
                    return Err(format!(
                        "{}must have at most {} item(s).",
                        place(at),
                        schema["maxItems"]
                    ));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &join(at, &i.to_string()))?;
                    }
                }
            }
            Value::String(text) => {
                let len = text.chars().count() as u64;
                if number(schema, "minLength").is_some_and(|min| len < min) {
                    let min = &schema["minLength"];
                    return Err(format!(
                        "{}{} is too short (minimum is {min} characters).",
                        place(at),
                        show(value)
                    ));
                }
                if number(schema, "maxLength").is_some_and(|max| len > max) {
                    let max = &schema["maxLength"];
                    return Err(format!(
                        "{}{} is too long (maximum is {max} characters).",
                        place(at),
                        show(value)
                    ));
                }
                let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
                if !format_ok(format, text) {
                    return Err(format!(
                        "{}{} is not a valid {format}.",
                        place(at),
                        show(value)
                    ));
                }
            }
            Value::Number(n) => {
                let v = n.as_f64().unwrap_or(0.0);
                if schema
                    .get("minimum")
                    .and_then(Value::as_f64)
                    .is_some_and(|min| v < min)
                {
                    return Err(format!(
                        "{}{n} is less than the minimum of {}.",
                        place(at),
                        schema["minimum"]
                    ));
                }
                if schema
                    .get("maximum")
                    .and_then(Value::as_f64)
                    .is_some_and(|max| v > max)
                {
                    return Err(format!(
                        "{}{n} is greater than the maximum of {}.",
                        place(at),
                        schema["maximum"]
                    ));
                }
            }
            _ => {}
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, value, at)?;
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            let errors: Vec<String> = any
                .iter()
                .filter_map(|s| self.check(s, value, at).err())
                .collect();
            if errors.len() == any.len() {
                return Err(format!(
                    "{}no subschema in \"anyOf\" matched: {}",
                    place(at),
                    errors.join(" / ")
                ));
            }
        }
        if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
            if let Some(target) = self.discriminated(schema, value) {
                return self.check(target, value, at);
            }
            let mut errors = Vec::new();
            let mut matched = 0;
            for sub in one {
                match self.check(sub, value, at) {
                    Ok(()) => matched += 1,
                    Err(e) => errors.push(e),
                }
            }
            if matched == 0 {
                return Err(format!(
                    "{}no subschema in \"oneOf\" matched: {}",
                    place(at),
                    errors.join(" / ")
                ));
            }
            if matched > 1 {
                return Err(format!(
                    "{}more than one subschema in \"oneOf\" matched.",
                    place(at)
                ));
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        schema: &serde_json::Map<String, Value>,
        map: &serde_json::Map<String, Value>,
        at: &str,
    ) -> Result<(), String> {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    return Err(format!("{}\"{key}\" wasn't supplied.", place(at)));
                }
            }
        }
        let len = map.len() as u64;
        if number(schema, "maxProperties").is_some_and(|max| len > max) {
            return Err(format!(
                "{}has more than {} properties.",
                place(at),
                schema["maxProperties"]
            ));
        }
        if number(schema, "minProperties").is_some_and(|min| len < min) {
            return Err(format!(
                "{}has fewer than {} properties.",
                place(at),
                schema["minProperties"]
            ));
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in map {
            let sub = join(at, key);
            match properties.and_then(|p| p.get(key)) {
                Some(prop) => self.check(prop, item, &sub)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{}\"{key}\" is not a permitted key.", place(at)));
                    }
                    Some(extra @ Value::Object(_)) => self.check(extra, item, &sub)?,
                    _ => {}
                },
            }
        }
        Ok(())
    }

    /// The branch a discriminator selects for an object value, if it selects one.
    fn discriminated(
        &self,
        schema: &serde_json::Map<String, Value>,
        value: &Value,
    ) -> Option<&'a Value> {
        let discriminator = schema.get("discriminator")?;
        let property = discriminator.get("propertyName")?.as_str()?;
        let tag = value.as_object()?.get(property)?.as_str()?;
        let reference = discriminator.get("mapping")?.get(tag)?.as_str()?;
        self.resolve(reference).ok()
    }

    fn resolve(&self, reference: &str) -> Result<&'a Value, String> {
        reference
            .strip_prefix("#/components/")
            .and_then(|name| self.components.get(name))
            .ok_or_else(|| format!("the schema extract has no {reference}; regenerate it"))
    }
}

fn number(schema: &serde_json::Map<String, Value>, keyword: &str) -> Option<u64> {
    schema.get(keyword).and_then(Value::as_u64)
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn format_ok(format: &str, text: &str) -> bool {
    match format {
        "date-time" => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        "uri" => {
            let scheme = text.split(':').next().unwrap_or("");
            text.contains(':')
                && !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !text.contains(char::is_whitespace)
        }
        "email" => text.contains('@') && !text.contains(char::is_whitespace),
        _ => true,
    }
}

/// GitHub names the place of a problem as "For 'properties/title', …".
fn place(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!("For '{at}', ")
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}/{key}")
    }
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

/// A short rendering of a JSON value for messages.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}
