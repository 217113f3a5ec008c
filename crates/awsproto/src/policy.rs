//! IAM returns policy documents URL-encoded.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but the RFC 3986 unreserved characters `A-Za-z0-9-_.~`.
const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes a policy document the way IAM emits `AssumeRolePolicyDocument` and `PolicyDocument`
/// in responses: RFC 3986 percent-encoding of the UTF-8 JSON text (space is `%20`).
pub fn encode_policy_document(document: &str) -> String {
    utf8_percent_encode(document, POLICY_ENCODE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_iam() {
        assert_eq!(
            encode_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#),
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
        );
        assert_eq!(
            encode_policy_document("a b+c/d*e~f_g.h-i\n\u{e9}"),
            "a%20b%2Bc%2Fd%2Ae~f_g.h-i%0A%C3%A9"
        );
        assert_eq!(encode_policy_document(""), "");
    }

    #[test]
    fn round_trips_through_form_decoding() {
        let document = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"k":"a b"}}}]}"#;
        let encoded = encode_policy_document(document);
        let decoded: String = percent_encoding::percent_decode_str(&encoded)
            .decode_utf8()
            .unwrap()
            .into_owned();
        assert_eq!(decoded, document);
    }
}
