//! IAM list pagination: `Marker`/`MaxItems` in, `IsTruncated`/`Marker` out. The marker is the
//! hex-encoded sort key of the first item of the next page, opaque to clients.

use podpass_awsproto::{AwsError, MemberType, QueryParams, Validation, XmlWriter};

/// Items per page when `MaxItems` is absent.
const DEFAULT_MAX_ITEMS: i64 = 100;

/// The pagination members of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PageRequest {
    /// Decoded sort key to resume from.
    after: Option<String>,
    /// Page size.
    max_items: usize,
}

/// One page of items and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Marker of the next page, `None` on the last one.
    pub next_marker: Option<String>,
}

impl PageRequest {
    /// Reads and validates `Marker` and `MaxItems` into `validation`; a marker this server
    /// did not issue is `InvalidInput`.
    pub(super) fn read(
        params: &QueryParams,
        validation: &mut Validation,
    ) -> Result<Self, AwsError> {
        let marker = params.get("Marker");
        let max_items = params.i64("MaxItems")?;
        validation
            .check("Marker", marker, MemberType::Marker)
            .check_range("MaxItems", max_items, 1, 1000);
        let after = match marker {
            Some(marker) if !marker.is_empty() => Some(
                decode_marker(marker).ok_or_else(|| AwsError::invalid_input("Invalid Marker."))?,
            ),
            _ => None,
        };
        let max_items =
            usize::try_from(max_items.unwrap_or(DEFAULT_MAX_ITEMS).clamp(1, 1000)).unwrap_or(100);
        Ok(Self { after, max_items })
    }

    /// Cuts the page out of `items`, which must be in ascending `key` order (keys unique).
    pub(super) fn page<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let start = match &self.after {
            Some(after) => items
                .iter()
                .position(|item| key(item).as_str() >= after.as_str())
                .unwrap_or(items.len()),
            None => 0,
        };
        let mut rest = items.into_iter().skip(start);
        let page: Vec<T> = rest.by_ref().take(self.max_items).collect();
        let next_marker = rest.next().map(|next| encode_marker(&key(&next)));
        Page {
            items: page,
            next_marker,
        }
    }
}

impl<T> Page<T> {
    /// Writes `IsTruncated` and, when truncated, `Marker`.
    pub(super) fn write_truncation(&self, w: &mut XmlWriter) {
        w.bool("IsTruncated", self.next_marker.is_some());
        w.opt_elem("Marker", self.next_marker.as_deref());
    }
}

fn encode_marker(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_marker(marker: &str) -> Option<String> {
    if !marker.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..marker.len())
        .step_by(2)
        .map(|i| {
            marker
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> Result<PageRequest, AwsError> {
        let params = QueryParams::parse(query.as_bytes());
        let mut validation = Validation::new();
        let page = PageRequest::read(&params, &mut validation)?;
        validation.finish()?;
        Ok(page)
    }

    #[test]
    fn markers_round_trip() {
        for key in [
            "",
            "role-1",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "é+=,.@",
        ] {
            assert_eq!(decode_marker(&encode_marker(key)).as_deref(), Some(key));
        }
        assert_eq!(encode_marker("ab"), "6162");
        assert_eq!(decode_marker("616"), None);
        assert_eq!(decode_marker("zz"), None);
        assert_eq!(decode_marker("ff"), None, "not UTF-8");
    }

    #[test]
    fn pages_follow_markers_to_the_end() {
        let items = vec!["a", "b", "c", "d", "e"];
        let first = request("MaxItems=2")
            .unwrap()
            .page(items.clone(), |s| s.to_string());
        assert_eq!(first.items, ["a", "b"]);
        assert_eq!(first.next_marker.as_deref(), Some("63"));
        let second = request("MaxItems=2&Marker=63")
            .unwrap()
            .page(items.clone(), |s| s.to_string());
        assert_eq!(second.items, ["c", "d"]);
        let last = request(&format!(
            "MaxItems=2&Marker={}",
            second.next_marker.unwrap()
        ))
        .unwrap()
        .page(items.clone(), |s| s.to_string());
        assert_eq!((last.items, last.next_marker), (vec!["e"], None));
        let all = request("").unwrap().page(items, |s| s.to_string());
        assert_eq!((all.items.len(), all.next_marker), (5, None));
    }

    #[test]
    fn a_deleted_marker_item_resumes_at_the_next_key() {
        let items = vec!["a", "c"];
        let page = request(&format!("Marker={}", encode_marker("b")))
            .unwrap()
            .page(items, |s| s.to_string());
        assert_eq!(page.items, ["c"]);
    }

    #[test]
    fn bad_members_are_rejected() {
        assert_eq!(request("Marker=xyz").unwrap_err().code, "InvalidInput");
        let error = request("MaxItems=0").unwrap_err();
        assert_eq!(
            error.message,
            "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        assert_eq!(
            request("MaxItems=1001").unwrap_err().code,
            "ValidationError"
        );
        assert_eq!(request("MaxItems=x").unwrap_err().code, "ValidationError");
    }
}
