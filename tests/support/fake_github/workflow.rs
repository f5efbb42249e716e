//! What the fake reads from a workflow file, as GitHub does on `workflow_dispatch`: the name, the
//! `run-name` (rendered into the run's `display_title`) and the declared dispatch inputs (unknown
//! or missing required inputs are refused with 422).

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

#[derive(Clone, Debug, Default)]
pub struct Workflow {
    pub name: Option<String>,
    pub run_name: Option<String>,
    /// `None` when the workflow has no `workflow_dispatch` trigger.
    pub dispatch_inputs: Option<BTreeMap<String, Input>>,
}

#[derive(Clone, Debug, Default)]
pub struct Input {
    pub required: bool,
    pub default: Option<String>,
    /// `string` (the default), `boolean`, `choice`, `number` or `environment`.
    pub kind: String,
    pub options: Vec<String>,
}

impl Workflow {
    /// Parses a workflow file; `Err` carries the YAML error (GitHub refuses to dispatch then).
    pub fn parse(text: &str) -> Result<Workflow, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
        let doc = docs.into_iter().next().unwrap_or(Yaml::Null);
        let name = scalar(&doc["name"]);
        let run_name = scalar(&doc["run-name"]);
        let on = &doc["on"];
        let dispatch_inputs = match on {
            Yaml::String(event) => (event == "workflow_dispatch").then(BTreeMap::new),
            Yaml::Array(events) => events
                .iter()
                .any(|e| e.as_str() == Some("workflow_dispatch"))
                .then(BTreeMap::new),
            Yaml::Hash(_) => {
                let trigger = &on["workflow_dispatch"];
                if trigger.is_badvalue() {
                    None
                } else {
                    Some(inputs(&trigger["inputs"]))
                }
            }
            _ => None,
        };
        Ok(Workflow {
            name,
            run_name,
            dispatch_inputs,
        })
    }

    /// The run's name: the workflow's `name:`, or its path when it has none (as GitHub shows it).
    pub fn display_name(&self, path: &str) -> String {
        self.name.clone().unwrap_or_else(|| path.to_string())
    }

    /// The `display_title` of a run dispatched with `inputs`: the `run-name` with expressions
    /// evaluated, or the workflow's name when there is no `run-name`.
    pub fn display_title(
        &self,
        path: &str,
        inputs: &BTreeMap<String, String>,
        ctx: &Context,
    ) -> String {
        match &self.run_name {
            Some(template) => {
                let mut values = BTreeMap::new();
                if let Some(declared) = &self.dispatch_inputs {
                    for (name, input) in declared {
                        if let Some(default) = &input.default {
                            values.insert(name.clone(), default.clone());
                        }
                    }
                }
                values.extend(inputs.iter().map(|(k, v)| (k.clone(), v.clone())));
                render(template, &values, ctx)
            }
            None => self.display_name(path),
        }
    }
}

/// The `github` context values a `run-name` may use.
pub struct Context {
    pub actor: String,
    pub ref_name: String,
    pub repository: String,
    pub workflow: String,
}

fn inputs(node: &Yaml) -> BTreeMap<String, Input> {
    let mut out = BTreeMap::new();
    if let Some(hash) = node.as_hash() {
        for (key, spec) in hash {
            let Some(name) = scalar(key) else { continue };
            let options = spec["options"]
                .as_vec()
                .map(|v| v.iter().filter_map(scalar).collect())
                .unwrap_or_default();
            out.insert(
                name,
                Input {
                    required: spec["required"].as_bool().unwrap_or(false),
                    default: scalar(&spec["default"]),
                    kind: scalar(&spec["type"]).unwrap_or_else(|| "string".into()),
                    options,
                },
            );
        }
    }
    out
}

fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Replaces `${{ expr }}` in a `run-name`. Understood: `inputs.NAME`, `github.event.inputs.NAME`,
/// `github.actor`, `github.ref_name`, `github.repository`, `github.workflow`, `github.event_name`,
/// and string literals. A missing input renders as '' (as in Actions); any other expression stays
/// as written, so that a test sees it was not understood.
pub fn render(template: &str, inputs: &BTreeMap<String, String>, ctx: &Context) -> String {
    use crate::support::workflow_runner::expr::{Scope, evaluate_string, object};
    use serde_json::Value;
    let inputs_value = Value::Object(
        inputs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    );
    let github = object([
        ("actor", Value::String(ctx.actor.clone())),
        ("triggering_actor", Value::String(ctx.actor.clone())),
        ("ref_name", Value::String(ctx.ref_name.clone())),
        ("repository", Value::String(ctx.repository.clone())),
        ("workflow", Value::String(ctx.workflow.clone())),
        ("event_name", Value::String("workflow_dispatch".into())),
        ("event", object([("inputs", inputs_value.clone())])),
    ]);
    let scope = Scope::new()
        .with("inputs", inputs_value)
        .with("github", github);
    // The same expression language as the workflow runner of the tests; what it cannot
    // evaluate stays as written, as GitHub shows a run-name it could not render.
    evaluate_string(template, &scope).unwrap_or_else(|_| template.to_string())
}
