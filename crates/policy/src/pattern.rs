//! Compiled string patterns: literals, IAM wildcards (`*`, `?`) and policy variables
//! (`${key}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`), matched without allocating.

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Text matched as-is.
    Literal(Box<str>),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
    /// `${key}` with an optional default; the key is stored lowercased.
    Variable {
        key: Box<str>,
        default: Option<Box<str>>,
    },
}

/// How the pattern text is read at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Like operators, actions, resources).
    pub wildcards: bool,
    /// `${...}` is a policy variable (Version 2012-10-17, String/Arn values, resource part).
    pub variables: bool,
}

/// Supplies policy-variable values (single-valued context keys) at match time.
pub(crate) trait VariableSource {
    /// The value of a lowercased context key, if present and single-valued.
    fn variable(&self, key: &str) -> Option<&str>;
}

/// A source with no variables at all.
pub(crate) struct NoVariables;

impl VariableSource for NoVariables {
    fn variable(&self, _key: &str) -> Option<&str> {
        None
    }
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    tokens: Box<[Token]>,
}

impl Pattern {
    /// Compiles `text` under `syntax`; `lowercase` folds literal text (used for actions).
    pub(crate) fn compile(text: &str, syntax: Syntax, lowercase: bool) -> Self {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if syntax.variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = &rest[2..end];
                rest = &rest[end + 1..];
                match inner {
                    "*" | "?" | "$" => literal.push_str(inner),
                    _ => {
                        flush(&mut tokens, &mut literal);
                        tokens.push(parse_variable(inner));
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut tokens, &mut literal);
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut tokens, &mut literal);
                    tokens.push(Token::AnyChar);
                }
                _ if lowercase => literal.extend(c.to_lowercase()),
                _ => literal.push(c),
            }
        }
        flush(&mut tokens, &mut literal);
        Pattern {
            tokens: tokens.into_boxed_slice(),
        }
    }

    /// True when the pattern is exactly `*`.
    pub(crate) fn is_match_all(&self) -> bool {
        matches!(&*self.tokens, [Token::AnyRun])
    }

    /// Lowercased keys of the variables the pattern references.
    pub(crate) fn variable_keys(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Variable { key, .. } => Some(&**key),
            _ => None,
        })
    }

    /// Matches `subject`; a variable with no value and no default matches nothing.
    pub(crate) fn matches(
        &self,
        subject: &str,
        vars: &impl VariableSource,
        ignore_case: bool,
    ) -> bool {
        let resolved = |token: &Token| -> Option<()> {
            match token {
                Token::Variable { key, default } => {
                    vars.variable(key).or(default.as_deref()).map(|_| ())
                }
                _ => Some(()),
            }
        };
        if !self.tokens.iter().all(|t| resolved(t).is_some()) {
            return false;
        }
        Glob {
            tokens: &self.tokens,
            vars,
            ignore_case,
        }
        .run(subject)
    }
}

fn flush(tokens: &mut Vec<Token>, literal: &mut String) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal).into_boxed_str()));
    }
}

/// Parses the inside of `${...}`: `key` or `key, 'default'`.
fn parse_variable(inner: &str) -> Token {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let default = default.trim();
            let default = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .unwrap_or(default);
            (key, Some(default.into()))
        }
        None => (inner, None),
    };
    Token::Variable {
        key: key.trim().to_lowercase().into_boxed_str(),
        default,
    }
}

/// A position in the pattern: token index and byte offset inside a literal/variable text.
#[derive(Clone, Copy)]
struct Position {
    token: usize,
    offset: usize,
}

/// The classic single-backtrack glob algorithm over tokens whose text is resolved lazily.
struct Glob<'a, V> {
    tokens: &'a [Token],
    vars: &'a V,
    ignore_case: bool,
}

enum Step<'a> {
    Text(&'a str),
    AnyRun,
    AnyChar,
    End,
}

impl<'a, V: VariableSource> Glob<'a, V> {
    fn text(&self, token: &'a Token) -> &'a str {
        match token {
            Token::Literal(text) => text,
            Token::Variable { key, default } => {
                self.vars.variable(key).or(default.as_deref()).unwrap_or("")
            }
            Token::AnyRun | Token::AnyChar => "",
        }
    }

    /// Skips exhausted text tokens and returns what the pattern expects next.
    fn step(&self, pos: &mut Position) -> Step<'a> {
        loop {
            let Some(token) = self.tokens.get(pos.token) else {
                return Step::End;
            };
            match token {
                Token::AnyRun => return Step::AnyRun,
                Token::AnyChar => return Step::AnyChar,
                _ => {
                    let text = self.text(token);
                    if pos.offset < text.len() {
                        return Step::Text(&text[pos.offset..]);
                    }
                    pos.token += 1;
                    pos.offset = 0;
                }
            }
        }
    }

    fn chars_equal(&self, a: char, b: char) -> bool {
        a == b || (self.ignore_case && a.to_lowercase().eq(b.to_lowercase()))
    }

    fn run(&self, subject: &str) -> bool {
        let mut pos = Position {
            token: 0,
            offset: 0,
        };
        let mut at = 0;
        let mut backtrack: Option<(Position, usize)> = None;
        while let Some(c) = subject[at..].chars().next() {
            let advanced = match self.step(&mut pos) {
                Step::Text(text) => match text.chars().next() {
                    Some(p) if self.chars_equal(p, c) => {
                        pos.offset += p.len_utf8();
                        at += c.len_utf8();
                        true
                    }
                    _ => false,
                },
                Step::AnyChar => {
                    pos.token += 1;
                    at += c.len_utf8();
                    true
                }
                Step::AnyRun => {
                    pos.token += 1;
                    backtrack = Some((pos, at));
                    true
                }
                Step::End => false,
            };
            if advanced {
                continue;
            }
            let Some((resume, start)) = backtrack else {
                return false;
            };
            let next = start + subject[start..].chars().next().map_or(1, char::len_utf8);
            backtrack = Some((resume, next));
            pos = resume;
            at = next;
        }
        loop {
            match self.step(&mut pos) {
                Step::AnyRun => pos.token += 1,
                Step::End => return true,
                Step::Text(_) | Step::AnyChar => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIKE: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    struct Vars;
    impl VariableSource for Vars {
        fn variable(&self, key: &str) -> Option<&str> {
            (key == "aws:username").then_some("alice")
        }
    }

    fn like(pattern: &str, subject: &str) -> bool {
        Pattern::compile(pattern, LIKE, false).matches(subject, &Vars, false)
    }

    #[test]
    fn wildcards() {
        assert!(like("*", ""));
        assert!(like("a*c", "abbbc"));
        assert!(like("a*c", "ac"));
        assert!(!like("a*c", "acb"));
        assert!(like("a?c", "abc"));
        assert!(!like("a?c", "ac"));
        assert!(like("*b*b*", "abab"));
        assert!(!like("a", "A"));
        assert!(like("é?", "éà"));
    }

    #[test]
    fn variables_and_specials() {
        assert!(like("home/${aws:username}/*", "home/alice/x"));
        assert!(!like("home/${aws:username}/*", "home/bob/x"));
        assert!(like("${aws:UserName}", "alice"));
        assert!(!like("${missing}", ""));
        assert!(like("${missing, 'dflt'}", "dflt"));
        assert!(like("a${*}b", "a*b"));
        assert!(!like("a${*}b", "axb"));
        assert!(like("${?}${$}", "?$"));
        assert!(like("${unterminated", "${unterminated"));
    }

    #[test]
    fn ignore_case_and_literal_mode() {
        let exact = Syntax {
            wildcards: false,
            variables: false,
        };
        let p = Pattern::compile("A*${x}", exact, false);
        assert!(p.matches("A*${x}", &NoVariables, false));
        assert!(!p.matches("Ab${x}", &NoVariables, false));
        assert!(p.matches("a*${X}", &NoVariables, true));
    }
}
