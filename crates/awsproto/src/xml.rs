//! Query-protocol XML responses.

use jiff::Timestamp;

use crate::response::RenderedResponse;
use crate::time::iso8601;

/// XML namespace of STS responses.
pub const NS_STS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// XML namespace of IAM responses.
pub const NS_IAM: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Appends `text` with XML escaping. `\r` becomes `&#xD;` (a parser would turn a raw one into
/// `\n`) and characters XML 1.0 cannot carry become U+FFFD.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Writes nested XML elements. Element names are trusted (caller-chosen constants); text is
/// escaped. Elements left open are closed by the enclosing [`XmlResponse`].
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
    open: Vec<String>,
}

impl XmlWriter {
    /// `<name>text</name>`.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// [`XmlWriter::elem`] when `text` is `Some`; nothing otherwise.
    pub fn opt_elem(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.elem(name, text);
        }
        self
    }

    /// An integer element.
    pub fn int(&mut self, name: &str, value: i64) -> &mut Self {
        self.elem(name, &value.to_string())
    }

    /// A boolean element (`true`/`false`).
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.elem(name, if value { "true" } else { "false" })
    }

    /// A timestamp element, ISO 8601 (`2024-01-01T00:00:00Z`).
    pub fn timestamp(&mut self, name: &str, value: Timestamp) -> &mut Self {
        self.elem(name, &iso8601(value))
    }

    /// Opens `<name>`; pair it with [`XmlWriter::close`].
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self.open.push(name.to_owned());
        self
    }

    /// Closes the innermost element opened with [`XmlWriter::open`] (no-op when none is open).
    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push('>');
        }
        self
    }

    /// `<name>...</name>` with the content written by `content`.
    pub fn nest(&mut self, name: &str, content: impl FnOnce(&mut Self)) -> &mut Self {
        self.open(name);
        content(self);
        self.close()
    }

    /// A list `<name><member>...</member>...</name>`, each member's content written by `member`.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut member: impl FnMut(&mut Self, T),
    ) -> &mut Self {
        self.nest(name, |w| {
            for item in items {
                w.nest("member", |w| member(w, item));
            }
        })
    }

    /// A list of text members `<name><member>a</member><member>b</member></name>`.
    pub fn text_list<S: AsRef<str>>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        self.nest(name, |w| {
            for item in items {
                w.elem("member", item.as_ref());
            }
        })
    }

    /// Closes everything still open and returns the text.
    fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

/// A query-protocol success response `<{Op}Response xmlns=..>[<{Op}Result>..</{Op}Result>]
/// <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></{Op}Response>`.
#[derive(Debug, Clone, Copy)]
pub struct XmlResponse<'a> {
    operation: &'a str,
    namespace: &'a str,
    request_id: &'a str,
}

impl<'a> XmlResponse<'a> {
    /// A response for `operation` (e.g. `AssumeRole`) in `namespace` ([`NS_STS`], [`NS_IAM`]).
    pub fn new(operation: &'a str, namespace: &'a str, request_id: &'a str) -> Self {
        Self {
            operation,
            namespace,
            request_id,
        }
    }

    /// Renders with a `<{Op}Result>` element whose content `result` writes.
    pub fn result(self, result: impl FnOnce(&mut XmlWriter)) -> RenderedResponse {
        self.render(Some(result))
    }

    /// Renders an operation without output (DeleteRole, TagRole, ...).
    pub fn empty(self) -> RenderedResponse {
        self.render(None::<fn(&mut XmlWriter)>)
    }

    fn render(self, result: Option<impl FnOnce(&mut XmlWriter)>) -> RenderedResponse {
        let mut root = XmlWriter::default();
        root.out.push('<');
        root.out.push_str(self.operation);
        root.out.push_str("Response xmlns=\"");
        escape_into(&mut root.out, self.namespace);
        root.out.push_str("\">");
        if let Some(result) = result {
            let mut inner = XmlWriter::default();
            result(&mut inner);
            root.open(&format!("{}Result", self.operation));
            root.out.push_str(&inner.finish());
            root.close();
        }
        root.nest("ResponseMetadata", |w| {
            w.elem("RequestId", self.request_id);
        });
        let mut body = root.finish();
        body.push_str("</");
        body.push_str(self.operation);
        body.push_str("Response>");
        RenderedResponse::new(200, "text/xml", self.request_id, body.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text() {
        let mut out = String::new();
        escape_into(&mut out, "a&b<c>d\"e'f\rg\th\ni\u{1}j\u{e9}");
        assert_eq!(
            out,
            "a&amp;b&lt;c&gt;d&quot;e&apos;f&#xD;g\th\ni\u{FFFD}j\u{e9}"
        );
    }

    #[test]
    fn open_close_and_lists() {
        let mut w = XmlWriter::default();
        w.open("A").elem("B", "1").close().close();
        w.text_list("L", ["x", "y"]);
        w.text_list("Empty", Vec::<String>::new());
        w.list("Tags", [("k", "v")], |w, (k, v)| {
            w.elem("Key", k).elem("Value", v);
        });
        w.opt_elem("Absent", None).opt_elem("Present", Some("p"));
        w.int("N", -5).bool("T", true).bool("F", false);
        w.open("Unclosed").elem("C", "c");
        assert_eq!(
            w.finish(),
            "<A><B>1</B></A><L><member>x</member><member>y</member></L><Empty></Empty><Tags><member><Key>k</Key><Value>v</Value></member></Tags><Present>p</Present><N>-5</N><T>true</T><F>false</F><Unclosed><C>c</C></Unclosed>"
        );
    }

    #[test]
    fn unclosed_result_elements_are_closed_inside_the_result() {
        let response = XmlResponse::new("GetRole", NS_IAM, "r").result(|w| {
            w.open("Role").elem("RoleName", "x");
        });
        assert_eq!(
            response.body_text().unwrap(),
            "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role><RoleName>x</RoleName></Role></GetRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRoleResponse>"
        );
    }
}
