//! An OIDC issuer independent of podpass: a stand-in for a kube-apiserver's ServiceAccount
//! signer (or any identity provider), with its own RSA key from openssl.

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};

use super::{Podpass, text};

/// The issuer of kind, k3s and kubeadm clusters.
pub(crate) const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// A kube-apiserver's ServiceAccount signer, independent of podpass.
pub(crate) struct Apiserver {
    key: EncodingKey,
    kid: String,
    jwk: Value,
}

impl Apiserver {
    pub(crate) fn new(kid: &str) -> Self {
        let out = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let key = EncodingKey::from_rsa_pem(&out.stdout).expect("RSA key");
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!("RS256");
        Self {
            key,
            kid: kid.to_owned(),
            jwk,
        }
    }

    /// The JWKS `kubectl get --raw /openid/v1/jwks` prints.
    pub(crate) fn jwks(signers: &[&Apiserver]) -> String {
        json!({"keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>()}).to_string()
    }

    /// A projected token of `namespace:sa`, bound to a pod when `pod` is given.
    pub(crate) fn token(
        &self,
        audience: &str,
        namespace: &str,
        sa: &str,
        pod: Option<&str>,
        ttl: i64,
    ) -> String {
        self.sign(&claims(audience, namespace, sa, pod, ttl))
    }

    /// `claims`, signed with this issuer's key.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

/// The claims of a projected token of `namespace:sa`, bound to a pod when `pod` is given.
pub(crate) fn claims(
    audience: &str,
    namespace: &str,
    sa: &str,
    pod: Option<&str>,
    ttl: i64,
) -> Value {
    let now = jiff::Timestamp::now().as_second();
    let mut kubernetes = json!({
        "namespace": namespace,
        "serviceaccount": {"name": sa, "uid": "0c8f4c5e-1111-4a8e-9e0e-000000000001"},
    });
    if let Some(pod) = pod {
        kubernetes["pod"] = json!({"name": pod, "uid": "5b1c6d2e-2222-4c1e-8f00-000000000002"});
        kubernetes["node"] =
            json!({"name": "node-1", "uid": "7a9e3f10-3333-4b2a-9c00-000000000003"});
    }
    json!({
        "iss": ISSUER,
        "aud": [audience],
        "sub": format!("system:serviceaccount:{namespace}:{sa}"),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "kubernetes.io": kubernetes,
    })
}

/// The IAM OIDC provider for [`ISSUER`] with STS's audience, created with the admin's
/// credentials; its ARN.
pub(crate) fn oidc_provider(podpass: &Podpass) -> String {
    let provider = podpass.aws_admin_json(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        ISSUER,
        "--client-id-list",
        "sts.amazonaws.com",
    ]);
    provider["OpenIDConnectProviderArn"]
        .as_str()
        .expect("the provider's ARN")
        .to_owned()
}
