//! The command line against a real instance: up, env, sa, token.

mod support;

use support::{Podpass, text};

#[test]
fn env_prints_exports_and_fails_clearly_without_an_instance() {
    let mut podpass = Podpass::start();
    let exports = podpass.podpass_ok(&["env"]);
    assert!(
        exports.contains(&format!("export AWS_ENDPOINT_URL={}", podpass.endpoint())),
        "{exports}"
    );
    assert!(exports.contains("export AWS_PROFILE=podpass"), "{exports}");
    assert!(
        exports.contains(&format!("export PODPASS_ISSUER_URL={}", podpass.issuer())),
        "{exports}"
    );
    podpass.stop();
    let out = podpass.podpass(&["env"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no podpass instance is running"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn issuer_serves_discovery_and_jwks_like_kube_apiserver() {
    let podpass = Podpass::start();
    let issuer = podpass.issuer();
    assert!(
        issuer.starts_with(&format!("{}/id/", podpass.endpoint())),
        "{issuer}"
    );
    let out = podpass.python(
        &[],
        &format!(
            "import json, urllib.request\n\
             d = json.load(urllib.request.urlopen('{issuer}/.well-known/openid-configuration'))\n\
             k = json.load(urllib.request.urlopen(d['jwks_uri']))\n\
             print(json.dumps([sorted(d), d['issuer'], d['jwks_uri'], [sorted(x) for x in k['keys']]]))"
        ),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        serde_json::json!([
            [
                "id_token_signing_alg_values_supported",
                "issuer",
                "jwks_uri",
                "response_types_supported",
                "subject_types_supported"
            ],
            issuer,
            format!("{issuer}/openid/v1/jwks"),
            [["alg", "e", "kid", "kty", "n", "use"]]
        ])
    );
}

#[test]
fn tokens_are_issued_for_existing_service_accounts_and_decoded_honestly() {
    let podpass = Podpass::start();
    let out = podpass.podpass(&["token", "create", "--service-account", "app"]);
    assert!(
        text(&out.stderr).contains("serviceaccounts \"app\" in namespace \"default\" not found")
    );
    podpass.podpass_ok(&["sa", "create", "app", "-n", "team"]);
    let token = podpass.podpass_ok(&[
        "token",
        "create",
        "-n",
        "team",
        "--service-account",
        "app",
        "--audience",
        "sts.amazonaws.com",
        "--pod",
        "web-0",
        "--duration",
        "20m",
    ]);
    let decoded = podpass.podpass_ok(&["token", "decode", token.trim()]);
    assert!(
        decoded.contains("\"sub\": \"system:serviceaccount:team:app\""),
        "{decoded}"
    );
    assert!(decoded.contains("\"name\": \"web-0\""), "{decoded}");
    assert!(decoded.contains("Signature: VALID"), "{decoded}");
    assert!(
        decoded.contains("(in 20m 0s)") || decoded.contains("(in 19m 59s)"),
        "{decoded}"
    );

    // A payload swapped for another subject keeps the signature of the original: INVALID.
    let parts: Vec<&str> = token.trim().split('.').collect();
    let forged_claims = podpass.python(
        &[],
        &format!(
            "import base64, json\n\
             p = '{}'; p += '=' * (-len(p) % 4)\n\
             c = json.loads(base64.urlsafe_b64decode(p)); c['sub'] = 'system:serviceaccount:kube-system:admin'\n\
             print(base64.urlsafe_b64encode(json.dumps(c).encode()).decode().rstrip('='))",
            parts[1]
        ),
    );
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        text(&forged_claims.stdout).trim(),
        parts[2]
    );
    let decoded = podpass.podpass_ok(&["token", "decode", &forged]);
    assert!(decoded.contains("Signature: INVALID"), "{decoded}");

    let short = podpass.podpass(&[
        "token",
        "create",
        "-n",
        "team",
        "--service-account",
        "app",
        "--duration",
        "5m",
    ]);
    assert!(text(&short.stderr).contains("may not specify a duration less than 10 minutes"));
}

#[test]
fn service_accounts_read_like_kubectl() {
    let podpass = Podpass::start();
    assert_eq!(
        podpass.podpass_ok(&["sa", "create", "reader"]),
        "serviceaccount/reader created\n"
    );
    podpass.podpass_ok(&[
        "sa",
        "annotate",
        "reader",
        "eks.amazonaws.com/role-arn=arn:aws:iam::000000000000:role/r",
    ]);
    let yaml = podpass.podpass_ok(&["sa", "get", "reader", "-o", "yaml"]);
    assert!(yaml.starts_with("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::000000000000:role/r\n"), "{yaml}");
    let table = podpass.podpass_ok(&["sa", "get"]);
    assert!(
        table.starts_with("NAME     SECRETS   AGE\nreader   0         "),
        "{table}"
    );
    assert_eq!(
        podpass.podpass_ok(&["sa", "delete", "reader"]),
        "serviceaccount \"reader\" deleted\n"
    );
    let out = podpass.podpass(&["sa", "get", "reader"]);
    assert!(!out.status.success());
}

#[test]
fn explain_shows_the_deciding_statement_and_condition() {
    let podpass = Podpass::start();
    let policy = podpass.write(
        "tls-only.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"TlsOnly","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let explain = |secure: &str| {
        podpass.podpass_ok(&[
            "explain",
            "--policy",
            policy.to_str().unwrap(),
            "--action",
            "s3:GetObject",
            "--resource",
            "arn:aws:s3:::b/k",
            "--context",
            &format!("aws:SecureTransport={secure}"),
        ])
    };
    let denied = explain("false");
    assert!(
        denied.starts_with("explicitDeny s3:getobject on arn:aws:s3:::b/k: denied by statement"),
        "{denied}"
    );
    assert!(
        denied.contains(r#"Bool aws:SecureTransport ["false"] saw ["false"] -> true"#),
        "{denied}"
    );
    let allowed = explain("true");
    assert!(allowed.starts_with("allowed s3:getobject"), "{allowed}");
}
