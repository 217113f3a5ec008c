//! Locates each statement object in the policy source, for the simulator's
//! `MatchedStatements` `StartPosition`/`EndPosition` (serde_json keeps no spans).

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// Where a statement sits in the source: from its `{` to just past its `}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Position of the opening `{`.
    pub start: Position,
    /// Position just after the closing `}`.
    pub end: Position,
}

/// Spans of the statement objects of a syntactically valid policy, in order.
pub(crate) fn statement_spans(source: &str) -> Vec<Span> {
    let mut scanner = Scanner::default();
    let mut spans = Vec::new();
    // Depth of containers; the top-level object is depth 1.
    let mut depth = 0usize;
    // A top-level string becomes the current key once its `:` is seen.
    let mut key_candidate: Option<String> = None;
    let mut current_key: Option<String> = None;
    // Depth of the `Statement` value once entered (1 = object statement, 2 = array).
    let mut statement_depth: Option<usize> = None;
    let mut open: Option<Position> = None;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        let here = scanner.position();
        scanner.advance(c);
        match c {
            '"' => {
                let mut text = String::new();
                while let Some(s) = chars.next() {
                    scanner.advance(s);
                    match s {
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                scanner.advance(escaped);
                                text.push(escaped);
                            }
                        }
                        '"' => break,
                        _ => text.push(s),
                    }
                }
                if depth == 1 {
                    key_candidate = Some(text);
                }
            }
            '{' | '[' => {
                depth += 1;
                let entering_statement = depth == 2
                    && statement_depth.is_none()
                    && current_key.as_deref() == Some("Statement");
                if entering_statement {
                    statement_depth = Some(if c == '[' { 2 } else { 1 });
                }
                let is_statement_object = c == '{'
                    && match statement_depth {
                        Some(1) => depth == 2,
                        Some(2) => depth == 3,
                        _ => false,
                    };
                if is_statement_object {
                    open = Some(here);
                }
            }
            '}' | ']' => {
                let closing_statement = c == '}'
                    && match statement_depth {
                        Some(1) => depth == 2,
                        Some(2) => depth == 3,
                        _ => false,
                    };
                if closing_statement && let Some(start) = open.take() {
                    spans.push(Span {
                        start,
                        end: scanner.position(),
                    });
                }
                if depth == 2 && statement_depth.is_some() {
                    statement_depth = Some(usize::MAX);
                }
                depth = depth.saturating_sub(1);
            }
            ':' if depth == 1 => current_key = key_candidate.take(),
            ',' if depth == 1 => current_key = None,
            _ => {}
        }
    }
    spans
}

/// Tracks line and column while scanning.
struct Scanner {
    line: u32,
    column: u32,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner { line: 1, column: 1 }
    }
}

impl Scanner {
    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn advance(&mut self, c: char) {
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn array_statements() {
        let src = "{\"Version\":\"2012-10-17\",\n \"Statement\":[\n  {\"Effect\":\"Allow\",\"Resource\":\"}\"},\n  {\"Sid\":\"b\"}\n ]}";
        let spans = statement_spans(src);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].start, pos(3, 3));
        assert_eq!(spans[0].end, pos(3, 36));
        assert_eq!(
            spans[1],
            Span {
                start: pos(4, 3),
                end: pos(4, 14)
            }
        );
    }

    #[test]
    fn object_statement_and_nested_objects() {
        let src = r#"{"Statement":{"Condition":{"Bool":{"aws:SecureTransport":"true"}}},"Id":"x"}"#;
        let spans = statement_spans(src);
        assert_eq!(
            spans,
            vec![Span {
                start: pos(1, 14),
                end: pos(1, 67)
            }]
        );
    }

    #[test]
    fn statement_key_inside_nested_object_is_ignored() {
        let src = r#"{"Id":"x","Meta":{"Statement":[{"a":1}]},"Statement":[{"b":2}]}"#;
        let spans = statement_spans(src);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].start, pos(1, 55));
    }
}
