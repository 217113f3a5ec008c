//! Issuer side: JWKS and discovery bytes, and minted token shape.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use podpass_token::{
    DiscoveryDocument, Jwks, JwtAlgorithm, MintError, TokenRequest, TokenRequestError,
    discovery_document, mint,
};

fn segment_text(token: &str, index: usize) -> String {
    let segment = token.split('.').nth(index).unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

#[test]
fn jwks_bytes_match_kube_apiserver_layout() {
    let jwks = Jwks::from_signing_keys([&rsa_key(), &ec_key()])
        .to_json()
        .unwrap();
    let expected = format!(
        concat!(
            r#"{{"keys":[{{"use":"sig","kty":"RSA","kid":"{}","alg":"RS256","n":"{}","e":"AQAB"}},"#,
            r#"{{"use":"sig","kty":"EC","kid":"{}","crv":"P-256","alg":"ES256","x":"{}","y":"{}"}}]}}"#
        ),
        RSA_KID, RSA_N, EC_KID, EC_X, EC_Y
    );
    assert_eq!(jwks, expected);
    assert_eq!(
        Jwks::from_json(&jwks).unwrap(),
        Jwks::from_signing_keys([&rsa_key(), &ec_key()])
    );
}

#[test]
fn discovery_json_is_byte_exact() {
    let json = discovery_document(
        ISSUER,
        "https://issuer.podpass.test/openid/v1/jwks",
        [
            JwtAlgorithm::RS256,
            JwtAlgorithm::ES256,
            JwtAlgorithm::RS256,
        ],
    )
    .unwrap();
    assert_eq!(
        json,
        concat!(
            r#"{"issuer":"https://issuer.podpass.test","#,
            r#""jwks_uri":"https://issuer.podpass.test/openid/v1/jwks","#,
            r#""response_types_supported":["id_token"],"#,
            r#""subject_types_supported":["public"],"#,
            r#""id_token_signing_alg_values_supported":["ES256","RS256"]}"#
        )
    );
}

#[test]
fn discovery_escapes_like_go_and_parses_foreign_documents() {
    let json = discovery_document(ISSUER, "https://h/jwks?a=1&b=2", [JwtAlgorithm::RS256]).unwrap();
    assert!(json.contains(r#""jwks_uri":"https://h/jwks?a=1\u0026b=2""#));
    let foreign = DiscoveryDocument::from_json(
        r#"{"issuer":"https://x","jwks_uri":"https://x/keys","claims_supported":["sub"]}"#,
    )
    .unwrap();
    assert_eq!(foreign.jwks_uri, "https://x/keys");
    assert!(foreign.id_token_signing_alg_values_supported.is_empty());
}

#[test]
fn minted_claims_have_the_api_server_byte_shape() {
    let key = rsa_key();
    let (token, claims) =
        mint(&key, ISSUER, &service_account(), &pod_bound_request(), NOW).unwrap();

    assert_eq!(
        segment_text(&token, 0),
        format!(r#"{{"alg":"RS256","kid":"{RSA_KID}"}}"#)
    );
    let jti = claims.jti.clone().unwrap();
    let expected = format!(
        concat!(
            r#"{{"aud":["sts.amazonaws.com"],"exp":1700003600,"iat":1700000000,"#,
            r#""iss":"https://issuer.podpass.test","jti":"{}","#,
            r#""kubernetes.io":{{"namespace":"default","node":{{"name":"node-1","uid":"node-uid"}},"#,
            r#""pod":{{"name":"app-1","uid":"pod-uid"}},"serviceaccount":{{"name":"app","uid":"sa-uid"}}}},"#,
            r#""nbf":1700000000,"sub":"system:serviceaccount:default:app"}}"#
        ),
        jti
    );
    assert_eq!(segment_text(&token, 1), expected);
    assert_eq!(claims.exp, NOW + 3600);
    assert_eq!(claims.iat, Some(NOW));
    assert_eq!(claims.nbf, Some(NOW));
}

#[test]
fn jti_is_a_fresh_uuid_v4() {
    let key = ec_key();
    let request = TokenRequest::new([AUDIENCE]);
    let (_, first) = mint(&key, ISSUER, &service_account(), &request, NOW).unwrap();
    let (_, second) = mint(&key, ISSUER, &service_account(), &request, NOW).unwrap();
    let jti = first.jti.unwrap();
    let parsed = uuid::Uuid::parse_str(&jti).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(parsed.hyphenated().to_string(), jti);
    assert_ne!(Some(jti), second.jti);
}

#[test]
fn unbound_token_has_only_namespace_and_serviceaccount() {
    let request = TokenRequest {
        expiration_seconds: Some(86400),
        ..TokenRequest::new(["a", "b"])
    };
    let (token, claims) = mint(&ec_key(), ISSUER, &service_account(), &request, NOW).unwrap();
    assert_eq!(
        segment_text(&token, 0),
        format!(r#"{{"alg":"ES256","kid":"{EC_KID}"}}"#)
    );
    let payload: serde_json::Value = serde_json::from_str(&segment_text(&token, 1)).unwrap();
    assert_eq!(
        payload["kubernetes.io"],
        serde_json::json!({"namespace": "default", "serviceaccount": {"name": "app", "uid": "sa-uid"}})
    );
    assert_eq!(payload["aud"], serde_json::json!(["a", "b"]));
    assert_eq!(claims.exp, NOW + 86400);
}

#[test]
fn minting_enforces_token_request_bounds() {
    let with = |seconds| TokenRequest {
        expiration_seconds: Some(seconds),
        ..TokenRequest::new([AUDIENCE])
    };
    for (seconds, expected) in [
        (599, TokenRequestError::ExpirationTooShort(599)),
        (
            (1 << 32) + 1,
            TokenRequestError::ExpirationTooLong((1 << 32) + 1),
        ),
    ] {
        let error = mint(&rsa_key(), ISSUER, &service_account(), &with(seconds), NOW).unwrap_err();
        assert!(
            matches!(error, MintError::Request(ref e) if *e == expected),
            "{error}"
        );
    }
    let (_, claims) = mint(&rsa_key(), ISSUER, &service_account(), &with(600), NOW).unwrap();
    assert_eq!(claims.exp, NOW + 600);
}

#[test]
fn minted_tokens_verify_with_jsonwebtoken_independently() {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    let key = rsa_key();
    let (token, _) = mint(&key, ISSUER, &service_account(), &pod_bound_request(), now).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap();
    let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
    assert_eq!(data.header.kid.as_deref(), Some(RSA_KID));
    assert_eq!(data.header.typ, None);
    assert_eq!(data.claims["sub"], "system:serviceaccount:default:app");

    let (token, _) = mint(
        &ec_key(),
        ISSUER,
        &service_account(),
        &pod_bound_request(),
        now,
    )
    .unwrap();
    validation.algorithms = vec![jsonwebtoken::Algorithm::ES256];
    let decoding = jsonwebtoken::DecodingKey::from_ec_pem(EC_PUBLIC_PEM.as_bytes()).unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).is_ok());
}
