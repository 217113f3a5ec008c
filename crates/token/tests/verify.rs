//! Verifier: the happy paths and every rejection, including the classic JWT attacks.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use podpass_token::{
    Jwks, JwksError, JwtAlgorithm, KeyAlgorithm, MAX_TOKEN_LENGTH, PublicJwk, SigningKey,
    TokenRequest, Verifier, VerifyError, decode_unverified, mint, unverified_claims,
};
use serde_json::{Value, json};

fn verifier() -> Verifier {
    let jwks = Jwks::from_signing_keys([&rsa_key(), &ec_key()]);
    Verifier::new(ISSUER, ["other-audience", AUDIENCE], &jwks).unwrap()
}

fn good_claims() -> Value {
    json!({"iss": ISSUER, "sub": "system:serviceaccount:default:app", "aud": [AUDIENCE],
           "exp": NOW + 3600, "iat": NOW, "nbf": NOW})
}

/// Signs `claims` with jsonwebtoken (an encoder independent of the crate under test).
fn sign(pkcs8_pem: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pkcs8_pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(pkcs8_pem.as_bytes()).unwrap(),
    };
    let header = Header {
        kid: kid.map(str::to_owned),
        ..Header::new(alg)
    };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[test]
fn minted_rs256_token_verifies() {
    let (token, minted) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    assert_eq!(verifier().verify(&token, NOW + 10), Ok(minted));
}

#[test]
fn es256_round_trip() {
    let key = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
    let (token, minted) =
        mint(&key, ISSUER, &service_account(), &pod_bound_request(), NOW).unwrap();
    let verifier = Verifier::new(ISSUER, [AUDIENCE], &Jwks::from_signing_keys([&key])).unwrap();
    assert_eq!(verifier.verify(&token, NOW), Ok(minted));
}

#[test]
fn foreign_tokens_with_string_audience_verify() {
    let claims =
        json!({"iss": ISSUER, "sub": "repo:x", "aud": AUDIENCE, "exp": NOW + 60, "azp": "client"});
    let token = sign(RSA_PKCS8_PEM, Algorithm::RS384, Some(RSA_KID), &claims);
    let jwks = Jwks {
        keys: vec![PublicJwk {
            alg: None,
            ..rsa_key().public_jwk().clone()
        }],
    };
    let verified = Verifier::new(ISSUER, [AUDIENCE], &jwks)
        .unwrap()
        .verify(&token, NOW)
        .unwrap();
    assert_eq!(verified.aud, vec![AUDIENCE.to_owned()]);
    assert_eq!(verified.azp.as_deref(), Some("client"));
    assert_eq!(verified.kubernetes, None);
}

#[test]
fn forged_signature_with_the_same_kid_is_rejected() {
    let attacker = SigningKey::generate(KeyAlgorithm::RS256).unwrap();
    let token = sign(
        &attacker.to_pkcs8_pem(),
        Algorithm::RS256,
        Some(RSA_KID),
        &good_claims(),
    );
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn tampered_payload_is_rejected() {
    let (token, _) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("system:serviceaccount:kube-system:admin");
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(
        verifier().verify(&tampered, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn expiry_honours_the_leeway() {
    let (token, _) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    let exp = NOW + 3600;
    assert!(verifier().verify(&token, exp + 60).is_ok());
    assert_eq!(
        verifier().verify(&token, exp + 61),
        Err(VerifyError::Expired { exp, now: exp + 61 })
    );
    assert_eq!(
        verifier().with_leeway(0).verify(&token, exp + 1),
        Err(VerifyError::Expired { exp, now: exp + 1 })
    );
}

#[test]
fn not_yet_valid_token_is_rejected() {
    let (token, _) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    assert!(verifier().verify(&token, NOW - 60).is_ok());
    assert_eq!(
        verifier().verify(&token, NOW - 61),
        Err(VerifyError::NotYetValid {
            nbf: NOW,
            now: NOW - 61
        })
    );
}

#[test]
fn token_issued_in_the_future_is_rejected() {
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("nbf");
    claims["iat"] = json!(NOW + 120);
    let token = sign(RSA_PKCS8_PEM, Algorithm::RS256, Some(RSA_KID), &claims);
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::IssuedInFuture {
            iat: NOW + 120,
            now: NOW
        })
    );
}

#[test]
fn wrong_audience_is_rejected() {
    let request = TokenRequest::new(["pods.eks.amazonaws.com"]);
    let (token, _) = mint(&rsa_key(), ISSUER, &service_account(), &request, NOW).unwrap();
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::WrongAudience(vec![
            "pods.eks.amazonaws.com".into()
        ]))
    );
}

#[test]
fn wrong_issuer_is_rejected() {
    let (token, _) = mint(
        &rsa_key(),
        "https://evil.test",
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::WrongIssuer {
            expected: ISSUER.into(),
            actual: "https://evil.test".into()
        })
    );
}

#[test]
fn alg_none_is_rejected() {
    let header = json!({"alg": "none", "kid": RSA_KID});
    for token in [
        format!("{}.{}.", b64(&header), b64(&good_claims())),
        format!("{}.{}.c2ln", b64(&header), b64(&good_claims())),
    ] {
        assert_eq!(
            verifier().verify(&token, NOW),
            Err(VerifyError::UnsupportedAlgorithm("none".into()))
        );
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    let secret = EncodingKey::from_secret(RSA_PUBLIC_PEM.as_bytes()).unwrap();
    let header = Header {
        kid: Some(RSA_KID.into()),
        ..Header::new(Algorithm::HS256)
    };
    let token = jsonwebtoken::encode(&header, &good_claims(), &secret).unwrap();
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::UnsupportedAlgorithm("HS256".into()))
    );
}

#[test]
fn symmetric_keys_in_a_jwks_are_never_used() {
    let jwks =
        Jwks::from_json(r#"{"keys":[{"kty":"oct","kid":"k","alg":"HS256","k":"c2VjcmV0"}]}"#)
            .unwrap();
    let verifier = Verifier::new(ISSUER, [AUDIENCE], &jwks).unwrap();
    assert!(!verifier.has_key("k"));
    let secret = EncodingKey::from_secret(b"secret").unwrap();
    let header = Header {
        kid: Some("k".into()),
        ..Header::new(Algorithm::HS256)
    };
    let token = jsonwebtoken::encode(&header, &good_claims(), &secret).unwrap();
    assert_eq!(
        verifier.verify(&token, NOW),
        Err(VerifyError::UnsupportedAlgorithm("HS256".into()))
    );
}

#[test]
fn unknown_kid_is_reported_for_a_jwks_refetch() {
    let other = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
    let verifier = Verifier::new(ISSUER, [AUDIENCE], &Jwks::from_signing_keys([&other])).unwrap();
    let (token, _) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        verifier.verify(&token, NOW),
        Err(VerifyError::UnknownKeyId(RSA_KID.into()))
    );
}

#[test]
fn kid_of_a_key_of_another_type_is_a_mismatch() {
    let token = sign(
        RSA_PKCS8_PEM,
        Algorithm::RS256,
        Some(EC_KID),
        &good_claims(),
    );
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::KeyAlgorithmMismatch {
            kid: EC_KID.into(),
            alg: JwtAlgorithm::RS256
        })
    );
    // The JWK pins RS256, so RS512 with the right key is refused too.
    let token = sign(
        RSA_PKCS8_PEM,
        Algorithm::RS512,
        Some(RSA_KID),
        &good_claims(),
    );
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::KeyAlgorithmMismatch {
            kid: RSA_KID.into(),
            alg: JwtAlgorithm::RS512
        })
    );
}

#[test]
fn algorithm_allow_list_is_enforced() {
    let (token, _) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    assert_eq!(
        verifier()
            .with_algorithms(&[JwtAlgorithm::ES256])
            .verify(&token, NOW),
        Err(VerifyError::UnsupportedAlgorithm("RS256".into()))
    );
}

#[test]
fn token_without_kid_is_checked_against_every_key() {
    let token = sign(EC_PKCS8_PEM, Algorithm::ES256, None, &good_claims());
    assert!(verifier().verify(&token, NOW).is_ok());
    let attacker = SigningKey::generate(KeyAlgorithm::ES256).unwrap();
    let token = sign(
        &attacker.to_pkcs8_pem(),
        Algorithm::ES256,
        None,
        &good_claims(),
    );
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn oversized_token_is_rejected_before_parsing() {
    let request = TokenRequest::new(["a".repeat(MAX_TOKEN_LENGTH)]);
    let (token, _) = mint(&rsa_key(), ISSUER, &service_account(), &request, NOW).unwrap();
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::TooLarge(token.len()))
    );
    let junk = "x".repeat(MAX_TOKEN_LENGTH + 1);
    assert_eq!(
        verifier().verify(&junk, NOW),
        Err(VerifyError::TooLarge(20_001))
    );
    assert_eq!(decode_unverified(&junk), Err(VerifyError::TooLarge(20_001)));
}

#[test]
fn missing_sub_is_named() {
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("sub");
    let token = sign(RSA_PKCS8_PEM, Algorithm::RS256, Some(RSA_KID), &claims);
    assert_eq!(
        verifier().verify(&token, NOW),
        Err(VerifyError::MissingClaim("sub"))
    );
}

#[test]
fn malformed_tokens_are_named() {
    let header = b64(&json!({"alg": "RS256", "kid": RSA_KID}));
    let critical = b64(&json!({"alg": "RS256", "kid": RSA_KID, "crit": ["exp"]}));
    let cases = [
        ("", "not three dot-separated segments"),
        ("a.b", "not three dot-separated segments"),
        ("a.b.c.d", "not three dot-separated segments"),
        ("!!.e30.c2ln", "header is not base64url"),
        (
            "e30.e30.c2ln",
            "header is not a JSON object with a string alg",
        ),
        (
            &format!("{critical}.e30.c2ln"),
            "critical header extensions are not supported",
        ),
        (&format!("{header}.e30.c2ln="), "signature is not base64url"),
    ];
    for (token, reason) in cases {
        assert_eq!(
            verifier().verify(token, NOW),
            Err(VerifyError::Malformed(reason)),
            "{token}"
        );
    }
}

/// A pod-bound token of `ISSUER`, signed with the EC key, and its claims.
fn pod_bound_es256_token() -> (String, podpass_token::Claims) {
    mint(
        &ec_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap()
}

#[test]
fn unverified_claims_reads_only_the_fields_asked_for() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Issuer {
        iss: String,
    }
    let (token, _) = pod_bound_es256_token();
    assert_eq!(
        unverified_claims::<Issuer>(&token),
        Ok(Issuer {
            iss: ISSUER.to_owned()
        })
    );
    let malformed = Err(VerifyError::Malformed(
        "claims are not a base64url JSON object",
    ));
    // Claims that are a list, lack the field, or repeat it are refused.
    for claims in [r#"[1]"#, r#"{"sub":"x"}"#, r#"{"iss":"a","iss":"b"}"#] {
        let token = format!("e30.{}.x", URL_SAFE_NO_PAD.encode(claims));
        assert_eq!(unverified_claims::<Issuer>(&token), malformed, "{claims}");
    }
    let oversized = "a".repeat(MAX_TOKEN_LENGTH + 1);
    assert!(matches!(
        unverified_claims::<Issuer>(&oversized),
        Err(VerifyError::TooLarge(_))
    ));
}

#[test]
fn decode_unverified_returns_header_and_claims() {
    let (token, claims) = pod_bound_es256_token();
    let (header, payload) = decode_unverified(&token).unwrap();
    assert_eq!(header, json!({"alg": "ES256", "kid": EC_KID}));
    assert_eq!(payload, serde_json::to_value(&claims).unwrap());
    assert_eq!(
        decode_unverified("e30.WzFd.x"),
        Err(VerifyError::Malformed(
            "claims are not a base64url JSON object"
        ))
    );
}

#[test]
fn broken_jwks_entries_are_reported() {
    let mut short = rsa_key().public_jwk().clone();
    short.n = Some(URL_SAFE_NO_PAD.encode([0xff; 128]));
    assert!(matches!(
        Verifier::new(ISSUER, [AUDIENCE], &Jwks { keys: vec![short] }),
        Err(JwksError::InvalidKey {
            reason: "RSA modulus shorter than 2048 bits",
            ..
        })
    ));
    let mut bad_ec = ec_key().public_jwk().clone();
    bad_ec.y = Some("AAAA".into());
    assert!(matches!(
        Verifier::new(ISSUER, [AUDIENCE], &Jwks { keys: vec![bad_ec] }),
        Err(JwksError::InvalidKey {
            reason: "EC coordinates have the wrong length",
            ..
        })
    ));
    let twice = Jwks::from_signing_keys([&rsa_key(), &rsa_key()]);
    assert_eq!(
        Verifier::new(ISSUER, [AUDIENCE], &twice).err(),
        Some(JwksError::DuplicateKeyId(RSA_KID.into()))
    );
}

#[test]
fn encryption_keys_are_skipped() {
    let encryption = PublicJwk {
        key_use: Some("enc".into()),
        ..rsa_key().public_jwk().clone()
    };
    let verifier = Verifier::new(
        ISSUER,
        [AUDIENCE],
        &Jwks {
            keys: vec![encryption],
        },
    )
    .unwrap();
    assert!(!verifier.has_key(RSA_KID));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_text_never_verifies(text in "[A-Za-z0-9_.=-]{0,400}") {
            prop_assert!(verifier().verify(&text, NOW).is_err());
            let _ = decode_unverified(&text);
        }

        #[test]
        fn any_changed_character_breaks_the_token(index in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
            let (token, _) = mint(&ec_key(), ISSUER, &service_account(), &pod_bound_request(), NOW).unwrap();
            let position = index.index(token.len());
            let mut mutated = token.clone();
            mutated.replace_range(position..=position, &replacement);
            prop_assume!(mutated != token);
            prop_assert!(verifier().verify(&mutated, NOW).is_err());
        }
    }
}

#[test]
fn es384_tokens_verify_against_p384_jwks() {
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let key_pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
    let pkcs8 = key_pair.to_pkcs8v1().unwrap();
    let point = key_pair.public_key().as_ref();
    let jwk = PublicJwk {
        key_use: None,
        kty: "EC".into(),
        kid: Some("p384".into()),
        crv: Some("P-384".into()),
        alg: Some("ES384".into()),
        x: Some(URL_SAFE_NO_PAD.encode(&point[1..49])),
        y: Some(URL_SAFE_NO_PAD.encode(&point[49..])),
        n: None,
        e: None,
    };
    let header = Header {
        kid: Some("p384".into()),
        ..Header::new(Algorithm::ES384)
    };
    let signer = EncodingKey::from_ec_der(pkcs8.as_ref());
    let token = jsonwebtoken::encode(&header, &good_claims(), &signer).unwrap();
    let verifier = Verifier::new(ISSUER, [AUDIENCE], &Jwks { keys: vec![jwk] }).unwrap();
    assert_eq!(
        verifier.verify(&token, NOW).unwrap().sub,
        "system:serviceaccount:default:app"
    );
    assert_eq!(
        verifier
            .with_algorithms(&[JwtAlgorithm::ES256])
            .verify(&token, NOW),
        Err(VerifyError::UnsupportedAlgorithm("ES384".into()))
    );
}

#[test]
fn shared_types_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Verifier>();
    assert_send_sync::<SigningKey>();
    assert_send_sync::<Jwks>();
}

#[test]
fn zero_padded_rsa_modulus_is_accepted() {
    let mut padded = rsa_key().public_jwk().clone();
    let n = URL_SAFE_NO_PAD.decode(RSA_N).unwrap();
    padded.n = Some(URL_SAFE_NO_PAD.encode([&[0u8][..], &n].concat()));
    let verifier = Verifier::new(ISSUER, [AUDIENCE], &Jwks { keys: vec![padded] }).unwrap();
    let (token, _) = mint(
        &rsa_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        NOW,
    )
    .unwrap();
    assert!(verifier.verify(&token, NOW).is_ok());
}
