//! The derived SigV4 signing key.

use std::fmt;

use aws_lc_rs::hmac;

use crate::SCOPE_TERMINATOR;
use crate::auth::CredentialScope;

/// `kSigning` for one (secret, date, region, service); cache it per access key and scope,
/// it stays valid for the whole day.
#[derive(Clone)]
pub struct SigningKey {
    key: hmac::Key,
}

impl SigningKey {
    /// Derives the key: `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
    pub fn derive(secret_access_key: &str, scope: &CredentialScope) -> Self {
        let secret = format!("AWS4{secret_access_key}");
        let k_date = mac(secret.as_bytes(), scope.date.as_bytes());
        let k_region = mac(k_date.as_ref(), scope.region.as_bytes());
        let k_service = mac(k_region.as_ref(), scope.service.as_bytes());
        let k_signing = mac(k_service.as_ref(), SCOPE_TERMINATOR.as_bytes());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref()),
        }
    }

    /// Hex signature of a string to sign.
    pub fn sign(&self, string_to_sign: &str) -> String {
        hex::encode(hmac::sign(&self.key, string_to_sign.as_bytes()))
    }

    /// Constant-time check of a claimed hex signature.
    pub fn matches(&self, string_to_sign: &str, signature_hex: &str) -> bool {
        hex::decode(signature_hex)
            .is_ok_and(|tag| hmac::verify(&self.key, string_to_sign.as_bytes(), &tag).is_ok())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

fn mac(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite_key() -> SigningKey {
        SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            &CredentialScope {
                date: "20150830".into(),
                region: "us-east-1".into(),
                service: "service".into(),
            },
        )
    }

    const GET_VANILLA_STS: &str = "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63";
    const GET_VANILLA_SIG: &str =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn signs_the_suite_get_vanilla() {
        assert_eq!(suite_key().sign(GET_VANILLA_STS), GET_VANILLA_SIG);
    }

    #[test]
    fn matches_only_the_right_signature() {
        let key = suite_key();
        assert!(key.matches(GET_VANILLA_STS, GET_VANILLA_SIG));
        assert!(!key.matches(GET_VANILLA_STS, &GET_VANILLA_SIG[..63]));
        assert!(!key.matches(GET_VANILLA_STS, "zz"));
        assert!(!key.matches(GET_VANILLA_STS, ""));
        let other = GET_VANILLA_SIG.replace("5fa0", "5fa1");
        assert!(!key.matches(GET_VANILLA_STS, &other));
        assert!(!key.matches(
            &GET_VANILLA_STS.replace("us-east-1", "us-east-2"),
            GET_VANILLA_SIG
        ));
    }

    #[test]
    fn debug_hides_key_material() {
        assert_eq!(format!("{:?}", suite_key()), "SigningKey(<redacted>)");
    }
}
