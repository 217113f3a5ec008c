//! AWS-style unique identifiers (`AROA...`, `ANPA...`, `AKIA...`) and secrets from the system CSPRNG.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Error from the system random generator (never expected on Linux).
#[derive(Debug, thiserror::Error)]
#[error("the system random generator failed")]
pub struct RandomError;

fn random_from(alphabet: &[u8], len: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomError)?;
    // Both alphabets have a power-of-two size, so the modulo keeps the draw uniform.
    Ok(bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect())
}

/// A unique id with an IAM prefix: `prefix` + 16 upper-case base32 characters (21 chars total
/// for 4-char prefixes, as IAM's `AROA...`).
pub fn unique_id(prefix: &str) -> Result<String, RandomError> {
    Ok(format!("{prefix}{}", random_from(UPPER_ALNUM, 17)?))
}

/// A long-term access key id (`AKIA` + 16), 20 characters as AWS's.
pub fn access_key_id() -> Result<String, RandomError> {
    Ok(format!("AKIA{}", random_from(UPPER_ALNUM, 16)?))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> Result<String, RandomError> {
    random_from(SECRET_ALPHABET, 40)
}

/// An EKS-style 32-hex upper-case cluster id, used in issuer URLs.
pub fn cluster_id() -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomError)?;
    Ok(hex::encode_upper(bytes))
}

/// A Kubernetes-style UID.
pub fn uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shapes() {
        let role = unique_id("AROA").unwrap();
        assert_eq!(role.len(), 21);
        assert!(role.starts_with("AROA") && role[4..].bytes().all(|b| UPPER_ALNUM.contains(&b)));
        let key = access_key_id().unwrap();
        assert_eq!(key.len(), 20);
        assert_eq!(secret_access_key().unwrap().len(), 40);
        assert_ne!(secret_access_key().unwrap(), secret_access_key().unwrap());
        assert_eq!(cluster_id().unwrap().len(), 32);
    }
}
