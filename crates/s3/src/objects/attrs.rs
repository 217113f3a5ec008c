//! What an object carries beside its bytes: content headers, user metadata and checksums,
//! kept as one JSON column of its catalog row.

use s3s::checksum::ChecksumHasher;
use s3s::dto::{ChecksumAlgorithm, ChecksumMode, Metadata, Timestamp};
use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

/// The additional checksums of an object or part (base64, as S3 sends them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
}

impl From<s3s::dto::Checksum> for Checksums {
    fn from(sums: s3s::dto::Checksum) -> Self {
        Checksums {
            crc32: sums.checksum_crc32,
            crc32c: sums.checksum_crc32c,
            sha1: sums.checksum_sha1,
            sha256: sums.checksum_sha256,
            crc64nvme: sums.checksum_crc64nvme,
        }
    }
}

impl Checksums {
    /// The checksums a request's headers announce.
    pub(super) fn announced(
        crc32: &Option<String>,
        crc32c: &Option<String>,
        sha1: &Option<String>,
        sha256: &Option<String>,
        crc64nvme: &Option<String>,
    ) -> Checksums {
        Checksums {
            crc32: crc32.clone(),
            crc32c: crc32c.clone(),
            sha1: sha1.clone(),
            sha256: sha256.clone(),
            crc64nvme: crc64nvme.clone(),
        }
    }

    /// These, completed by the checksums a streaming body sent as trailers.
    pub(super) fn with_trailers(
        mut self,
        trailers: Option<s3s::TrailingHeaders>,
    ) -> S3Result<Checksums> {
        let Some(trailers) = trailers.and_then(|t| t.take()) else {
            return Ok(self);
        };
        for (name, slot) in [
            ("x-amz-checksum-crc32", &mut self.crc32),
            ("x-amz-checksum-crc32c", &mut self.crc32c),
            ("x-amz-checksum-sha1", &mut self.sha1),
            ("x-amz-checksum-sha256", &mut self.sha256),
            ("x-amz-checksum-crc64nvme", &mut self.crc64nvme),
        ] {
            if let Some(value) = trailers.get(name) {
                let value = value
                    .to_str()
                    .map_err(|_| s3_error!(InvalidArgument, "Invalid {name} trailer"))?;
                *slot = Some(value.to_owned());
            }
        }
        Ok(self)
    }

    /// `BadDigest` unless every checksum announced equals the one computed.
    pub(super) fn verify(&self, computed: &Checksums) -> S3Result<()> {
        for (name, sent, ours) in [
            ("CRC32", &self.crc32, &computed.crc32),
            ("CRC32C", &self.crc32c, &computed.crc32c),
            ("SHA1", &self.sha1, &computed.sha1),
            ("SHA256", &self.sha256, &computed.sha256),
            ("CRC64NVME", &self.crc64nvme, &computed.crc64nvme),
        ] {
            if sent.is_some() && sent != ours {
                return Err(s3_error!(
                    BadDigest,
                    "The {name} you specified did not match the calculated checksum."
                ));
            }
        }
        Ok(())
    }
}

/// A hasher for every checksum announced in headers or by the algorithm a trailer will carry.
pub(crate) fn expected_checksums(
    announced: &Checksums,
    algorithm: Option<&ChecksumAlgorithm>,
) -> S3Result<ChecksumHasher> {
    let mut hasher = ChecksumHasher::default();
    let algorithm = algorithm.map(ChecksumAlgorithm::as_str);
    if announced.crc32.is_some() || algorithm == Some(ChecksumAlgorithm::CRC32) {
        hasher.crc32 = Some(Default::default());
    }
    if announced.crc32c.is_some() || algorithm == Some(ChecksumAlgorithm::CRC32C) {
        hasher.crc32c = Some(Default::default());
    }
    if announced.sha1.is_some() || algorithm == Some(ChecksumAlgorithm::SHA1) {
        hasher.sha1 = Some(Default::default());
    }
    if announced.sha256.is_some() || algorithm == Some(ChecksumAlgorithm::SHA256) {
        hasher.sha256 = Some(Default::default());
    }
    if announced.crc64nvme.is_some() || algorithm == Some(ChecksumAlgorithm::CRC64NVME) {
        hasher.crc64nvme = Some(Default::default());
    }
    match algorithm {
        None
        | Some(
            ChecksumAlgorithm::CRC32
            | ChecksumAlgorithm::CRC32C
            | ChecksumAlgorithm::SHA1
            | ChecksumAlgorithm::SHA256
            | ChecksumAlgorithm::CRC64NVME,
        ) => Ok(hasher),
        Some(other) => Err(s3_error!(
            InvalidRequest,
            "Value for x-amz-sdk-checksum-algorithm header is invalid: {other}"
        )),
    }
}

/// Content headers, user metadata and checksums of an object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ObjectAttrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub checksums: Checksums,
    /// How many parts a multipart upload assembled the object from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart_parts: Option<i32>,
    /// The object's tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: super::tagging::Tags,
}

impl ObjectAttrs {
    pub(super) fn to_json(&self) -> String {
        // A struct of strings and maps always serialises.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub(super) fn from_json(text: &str) -> Result<ObjectAttrs, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The checksums a read returns: only when asked for (`x-amz-checksum-mode: ENABLED`)
    /// and only for the whole object, as S3 does.
    pub(super) fn checksums_for(&self, mode: Option<&ChecksumMode>, whole: bool) -> Checksums {
        let enabled = mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        if enabled && whole {
            self.checksums.clone()
        } else {
            Checksums::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_checksums_must_match() {
        let mut hasher = expected_checksums(
            &Checksums {
                crc32: Some("x".into()),
                ..Checksums::default()
            },
            None,
        )
        .unwrap();
        hasher.update(b"hello");
        let computed = Checksums::from(hasher.finalize());
        assert!(computed.crc32.is_some());
        let wrong = Checksums {
            crc32: Some("AAAAAA==".into()),
            ..Checksums::default()
        };
        assert_eq!(
            wrong.verify(&computed).unwrap_err().code().as_str(),
            "BadDigest"
        );
        assert!(computed.verify(&computed).is_ok());
        assert!(Checksums::default().verify(&computed).is_ok());
    }

    #[test]
    fn attrs_round_trip_through_json() {
        let attrs = ObjectAttrs {
            content_type: Some("text/plain".into()),
            metadata: Some([("k".to_owned(), "v".to_owned())].into_iter().collect()),
            tags: vec![("team".to_owned(), "blue".to_owned())],
            ..ObjectAttrs::default()
        };
        let back = ObjectAttrs::from_json(&attrs.to_json()).unwrap();
        assert_eq!(back.content_type.as_deref(), Some("text/plain"));
        assert_eq!(back.metadata, attrs.metadata);
        assert_eq!(back.tags, attrs.tags);
        assert!(ObjectAttrs::from_json("{}").is_ok());
    }
}
