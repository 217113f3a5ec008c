//! Minimal PEM armour (RFC 7468): one labelled base64 block.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why a PEM block could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// No `-----BEGIN <label>-----` line.
    #[error("no PEM BEGIN line")]
    MissingBegin,
    /// No matching `-----END <label>-----` line.
    #[error("no PEM END line for label {0:?}")]
    MissingEnd(String),
    /// The body is not base64.
    #[error("PEM body is not valid base64")]
    BadBase64,
}

/// A decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// Wraps `der` in a PEM block with 64-column lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // base64 output is ASCII, so byte chunks are valid UTF-8 boundaries.
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads the first PEM block in `text`.
pub(crate) fn decode(text: &str) -> Result<PemBlock, PemError> {
    let (_, after_begin) = text
        .split_once("-----BEGIN ")
        .ok_or(PemError::MissingBegin)?;
    let (label, rest) = after_begin
        .split_once("-----")
        .ok_or(PemError::MissingBegin)?;
    let end_line = format!("-----END {label}-----");
    let (body, _) = rest
        .split_once(&end_line)
        .ok_or_else(|| PemError::MissingEnd(label.to_owned()))?;
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(compact).map_err(|_| PemError::BadBase64)?;
    Ok(PemBlock {
        label: label.to_owned(),
        der,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_wraps_at_64_columns() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = encode("PRIVATE KEY", &der);
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(text.ends_with("-----END PRIVATE KEY-----\n"));
        assert!(
            text.lines()
                .all(|line| line.len() <= 64 || line.starts_with("-----"))
        );
        let block = decode(&text).unwrap();
        assert_eq!(block.label, "PRIVATE KEY");
        assert_eq!(block.der, der);
    }

    #[test]
    fn rejects_broken_armour() {
        assert_eq!(decode("hello"), Err(PemError::MissingBegin));
        assert_eq!(
            decode("-----BEGIN X-----\nAAAA\n-----END Y-----\n"),
            Err(PemError::MissingEnd("X".into()))
        );
        assert_eq!(
            decode("-----BEGIN X-----\n!!!!\n-----END X-----\n"),
            Err(PemError::BadBase64)
        );
    }
}
