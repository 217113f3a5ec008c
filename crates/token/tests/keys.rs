//! Signing keys: formats, `kid` derivation and public JWKs against independent answers.

mod common;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use podpass_token::{KeyAlgorithm, KeyError, PemError, SigningKey, key_id};

/// DER body of a PEM block, decoded here without the crate's PEM code.
fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

#[test]
fn kid_matches_openssl_known_answer() {
    assert_eq!(rsa_key().kid(), RSA_KID);
    assert_eq!(ec_key().kid(), EC_KID);
}

#[test]
fn kid_is_sha256_of_the_spki_der() {
    for (key, public_pem) in [(rsa_key(), RSA_PUBLIC_PEM), (ec_key(), EC_PUBLIC_PEM)] {
        let spki = pem_body(public_pem);
        let expected = URL_SAFE_NO_PAD.encode(digest(&SHA256, &spki));
        assert_eq!(key.kid(), expected);
        assert_eq!(key_id(&spki), expected);
    }
}

#[test]
fn public_key_pem_matches_openssl_byte_for_byte() {
    assert_eq!(rsa_key().public_key_pem(), RSA_PUBLIC_PEM);
    assert_eq!(ec_key().public_key_pem(), EC_PUBLIC_PEM);
}

#[test]
fn legacy_pem_forms_load_the_same_key() {
    let from_pkcs1 = SigningKey::from_pem(RSA_PKCS1_PEM).unwrap();
    assert_eq!(from_pkcs1.kid(), RSA_KID);
    assert_eq!(from_pkcs1.pkcs8_der(), rsa_key().pkcs8_der());
    let from_sec1 = SigningKey::from_pem(EC_SEC1_PEM).unwrap();
    assert_eq!(from_sec1.kid(), EC_KID);
    assert_eq!(from_sec1.algorithm(), KeyAlgorithm::ES256);
}

#[test]
fn pkcs8_storage_round_trips() {
    let key = rsa_key();
    assert_eq!(key.pkcs8_der(), pem_body(RSA_PKCS8_PEM).as_slice());
    let reloaded = SigningKey::from_pkcs8_der(key.pkcs8_der()).unwrap();
    assert_eq!(reloaded.kid(), RSA_KID);
    assert_eq!(reloaded.algorithm(), KeyAlgorithm::RS256);
    let from_pem = SigningKey::from_pem(&ec_key().to_pkcs8_pem()).unwrap();
    assert_eq!(from_pem.kid(), EC_KID);
}

#[test]
fn generated_keys_reload_with_the_same_kid() {
    for algorithm in [KeyAlgorithm::RS256, KeyAlgorithm::ES256] {
        let key = SigningKey::generate(algorithm).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        assert_eq!(key.kid().len(), 43);
        let reloaded = SigningKey::from_pem(&key.to_pkcs8_pem()).unwrap();
        assert_eq!(reloaded.kid(), key.kid());
        assert_eq!(reloaded.public_jwk(), key.public_jwk());
    }
    assert_eq!(KeyAlgorithm::default(), KeyAlgorithm::RS256);
}

#[test]
fn rsa_public_jwk_has_kube_fields() {
    let jwk = serde_json::to_value(rsa_key().public_jwk()).unwrap();
    assert_eq!(
        jwk,
        serde_json::json!({"use": "sig", "kty": "RSA", "kid": RSA_KID, "alg": "RS256",
                           "n": RSA_N, "e": "AQAB"})
    );
}

#[test]
fn ec_public_jwk_has_kube_fields() {
    let jwk = serde_json::to_value(ec_key().public_jwk()).unwrap();
    assert_eq!(
        jwk,
        serde_json::json!({"use": "sig", "kty": "EC", "kid": EC_KID, "crv": "P-256",
                           "alg": "ES256", "x": EC_X, "y": EC_Y})
    );
}

#[test]
fn rejects_what_is_not_a_supported_private_key() {
    assert!(matches!(
        SigningKey::from_pem(RSA_PUBLIC_PEM),
        Err(KeyError::UnexpectedPemLabel(label)) if label == "PUBLIC KEY"
    ));
    assert!(matches!(
        SigningKey::from_pem("no pem here"),
        Err(KeyError::Pem(PemError::MissingBegin))
    ));
    assert!(matches!(
        SigningKey::from_pkcs8_der(b"not a key"),
        Err(KeyError::Unsupported(_))
    ));
    assert!(matches!(
        SigningKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        ),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn debug_output_hides_the_private_key() {
    let debug = format!("{:?}", rsa_key());
    assert_eq!(
        debug,
        format!("SigningKey {{ algorithm: RS256, kid: {RSA_KID:?}, .. }}")
    );
}
