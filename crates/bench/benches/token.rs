//! ServiceAccount token verification (RS256 and ES256) with `podpass_token::Verifier`, next to
//! plain `jsonwebtoken::decode` with a pre-built key and validation, and the raw aws-lc-rs
//! signature check of the same token (the floor: no JSON, no claims), with the public key parsed
//! per call and pre-parsed.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
    VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use podpass_token::{
    Jwks, KeyAlgorithm, KubernetesClaims, ObjectRef, ServiceAccount, SigningKey, TokenRequest,
    Verifier, mint,
};
use serde::Deserialize;

const ISSUER: &str = "https://oidc.podpass.local/id/0123456789ABCDEF";
const AUDIENCE: &str = "sts.amazonaws.com";

/// The claims a jsonwebtoken user would deserialize a ServiceAccount token into.
#[derive(Debug, Deserialize)]
struct PeerClaims {
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    iss: String,
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubernetesClaims,
    nbf: i64,
    sub: String,
}

/// Everything each contender needs, prepared once.
struct Fixture {
    name: &'static str,
    token: String,
    now: i64,
    verifier: Verifier,
    decoding_key: DecodingKey,
    validation: Validation,
    algorithm: &'static dyn VerificationAlgorithm,
    spki_der: Vec<u8>,
    parsed_key: ParsedPublicKey,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Fixture {
    fn new(key_algorithm: KeyAlgorithm) -> Self {
        let key = SigningKey::generate(key_algorithm).expect("key generation");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        // A pod-bound token as the kubelet projects it (jsonwebtoken checks `exp` against the
        // real clock, so the token is minted now and lives a day).
        let request = TokenRequest {
            expiration_seconds: Some(86_400),
            bound_pod: Some(ObjectRef {
                name: "payments-7d9f8b6c5-x2x4z".into(),
                uid: "0f5e1c7a-3b8e-4c1f-9a55-2f3d4e5a6b7c".into(),
            }),
            bound_node: Some(ObjectRef {
                name: "node-a".into(),
                uid: "6a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d".into(),
            }),
            ..TokenRequest::new([AUDIENCE])
        };
        let service_account = ServiceAccount {
            namespace: "payments-ns".into(),
            name: "reader".into(),
            uid: "9b8a7c6d-5e4f-4321-8765-43210fedcba9".into(),
        };
        let (token, _) = mint(&key, ISSUER, &service_account, &request, now).expect("token mints");
        let verifier = Verifier::new(ISSUER, [AUDIENCE], &Jwks::from_signing_keys([&key]))
            .expect("JWKS loads");
        let jwk = key.public_jwk();
        let field = |value: &Option<String>| value.clone().expect("JWK field present");
        let (name, decoding_key, jwt_algorithm, algorithm): (
            _,
            _,
            _,
            &'static dyn VerificationAlgorithm,
        ) = match key_algorithm {
            KeyAlgorithm::RS256 => (
                "rs256",
                DecodingKey::from_rsa_components(&field(&jwk.n), &field(&jwk.e)),
                Algorithm::RS256,
                &RSA_PKCS1_2048_8192_SHA256,
            ),
            KeyAlgorithm::ES256 => (
                "es256",
                DecodingKey::from_ec_components(&field(&jwk.x), &field(&jwk.y)),
                Algorithm::ES256,
                &ECDSA_P256_SHA256_FIXED,
            ),
        };
        let mut validation = Validation::new(jwt_algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let spki_der = pem_body(&key.public_key_pem());
        let (signing_input, signature) = token.rsplit_once('.').expect("compact JWS");
        Fixture {
            name,
            now,
            verifier,
            decoding_key: decoding_key.expect("jsonwebtoken accepts the JWK"),
            validation,
            algorithm,
            parsed_key: ParsedPublicKey::new(algorithm, &spki_der).expect("SPKI parses"),
            spki_der,
            signing_input: signing_input.as_bytes().to_vec(),
            signature: URL_SAFE_NO_PAD
                .decode(signature)
                .expect("base64url signature"),
            token,
        }
    }

    fn podpass(&self, token: &str) -> bool {
        self.verifier.verify(token, self.now).is_ok()
    }

    fn jsonwebtoken(&self, token: &str) -> Option<PeerClaims> {
        jsonwebtoken::decode::<PeerClaims>(token, &self.decoding_key, &self.validation)
            .ok()
            .map(|data| data.claims)
    }

    fn raw_unparsed(&self, signature: &[u8]) -> bool {
        UnparsedPublicKey::new(self.algorithm, &self.spki_der)
            .verify(&self.signing_input, signature)
            .is_ok()
    }

    fn raw_parsed(&self, signature: &[u8]) -> bool {
        self.parsed_key
            .verify_sig(&self.signing_input, signature)
            .is_ok()
    }
}

/// The base64 body of a PEM block (the DER).
fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("PEM body is base64")
}

fn bench_fixture(c: &mut Criterion, fixture: &Fixture) {
    // Every contender must accept the token, and reject it with a flipped signature bit.
    let mut forged = fixture.signature.clone();
    forged[10] ^= 1;
    let forged_token = format!(
        "{}.{}",
        String::from_utf8_lossy(&fixture.signing_input),
        URL_SAFE_NO_PAD.encode(&forged)
    );
    assert!(fixture.podpass(&fixture.token));
    let claims = fixture
        .jsonwebtoken(&fixture.token)
        .expect("jsonwebtoken accepts");
    assert_eq!(claims.aud, [AUDIENCE]);
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.sub, "system:serviceaccount:payments-ns:reader");
    assert_eq!(claims.kubernetes.namespace, "payments-ns");
    assert_eq!(
        (claims.iat, claims.nbf, claims.exp - claims.iat),
        (fixture.now, fixture.now, 86_400)
    );
    assert_eq!(claims.jti.len(), 36);
    assert!(fixture.raw_unparsed(&fixture.signature));
    assert!(fixture.raw_parsed(&fixture.signature));
    assert!(!fixture.podpass(&forged_token));
    assert!(fixture.jsonwebtoken(&forged_token).is_none());
    assert!(!fixture.raw_parsed(&forged));

    let mut group = c.benchmark_group(format!("token/{}", fixture.name));
    group.throughput(Throughput::Elements(1));
    group.bench_function("podpass-verifier", |b| {
        b.iter(|| fixture.podpass(black_box(&fixture.token)))
    });
    group.bench_function("jsonwebtoken-decode", |b| {
        b.iter(|| fixture.jsonwebtoken(black_box(&fixture.token)))
    });
    group.bench_function("aws-lc-verify-unparsed-key", |b| {
        b.iter(|| fixture.raw_unparsed(black_box(&fixture.signature)))
    });
    group.bench_function("aws-lc-verify-parsed-key", |b| {
        b.iter(|| fixture.raw_parsed(black_box(&fixture.signature)))
    });
    group.finish();
}

fn token(c: &mut Criterion) {
    bench_fixture(c, &Fixture::new(KeyAlgorithm::RS256));
    bench_fixture(c, &Fixture::new(KeyAlgorithm::ES256));
}

criterion_group! {
    name = benches;
    config = podpass_bench::criterion();
    targets = token
}
criterion_main!(benches);
