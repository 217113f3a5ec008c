//! kubectl's `-o jsonpath=TEMPLATE`: text with `{...}` expressions, each a JSONPath query over
//! the object written as kubectl writes it (`{.metadata.name}`, `{.items[*].metadata.name}`),
//! quoted literals (`{"\n"}`), and `{range QUERY}...{end}` loops whose body is rendered for each
//! item. Queries are RFC 9535's, evaluated by serde_json_path; several results of one query are
//! joined by a space, strings printed as they are and anything else as JSON, as kubectl does.

use serde_json::Value;
use serde_json_path::JsonPath;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Query(JsonPath),
    Range(JsonPath, Vec<Part>),
}

impl Template {
    /// Parses a template; the error says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        // The parts of the template, and of each `range` opened and not yet ended.
        let mut stack: Vec<(Option<JsonPath>, Vec<Part>)> = vec![(None, Vec::new())];
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find('{') else {
                push(&mut stack, Part::Text(rest.to_owned()));
                break;
            };
            if open > 0 {
                push(&mut stack, Part::Text(rest[..open].to_owned()));
            }
            let close = closing_brace(&rest[open..])
                .ok_or_else(|| format!("unclosed action in {text:?}"))?;
            let action = rest[open + 1..open + close].trim();
            rest = &rest[open + close + 1..];
            if action == "end" {
                // The bottom of the stack is the template itself, not a range.
                let (Some(query), parts) = stack
                    .pop()
                    .filter(|_| !stack.is_empty())
                    .unwrap_or_default()
                else {
                    return Err(format!("{{end}} without {{range}} in {text:?}"));
                };
                push(&mut stack, Part::Range(query, parts));
            } else if let Some(query) = action.strip_prefix("range ") {
                stack.push((Some(query_of(query)?), Vec::new()));
            } else if action.starts_with('"') {
                let literal: String = serde_json::from_str(action)
                    .map_err(|e| format!("bad string literal {action}: {e}"))?;
                push(&mut stack, Part::Text(literal));
            } else {
                push(&mut stack, Part::Query(query_of(action)?));
            }
        }
        match stack.pop() {
            Some((None, parts)) if stack.is_empty() => Ok(Template(parts)),
            _ => Err(format!("{{range}} without {{end}} in {text:?}")),
        }
    }

    /// The template rendered over `value`.
    pub(crate) fn render(&self, value: &Value) -> String {
        let mut out = String::new();
        render(&self.0, value, &mut out);
        out
    }
}

fn push(stack: &mut [(Option<JsonPath>, Vec<Part>)], part: Part) {
    if let Some((_, parts)) = stack.last_mut() {
        parts.push(part);
    }
}

/// The offset of the `}` closing the action that `text` starts with, skipping quoted strings.
fn closing_brace(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(index),
            _ => {}
        }
    }
    None
}

/// kubectl's query syntax as RFC 9535's: `.a.b` and `[0]` are relative to the object (`$`),
/// and a name that is not a plain identifier (`kubectl\.kubernetes\.io/last-applied-configuration`,
/// with its dots escaped as kubectl wants them) becomes a quoted member name.
fn query_of(action: &str) -> Result<JsonPath, String> {
    let relative = action
        .strip_prefix('$')
        .or_else(|| action.strip_prefix('@'));
    let path = relative.unwrap_or(action);
    let path = if path.starts_with(['.', '[']) || path.is_empty() {
        path.to_owned()
    } else {
        format!(".{path}")
    };
    let query = if path == "." {
        "$".to_owned()
    } else {
        rfc_9535(&path)?
    };
    JsonPath::parse(&query).map_err(|e| format!("bad JSONPath {action:?}: {e}"))
}

/// `path` (kubectl's, starting with `.` or `[`) in RFC 9535's syntax.
fn rfc_9535(path: &str) -> Result<String, String> {
    let mut out = String::from("$");
    let mut name = String::new();
    let mut descendant = false;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                name.push('.');
                chars.next();
            }
            '.' => {
                member(&mut out, &mut name, descendant);
                descendant = chars.peek() == Some(&'.');
                if descendant {
                    chars.next();
                }
            }
            '[' => {
                member(&mut out, &mut name, descendant);
                descendant = false;
                out.push('[');
                let mut depth = 1;
                let mut quote = None;
                for c in chars.by_ref() {
                    out.push(c);
                    match (quote, c) {
                        (Some(q), _) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
                if depth != 0 {
                    return Err(format!("bad JSONPath {path:?}: unclosed ["));
                }
            }
            _ => name.push(c),
        }
    }
    member(&mut out, &mut name, descendant);
    Ok(out)
}

/// Appends the member `name` (if any) to `out` and clears it.
fn member(out: &mut String, name: &mut String, descendant: bool) {
    if name.is_empty() {
        return;
    }
    let dots = if descendant { ".." } else { "." };
    let shorthand = name == "*"
        || (name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if shorthand {
        out.push_str(dots);
        out.push_str(name);
    } else {
        if descendant {
            out.push_str("..");
        }
        let quoted = name.replace('\\', "\\\\").replace('\'', "\\'");
        out.push_str(&format!("['{quoted}']"));
    }
    name.clear();
}

fn render(parts: &[Part], value: &Value, out: &mut String) {
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Query(query) => {
                let texts: Vec<String> =
                    query.query(value).all().into_iter().map(text_of).collect();
                out.push_str(&texts.join(" "));
            }
            Part::Range(query, body) => {
                for item in query.query(value).all() {
                    render(body, item, out);
                }
            }
        }
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> Value {
        json!({"kind": "List", "items": [
            {"metadata": {"name": "web", "labels": {"app": "a"}}, "status": {"phase": "Running", "containerStatuses": [{"restartCount": 2}]}},
            {"metadata": {"name": "job"}, "status": {"phase": "Succeeded"}},
        ]})
    }

    fn render(template: &str, value: &Value) -> String {
        Template::parse(template).unwrap().render(value)
    }

    #[test]
    fn renders_kubectls_usual_templates() {
        let list = pods();
        assert_eq!(render("{.items[*].metadata.name}", &list), "web job");
        assert_eq!(render("{.items[0].status.phase}", &list), "Running");
        assert_eq!(
            render(
                r#"{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#,
                &list
            ),
            "web\tRunning\njob\tSucceeded\n"
        );
        assert_eq!(
            render(
                "pods: {.items[?(@.status.phase=='Running')].metadata.name}!",
                &list
            ),
            "pods: web!"
        );
        // Non-strings are JSON; a query that matches nothing prints nothing.
        assert_eq!(
            render(
                "{.items[0].status.containerStatuses[0].restartCount}",
                &list
            ),
            "2"
        );
        assert_eq!(
            render("{.items[0].metadata.labels}", &list),
            r#"{"app":"a"}"#
        );
        assert_eq!(render("[{.items[5].metadata.name}]", &list), "[]");
        assert_eq!(render(r#"{"a}b"}"#, &list), "a}b");
        // kubectl's escaped dots, names RFC 9535 would not take bare, and descendants.
        let pod =
            json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last": "x", "a-b": "y"}}});
        assert_eq!(
            render(
                r"{.metadata.annotations.kubectl\.kubernetes\.io/last}",
                &pod
            ),
            "x"
        );
        assert_eq!(render("{.metadata.annotations.a-b}", &pod), "y");
        assert_eq!(render("{..a-b}", &pod), "y");
        assert_eq!(render("{$.metadata.annotations['a-b']}", &pod), "y");
    }

    #[test]
    fn refuses_broken_templates_with_a_reason() {
        for (template, reason) in [
            ("{.metadata.name", "unclosed action"),
            ("{range .items[*]}{.a}", "{range} without {end}"),
            ("{.a}{end}", "{end} without {range}"),
            ("{.items[}", "bad JSONPath"),
            (r#"{"unterminated}"#, "unclosed action"),
        ] {
            let error = Template::parse(template).unwrap_err();
            assert!(error.contains(reason), "{template}: {error}");
        }
    }
}
