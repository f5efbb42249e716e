//! GraphQL at `/graphql` (GHES: `/api/graphql`): the mutations that change a pull request's draft
//! state (REST cannot), `viewer`, and GitHub's error objects for everything else.
//!
//! A small parser for the query language subset clients send for these: operation type and name,
//! variable definitions (skipped; values come from `variables`), fields with aliases, arguments
//! (variables, strings, numbers, booleans, null, enums, objects, lists) and selection sets.

use serde_json::{Map, Value, json};

use super::payloads::Urls;
use super::server::{Inner, Response, Token};

pub(crate) fn handle(
    inner: &mut Inner,
    urls: &Urls,
    token: &Token,
    body: Option<&Value>,
) -> Response {
    let Some(query) = body.and_then(|b| b.get("query")).and_then(Value::as_str) else {
        let message = "A query attribute must be specified and must be a string.";
        return Response::json(200, json!({"errors": [{"message": message}]}));
    };
    let variables = body
        .and_then(|b| b.get("variables"))
        .cloned()
        .unwrap_or(Value::Null);
    let op = match Parser::new(query).operation() {
        Ok(op) => op,
        Err((message, line, column)) => {
            let error =
                json!({"message": message, "locations": [{"line": line, "column": column}]});
            return Response::json(200, json!({"errors": [error]}));
        }
    };
    // Like GitHub, validate the whole document before executing any of it.
    for field in &op.fields {
        if let Err(error) = validate(&op.kind, field, &variables) {
            return Response::json(200, json!({"errors": [error]}));
        }
    }
    let mut data = Map::new();
    let mut errors = Vec::new();
    for field in &op.fields {
        let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
        let value = if field.name == "viewer" {
            viewer(inner, urls, token, field)
        } else {
            match draft_mutation(inner, urls, field, &variables) {
                Ok(v) => v,
                Err(error) => {
                    errors.push(error);
                    Value::Null
                }
            }
        };
        data.insert(key, value);
    }
    let mut body = json!({"data": data});
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    Response::json(200, body)
}

/// The payload type of a draft mutation.
fn payload_type(mutation: &str) -> &'static str {
    if mutation == "convertPullRequestToDraft" {
        "ConvertPullRequestToDraftPayload"
    } else {
        "MarkPullRequestReadyForReviewPayload"
    }
}

const PULL_FIELDS: &[&str] = &[
    "id",
    "isDraft",
    "number",
    "title",
    "state",
    "url",
    "permalink",
    "__typename",
];
const USER_FIELDS: &[&str] = &["login", "id", "databaseId", "url", "__typename"];

/// GitHub's error for a field, argument or input the schema does not have.
fn validate(kind: &str, field: &Field, variables: &Value) -> Result<(), Value> {
    let known = |sub: &Field, names: &[&str], type_name: &str| -> Result<(), Value> {
        if names.contains(&sub.name.as_str()) {
            Ok(())
        } else {
            Err(undefined_field(kind, sub, type_name))
        }
    };
    match (kind, field.name.as_str()) {
        ("mutation", "markPullRequestReadyForReview" | "convertPullRequestToDraft") => {
            let input = field
                .args
                .get("input")
                .map(|v| resolve(v, variables))
                .unwrap_or(Value::Null);
            if input.get("pullRequestId").and_then(Value::as_str).is_none() {
                let input_type = format!(
                    "{}Input",
                    payload_type(&field.name).trim_end_matches("Payload")
                );
                return Err(json!({
                    "path": [kind, field.name, "input", "pullRequestId"],
                    "extensions": {
                        "code": "missingRequiredInputObjectAttribute",
                        "argumentName": "pullRequestId",
                        "argumentType": "ID!",
                        "inputObjectType": input_type
                    },
                    "locations": [{"line": field.line, "column": field.column}],
                    "message": format!(
                        "Argument 'pullRequestId' on InputObject '{input_type}' is required. Expected type ID!"
                    )
                }));
            }
            for sub in &field.selection {
                known(
                    sub,
                    &["pullRequest", "clientMutationId", "__typename"],
                    payload_type(&field.name),
                )?;
                for leaf in &sub.selection {
                    known(leaf, PULL_FIELDS, "PullRequest")?;
                }
            }
            Ok(())
        }
        ("query", "viewer") => field
            .selection
            .iter()
            .try_for_each(|sub| known(sub, USER_FIELDS, "User")),
        ("mutation", _) => Err(undefined_field(kind, field, "Mutation")),
        _ => Err(undefined_field(kind, field, "Query")),
    }
}

fn undefined_field(kind: &str, field: &Field, type_name: &str) -> Value {
    json!({
        "path": [kind, field.name],
        "extensions": {"code": "undefinedField", "typeName": type_name, "fieldName": field.name},
        "locations": [{"line": field.line, "column": field.column}],
        "message": format!("Field '{}' doesn't exist on type '{type_name}'", field.name)
    })
}

/// `markPullRequestReadyForReview` / `convertPullRequestToDraft` (validated already).
fn draft_mutation(
    inner: &mut Inner,
    urls: &Urls,
    field: &Field,
    variables: &Value,
) -> Result<Value, Value> {
    let draft = field.name == "convertPullRequestToDraft";
    let input = field
        .args
        .get("input")
        .map(|v| resolve(v, variables))
        .unwrap_or(Value::Null);
    let id = input["pullRequestId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((number, title, state, html)) = set_draft(inner, urls, &id, draft) else {
        return Err(json!({
            "type": "NOT_FOUND",
            "path": [field.alias.clone().unwrap_or_else(|| field.name.clone())],
            "locations": [{"line": field.line, "column": field.column}],
            "message": format!("Could not resolve to a node with the global id of '{id}'.")
        }));
    };
    let pr = PullView {
        id: &id,
        number,
        title: &title,
        state: &state,
        url: &html,
        draft,
    };
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "pullRequest" => pr.select(&sub.selection),
            "clientMutationId" => input
                .get("clientMutationId")
                .cloned()
                .unwrap_or(Value::Null),
            _ => json!(payload_type(&field.name)),
        };
        out.insert(sub.alias.clone().unwrap_or_else(|| sub.name.clone()), value);
    }
    Ok(Value::Object(out))
}

fn viewer(inner: &mut Inner, urls: &Urls, token: &Token, field: &Field) -> Value {
    let user = inner.state.user(&token.login);
    let mut out = Map::new();
    for sub in &field.selection {
        let value = match sub.name.as_str() {
            "login" => json!(user.login),
            "id" => json!(user.node_id),
            "databaseId" => json!(user.id),
            "url" => json!(format!("{}/{}", urls.web, user.login)),
            _ => json!("User"),
        };
        out.insert(sub.alias.clone().unwrap_or_else(|| sub.name.clone()), value);
    }
    Value::Object(out)
}

/// Sets the draft flag of the pull request with this node id; returns what the payload shows.
fn set_draft(
    inner: &mut Inner,
    urls: &Urls,
    node: &str,
    draft: bool,
) -> Option<(u64, String, String, String)> {
    let (key, number) = inner.state.repos.iter().find_map(|(key, repo)| {
        repo.issues
            .values()
            .find(|i| i.pull.as_ref().is_some_and(|p| p.node_id == node))
            .map(|i| (key.clone(), i.number))
    })?;
    let now = inner.state.clock.tick();
    let repo = inner.state.repos.get_mut(&key)?;
    let html = format!("{}/{}/{}/pull/{number}", urls.web, repo.owner, repo.name);
    let issue = repo.issues.get_mut(&number)?;
    let p = issue.pull.as_mut()?;
    p.draft = draft;
    issue.updated_at = now;
    let state = if p.merged {
        "MERGED"
    } else if issue.state == "open" {
        "OPEN"
    } else {
        "CLOSED"
    };
    Some((number, issue.title.clone(), state.into(), html))
}

struct PullView<'a> {
    id: &'a str,
    number: u64,
    title: &'a str,
    state: &'a str,
    url: &'a str,
    draft: bool,
}

impl PullView<'_> {
    /// The selected fields (validated already); `{id isDraft}` when nothing was selected.
    fn select(&self, selection: &[Field]) -> Value {
        let default = [Field::named("id"), Field::named("isDraft")];
        let fields = if selection.is_empty() {
            &default[..]
        } else {
            selection
        };
        let mut out = Map::new();
        for f in fields {
            let value = match f.name.as_str() {
                "id" => json!(self.id),
                "isDraft" => json!(self.draft),
                "number" => json!(self.number),
                "title" => json!(self.title),
                "state" => json!(self.state),
                "url" | "permalink" => json!(self.url),
                _ => json!("PullRequest"),
            };
            out.insert(f.alias.clone().unwrap_or_else(|| f.name.clone()), value);
        }
        Value::Object(out)
    }
}

/// A value with its variables filled in.
fn resolve(value: &Value, variables: &Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("$var") => {
            let name = map["$var"].as_str().unwrap_or_default();
            variables.get(name).cloned().unwrap_or(Value::Null)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, variables)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, variables)).collect()),
        other => other.clone(),
    }
}

#[derive(Clone, Debug)]
struct Field {
    alias: Option<String>,
    name: String,
    /// Argument values; a variable is `{"$var": name}`.
    args: Map<String, Value>,
    selection: Vec<Field>,
    line: usize,
    column: usize,
}

impl Field {
    fn named(name: &str) -> Field {
        Field {
            alias: None,
            name: name.into(),
            args: Map::new(),
            selection: vec![],
            line: 1,
            column: 1,
        }
    }
}

struct Operation {
    kind: String,
    fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Var(String),
    Str(String),
    Num(String),
    Punct(char),
    End,
}

type ParseError = (String, usize, usize);

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
}

impl Parser {
    fn new(text: &str) -> Parser {
        let chars: Vec<char> = text.chars().collect();
        let mut toks = Vec::new();
        let (mut i, mut line, mut col) = (0, 1, 1);
        while i < chars.len() {
            let c = chars[i];
            let (start_line, start_col) = (line, col);
            let advance = |n: usize, i: &mut usize, col: &mut usize| {
                *i += n;
                *col += n;
            };
            match c {
                '\n' => {
                    i += 1;
                    line += 1;
                    col = 1;
                }
                c if c.is_whitespace() || c == ',' || c == '\u{feff}' => {
                    advance(1, &mut i, &mut col)
                }
                '#' => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                }
                '"' => {
                    let block = chars[i..].starts_with(&['"', '"', '"']);
                    let mut s = String::new();
                    if block {
                        advance(3, &mut i, &mut col);
                        while i < chars.len() && !chars[i..].starts_with(&['"', '"', '"']) {
                            if chars[i] == '\n' {
                                line += 1;
                                col = 0;
                            }
                            s.push(chars[i]);
                            advance(1, &mut i, &mut col);
                        }
                        advance(3, &mut i, &mut col);
                    } else {
                        advance(1, &mut i, &mut col);
                        while i < chars.len() && chars[i] != '"' {
                            if chars[i] == '\\' && i + 1 < chars.len() {
                                let e = chars[i + 1];
                                s.push(match e {
                                    'n' => '\n',
                                    't' => '\t',
                                    'r' => '\r',
                                    other => other,
                                });
                                advance(2, &mut i, &mut col);
                            } else {
                                s.push(chars[i]);
                                advance(1, &mut i, &mut col);
                            }
                        }
                        advance(1, &mut i, &mut col);
                    }
                    toks.push((Tok::Str(s), start_line, start_col));
                }
                '$' => {
                    advance(1, &mut i, &mut col);
                    let mut s = String::new();
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        s.push(chars[i]);
                        advance(1, &mut i, &mut col);
                    }
                    toks.push((Tok::Var(s), start_line, start_col));
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let mut s = String::new();
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        s.push(chars[i]);
                        advance(1, &mut i, &mut col);
                    }
                    toks.push((Tok::Name(s), start_line, start_col));
                }
                c if c.is_ascii_digit() || c == '-' => {
                    let mut s = String::new();
                    while i < chars.len()
                        && (chars[i].is_ascii_digit() || "-+.eE".contains(chars[i]))
                    {
                        s.push(chars[i]);
                        advance(1, &mut i, &mut col);
                    }
                    toks.push((Tok::Num(s), start_line, start_col));
                }
                '.' if chars[i..].starts_with(&['.', '.', '.']) => {
                    toks.push((Tok::Punct('.'), start_line, start_col));
                    advance(3, &mut i, &mut col);
                }
                other => {
                    toks.push((Tok::Punct(other), start_line, start_col));
                    advance(1, &mut i, &mut col);
                }
            }
        }
        toks.push((Tok::End, line, col));
        Parser { toks, pos: 0 }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn next(&mut self) -> (Tok, usize, usize) {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error<T>(&self) -> Result<T, ParseError> {
        let (tok, line, col) = &self.toks[self.pos];
        let shown = match tok {
            Tok::Name(s) | Tok::Num(s) => s.clone(),
            Tok::Var(s) => format!("${s}"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::Punct(c) => c.to_string(),
            Tok::End => "end of file".into(),
        };
        Err((
            format!("Parse error on \"{shown}\" at [{line}, {col}]"),
            *line,
            *col,
        ))
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        if self.peek() == &Tok::Punct(c) {
            self.next();
            Ok(())
        } else {
            self.error()
        }
    }

    fn operation(&mut self) -> Result<Operation, ParseError> {
        let kind = match self.peek().clone() {
            Tok::Punct('{') => "query".to_string(),
            Tok::Name(n) if n == "query" || n == "mutation" => {
                self.next();
                if let Tok::Name(_) = self.peek() {
                    self.next();
                }
                if self.peek() == &Tok::Punct('(') {
                    self.skip_balanced('(', ')')?;
                }
                n
            }
            _ => return self.error(),
        };
        let fields = self.selection_set()?;
        if self.peek() != &Tok::End {
            return self.error();
        }
        Ok(Operation { kind, fields })
    }

    fn skip_balanced(&mut self, open: char, close: char) -> Result<(), ParseError> {
        let mut depth = 0;
        loop {
            match self.next().0 {
                Tok::Punct(c) if c == open => depth += 1,
                Tok::Punct(c) if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Tok::End => return self.error(),
                _ => {}
            }
        }
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, ParseError> {
        self.expect('{')?;
        let mut fields = Vec::new();
        while self.peek() != &Tok::Punct('}') {
            fields.push(self.field()?);
        }
        self.expect('}')?;
        if fields.is_empty() {
            return self.error();
        }
        Ok(fields)
    }

    /// The next token when it is a name.
    fn name(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Name(n) => {
                self.next();
                Ok(n)
            }
            _ => self.error(),
        }
    }

    fn field(&mut self) -> Result<Field, ParseError> {
        let (_, line, column) = self.toks[self.pos].clone();
        let first = self.name()?;
        let (alias, name) = if self.peek() == &Tok::Punct(':') {
            self.next();
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        let mut args = Map::new();
        if self.peek() == &Tok::Punct('(') {
            self.next();
            while self.peek() != &Tok::Punct(')') {
                let arg = self.name()?;
                self.expect(':')?;
                args.insert(arg, self.value()?);
            }
            self.expect(')')?;
        }
        let selection = if self.peek() == &Tok::Punct('{') {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Field {
            alias,
            name,
            args,
            selection,
            line,
            column,
        })
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        if self.peek() == &Tok::End {
            return self.error();
        }
        match self.next().0 {
            Tok::Var(v) => Ok(json!({"$var": v})),
            Tok::Str(s) => Ok(Value::String(s)),
            Tok::Num(n) => Ok(n
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| n.parse::<f64>().map(Value::from))
                .unwrap_or(Value::Null)),
            Tok::Name(n) => Ok(match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(n),
            }),
            Tok::Punct('{') => {
                let mut map = Map::new();
                while self.peek() != &Tok::Punct('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    map.insert(k, self.value()?);
                }
                self.expect('}')?;
                Ok(Value::Object(map))
            }
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while self.peek() != &Tok::Punct(']') {
                    items.push(self.value()?);
                }
                self.expect(']')?;
                Ok(Value::Array(items))
            }
            _ => {
                self.pos -= 1;
                self.error()
            }
        }
    }
}
