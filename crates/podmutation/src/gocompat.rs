//! Small re-implementations of Go standard-library behaviour the reference relies on.

/// Go `path/filepath.Join` on Unix: joins the non-empty elements with `/` and cleans the result.
pub(crate) fn join_path(base: &str, name: &str) -> String {
    let joined = match (base.is_empty(), name.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => name.to_owned(),
        (false, true) => base.to_owned(),
        (false, false) => format!("{base}/{name}"),
    };
    clean_path(&joined)
}

/// Go `path.Clean`: lexical clean-up of `.`, `..` and repeated slashes.
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

/// The first record of Go `encoding/csv` (default reader: `,` separator, strict quotes, no
/// trimming). `None` where Go returns an error (empty input, bare or stray quotes).
pub(crate) fn first_csv_record(input: &str) -> Option<Vec<String>> {
    // Go's reader skips empty lines before the first record.
    let text = input.trim_start_matches(['\r', '\n']);
    if text.is_empty() {
        return None;
    }
    let mut chars = text.chars().peekable();
    let mut fields = Vec::new();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return None,
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        _ => break,
                    },
                    Some('\r') if chars.peek() == Some(&'\n') => {}
                    Some(c) => field.push(c),
                }
            }
            // After a closing quote only a separator or the end of the line may follow.
            match chars.next() {
                Some(',') => {
                    fields.push(field);
                    continue;
                }
                None | Some('\n') => {
                    fields.push(field);
                    return Some(fields);
                }
                Some('\r') if matches!(chars.peek(), None | Some('\n')) => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(_) => return None,
            }
        }
        loop {
            match chars.next() {
                Some(',') => break,
                None | Some('\n') => {
                    fields.push(strip_trailing_cr(field));
                    return Some(fields);
                }
                Some('"') => return None,
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

fn strip_trailing_cr(mut field: String) -> String {
    if field.ends_with('\r') {
        field.pop();
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_clean_like_go() {
        assert_eq!(
            join_path("/var/run/secrets/eks.amazonaws.com/serviceaccount", "token"),
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
        );
        assert_eq!(join_path("/mnt/", "token"), "/mnt/token");
        assert_eq!(join_path("/mnt//a/./b/..", "t"), "/mnt/a/t");
        assert_eq!(join_path("", "token"), "token");
        assert_eq!(join_path("/mnt", ""), "/mnt");
        assert_eq!(join_path("", ""), "");
        assert_eq!(join_path("/", "../x"), "/x");
        assert_eq!(join_path("a", "../../x"), "../x");
        assert_eq!(clean_path("./"), ".");
    }

    fn rec(input: &str) -> Option<Vec<String>> {
        first_csv_record(input)
    }

    fn fields(values: &[&str]) -> Option<Vec<String>> {
        Some(values.iter().map(|v| (*v).to_owned()).collect())
    }

    #[test]
    fn csv_first_record_like_go() {
        assert_eq!(rec("sidecar"), fields(&["sidecar"]));
        assert_eq!(rec("a,b"), fields(&["a", "b"]));
        assert_eq!(rec("a, b"), fields(&["a", " b"]));
        assert_eq!(rec("a,"), fields(&["a", ""]));
        assert_eq!(rec(r#""a,b",c"#), fields(&["a,b", "c"]));
        assert_eq!(rec(r#""a""b""#), fields(&[r#"a"b"#]));
        assert_eq!(rec("a,b\nc,d"), fields(&["a", "b"]));
        assert_eq!(rec("a\r\nb"), fields(&["a"]));
        assert_eq!(rec("\n\nx"), fields(&["x"]));
        assert_eq!(rec("\"multi\nline\",z"), fields(&["multi\nline", "z"]));
    }

    #[test]
    fn csv_errors_like_go() {
        assert_eq!(rec(""), None);
        assert_eq!(rec("\n"), None);
        assert_eq!(rec(r#"a"b"#), None);
        assert_eq!(rec(r#""a"b"#), None);
        assert_eq!(rec(r#""open"#), None);
    }
}
