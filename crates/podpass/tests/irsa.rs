//! IRSA end to end: eksctl-style role creation, a projected-style token in a file, and the
//! unmodified AWS CLI, boto3 and AWS SDK for Rust getting credentials through their own
//! web-identity providers; then every way STS must refuse.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use support::{Podpass, assert_aws_error, http_get, text};

const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";

/// An instance with `default/reader` set up for IRSA; returns the role ARN.
fn irsa_instance() -> (Podpass, String) {
    let podpass = Podpass::start();
    let (out, role_arn) = podpass.irsa_service_account("reader", READ_ONLY);
    assert!(
        out.contains("created IAM Open ID Connect provider"),
        "{out}"
    );
    (podpass, role_arn)
}

fn token(podpass: &Podpass, sa: &str, audience: &str) -> String {
    podpass.token(sa, audience, Some("app-0"))
}

fn web_identity(
    podpass: &Podpass,
    role_arn: &str,
    token: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        role_arn,
        "--role-session-name",
        "s1",
        "--web-identity-token",
        token,
    ];
    args.extend_from_slice(extra);
    podpass.aws(&[], &args)
}

#[test]
fn the_cli_and_boto3_get_credentials_through_their_web_identity_providers() {
    let (podpass, role_arn) = irsa_instance();
    let role_name = role_arn.rsplit('/').next().unwrap();
    let token_file = podpass.write("token", &token(&podpass, "reader", "sts.amazonaws.com"));
    let token_file = token_file.to_str().unwrap();
    let env = [
        ("AWS_ROLE_ARN", role_arn.as_str()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file),
        ("AWS_ROLE_SESSION_NAME", "irsa-test"),
    ];
    let out = podpass.aws(&env, &["sts", "get-caller-identity"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    let identity: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        identity["Arn"],
        format!("arn:aws:sts::000000000000:assumed-role/{role_name}/irsa-test")
    );
    assert_eq!(identity["Account"], "000000000000");
    assert!(identity["UserId"].as_str().unwrap().starts_with("AROA"));

    let out = podpass.python(
        &env,
        "import boto3\n\
         s = boto3.Session()\n\
         c = s.get_credentials().get_frozen_credentials()\n\
         assert c.access_key.startswith('ASIA') and len(c.access_key) == 20, c.access_key\n\
         print(s.client('sts').get_caller_identity()['Arn'])",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("arn:aws:sts::000000000000:assumed-role/{role_name}/irsa-test")
    );
}

#[test]
fn the_rust_sdk_default_chain_assumes_the_role() {
    let (podpass, role_arn) = irsa_instance();
    let token_file = podpass.write("token", &token(&podpass, "reader", "sts.amazonaws.com"));
    // The SDK's default chain reads the process environment, as in a pod: run it in a child
    // process (this test binary, running only the ignored probe below) with exactly that env.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    podpass.client_env(
        &mut child,
        &[
            ("AWS_ROLE_ARN", role_arn.as_str()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AWS_ROLE_SESSION_NAME", "rust-sdk"),
        ],
    );
    let out = child
        .args([
            "rust_sdk_probe",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let role_name = role_arn.rsplit('/').next().unwrap();
    let expected = format!("ARN=arn:aws:sts::000000000000:assumed-role/{role_name}/rust-sdk");
    assert!(
        stdout.contains(&expected),
        "{stdout}\n{}",
        text(&out.stderr)
    );
}

/// Runs inside the child process of the test above: the default chain, then GetCallerIdentity.
#[test]
#[ignore = "a probe run by the_rust_sdk_default_chain_assumes_the_role in a clean environment"]
fn rust_sdk_probe() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let arn = runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let sts = aws_sdk_sts::Client::new(&config);
        sts.get_caller_identity()
            .send()
            .await
            .map(|o| o.arn.unwrap_or_default())
    });
    println!(
        "ARN={}",
        arn.expect("get-caller-identity through the Rust SDK")
    );
}

/// The demo cluster's signing key, issuer and a ServiceAccount uid, read from the store.
fn issuer_material(podpass: &Podpass, sa: &str) -> (podpass_token::SigningKey, String, String) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = podpass_store::Store::open_sqlite_file(&podpass.data_dir().join("podpass.db"))
            .await
            .unwrap();
        let keys = store.signing_keys("demo").await.unwrap();
        let key = podpass_token::SigningKey::from_pem(&keys[0].private_key_pem).unwrap();
        let cluster = store.cluster("demo").await.unwrap();
        let uid = store
            .service_account("demo", "default", sa)
            .await
            .unwrap()
            .uid;
        (key, cluster.issuer_url, uid)
    })
}

fn mint_at(
    key: &podpass_token::SigningKey,
    issuer: &str,
    uid: &str,
    audience: &str,
    now: i64,
) -> String {
    let sa = podpass_token::ServiceAccount {
        namespace: "default".into(),
        name: "reader".into(),
        uid: uid.into(),
    };
    let request = podpass_token::TokenRequest::new([audience]);
    podpass_token::mint(key, issuer, &sa, &request, now)
        .unwrap()
        .0
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

#[test]
fn sts_refuses_every_token_it_must_refuse() {
    let (podpass, role_arn) = irsa_instance();
    let good = token(&podpass, "reader", "sts.amazonaws.com");
    // The baseline works, so each refusal below is about its one change.
    let out = web_identity(&podpass, &role_arn, &good, &[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        podpass.log()
    );

    podpass.podpass_ok(&["sa", "create", "other"]);
    let other = token(&podpass, "other", "sts.amazonaws.com");
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &other, &[]),
        "AccessDenied",
    );

    let wrong_aud = token(&podpass, "reader", "my-app");
    let err = assert_aws_error(
        &web_identity(&podpass, &role_arn, &wrong_aud, &[]),
        "InvalidIdentityToken",
    );
    assert!(err.contains("Incorrect token audience"), "{err}");

    let (key, issuer, uid) = issuer_material(&podpass, "reader");
    let expired = mint_at(&key, &issuer, &uid, "sts.amazonaws.com", now() - 7200);
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &expired, &[]),
        "ExpiredTokenException",
    );
    let future = mint_at(&key, &issuer, &uid, "sts.amazonaws.com", now() + 3600);
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &future, &[]),
        "InvalidIdentityToken",
    );

    let stranger = podpass_token::SigningKey::generate(podpass_token::KeyAlgorithm::RS256).unwrap();
    let unknown_issuer = mint_at(
        &stranger,
        "https://oidc.example.com/id/X",
        &uid,
        "sts.amazonaws.com",
        now(),
    );
    let err = assert_aws_error(
        &web_identity(&podpass, &role_arn, &unknown_issuer, &[]),
        "InvalidIdentityToken",
    );
    assert!(
        err.contains(
            "No OpenIDConnect provider found in your account for https://oidc.example.com/id/X"
        ),
        "{err}"
    );
    let unknown_kid = mint_at(&stranger, &issuer, &uid, "sts.amazonaws.com", now());
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &unknown_kid, &[]),
        "InvalidIdentityToken",
    );

    let parts: Vec<&str> = good.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none"})), parts[1]);
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &none, &[]),
        "InvalidIdentityToken",
    );
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key.public_key_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &hs256, &[]),
        "InvalidIdentityToken",
    );
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = "system:serviceaccount:default:reader ".into();
    let tampered = format!("{}.{}.{}", parts[0], b64(&tampered_claims), parts[2]);
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &tampered, &[]),
        "InvalidIdentityToken",
    );
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let bad_signature = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &bad_signature, &[]),
        "InvalidIdentityToken",
    );
    let huge = format!("{good}{}", "A".repeat(20_001 - good.len()));
    assert_aws_error(
        &web_identity(&podpass, &role_arn, &huge, &[]),
        "ValidationError",
    );

    let err = assert_aws_error(
        &web_identity(&podpass, &role_arn, &good, &["--duration-seconds", "7200"]),
        "ValidationError",
    );
    assert!(err.contains("MaxSessionDuration"), "{err}");
}

#[test]
fn a_role_trusting_something_else_denies_the_web_identity() {
    let (podpass, _) = irsa_instance();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#;
    let role = podpass.aws_admin_json(&[
        "iam",
        "create-role",
        "--role-name",
        "pod-identity-only",
        "--assume-role-policy-document",
        trust,
    ]);
    let arn = role["Role"]["Arn"].as_str().unwrap();
    let good = token(&podpass, "reader", "sts.amazonaws.com");
    assert_aws_error(&web_identity(&podpass, arn, &good, &[]), "AccessDenied");
}

#[test]
fn expired_sessions_and_forged_session_tokens_are_refused() {
    let (podpass, role_arn) = irsa_instance();
    let out = web_identity(
        &podpass,
        &role_arn,
        &token(&podpass, "reader", "sts.amazonaws.com"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let creds = &creds["Credentials"];
    let (akid, secret, session) = (
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str().unwrap(),
    );
    let call = |akid: &str, secret: &str, session: &str| {
        podpass.aws(
            &[
                ("AWS_ACCESS_KEY_ID", akid),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_SESSION_TOKEN", session),
            ],
            &["sts", "get-caller-identity"],
        )
    };
    assert!(call(akid, secret, session).status.success());
    assert_aws_error(
        &call(akid, "wrong-secret-wrong-secret-wrong-secret-00", session),
        "SignatureDoesNotMatch",
    );
    let mut forged = session.to_owned();
    forged.replace_range(20..21, if &session[20..21] == "A" { "B" } else { "A" });
    assert_aws_error(&call(akid, secret, &forged), "InvalidClientTokenId");

    // A session sealed with the instance's own key but already expired.
    let expired = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = podpass_store::Store::open_sqlite_file(&podpass.data_dir().join("podpass.db"))
            .await
            .unwrap();
        let sealer = podpass_control::sealing::load_sealer(&store, now())
            .await
            .unwrap();
        let mut identity = sealer.open(session, akid, now()).unwrap().identity;
        identity.session_name = "old".into();
        sealer.mint(identity, 900, now() - 3600).unwrap().0
    });
    assert_aws_error(
        &call(
            &expired.access_key_id,
            &expired.secret_access_key,
            &expired.session_token,
        ),
        "ExpiredToken",
    );
}

#[test]
fn roles_providers_keys_and_live_sessions_survive_a_restart() {
    let (mut podpass, role_arn) = irsa_instance();
    let token_before = token(&podpass, "reader", "sts.amazonaws.com");
    let out = web_identity(&podpass, &role_arn, &token_before, &[]);
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    podpass.restart();
    let c = &creds["Credentials"];
    let out = podpass.aws(
        &[
            ("AWS_ACCESS_KEY_ID", c["AccessKeyId"].as_str().unwrap()),
            (
                "AWS_SECRET_ACCESS_KEY",
                c["SecretAccessKey"].as_str().unwrap(),
            ),
            ("AWS_SESSION_TOKEN", c["SessionToken"].as_str().unwrap()),
        ],
        &["sts", "get-caller-identity"],
    );
    assert!(
        out.status.success(),
        "credentials from before the restart: {}",
        text(&out.stderr)
    );
    // The token signed before the restart still verifies: same key, same provider, same role.
    let out = web_identity(&podpass, &role_arn, &token_before, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let roles = podpass.aws_admin_json(&["iam", "list-roles"]);
    let names: Vec<&str> = roles["Roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["RoleName"].as_str())
        .collect();
    assert_eq!(names, ["podpass-demo-default-reader", "podpass-demo-node"]);
}

#[test]
fn key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let (podpass, role_arn) = irsa_instance();
    let before = token(&podpass, "reader", "sts.amazonaws.com");
    assert!(
        web_identity(&podpass, &role_arn, &before, &[])
            .status
            .success()
    );
    let out = podpass.podpass_ok(&["cluster", "rotate-key", "--algorithm", "es256"]);
    assert!(out.contains("earlier keys stay published"), "{out}");
    let after = token(&podpass, "reader", "sts.amazonaws.com");
    let header = |t: &str| -> serde_json::Value {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header(&after)["alg"], "ES256");
    assert_ne!(header(&after)["kid"], header(&before)["kid"]);
    // STS refetches the JWKS for the unknown kid (at most once a second per issuer).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = web_identity(&podpass, &role_arn, &after, &[]);
    assert!(out.status.success(), "new key: {}", text(&out.stderr));
    let out = web_identity(&podpass, &role_arn, &before, &[]);
    assert!(
        out.status.success(),
        "old key still published: {}",
        text(&out.stderr)
    );
    let listed = podpass.podpass_ok(&["cluster", "list"]);
    assert!(listed.contains("ES256"), "{listed}");
    assert!(listed.contains("podpass (2 published keys)"), "{listed}");
}

#[test]
fn a_retired_key_stops_verifying_within_the_issuer_keys_refresh() {
    // One second instead of the default, so that the poll below ends soon; the test asserts
    // no timing, only that the refusal comes.
    let podpass = Podpass::start_with(&["--issuer-keys-refresh", "1"], &[]);
    let (_, role_arn) = podpass.irsa_service_account("reader", READ_ONLY);
    let old = token(&podpass, "reader", "sts.amazonaws.com");
    let out = web_identity(&podpass, &role_arn, &old, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kid = |t: &str| -> String {
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let old_kid = kid(&old);
    // The active key cannot be retired: it signs the new tokens.
    let refused = podpass.podpass(&["cluster", "retire-key", "--kid", &old_kid]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("rotate the key first"),
        "{}",
        text(&refused.stderr)
    );
    podpass.podpass_ok(&["cluster", "rotate-key"]);
    let out = podpass.podpass_ok(&["cluster", "retire-key", "--kid", &old_kid]);
    assert!(
        out.contains(&format!("no longer publishes key {old_kid}")),
        "{out}"
    );
    let jwks: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{}/openid/v1/jwks", podpass.issuer()))).unwrap();
    assert!(!jwks.to_string().contains(&old_kid), "{jwks}");

    // The old token is still within its lifetime; STS refuses it once its keys are revalidated.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = web_identity(&podpass, &role_arn, &old, &[]);
        if !out.status.success() {
            assert_aws_error(&out, "InvalidIdentityToken");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a token of the retired key is still accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Tokens of the new key work.
    let new = token(&podpass, "reader", "sts.amazonaws.com");
    assert_ne!(kid(&new), old_kid);
    let out = web_identity(&podpass, &role_arn, &new, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn iamserviceaccounts_are_deleted_from_the_default_namespace_as_eksctl_does() {
    let (podpass, role_arn) = irsa_instance();
    let role = role_arn.rsplit('/').next().unwrap().to_owned();
    let out = podpass.podpass_ok(&["delete", "iamserviceaccount", "--name", "reader"]);
    assert!(
        out.contains("deleted serviceaccount \"default/reader\""),
        "{out}"
    );
    assert!(!podpass.podpass(&["sa", "get", "reader"]).status.success());
    assert_aws_error(
        &podpass.aws_admin(&["iam", "get-role", "--role-name", &role]),
        "NoSuchEntity",
    );
}

#[test]
fn iam_simulate_explains_trust_and_permission_decisions_offline() {
    let (podpass, _) = irsa_instance();
    let url = podpass.issuer().split("//").nth(1).unwrap().to_owned();
    let provider = format!("arn:aws:iam::000000000000:oidc-provider/{url}");
    let simulate = |sub: &str| {
        podpass.podpass_ok(&[
            "iam",
            "simulate",
            "--trust-of",
            "podpass-demo-default-reader",
            "--action",
            "sts:AssumeRoleWithWebIdentity",
            "--caller",
            &provider,
            "--context",
            &format!("{url}:sub=system:serviceaccount:default:{sub}"),
            "--context",
            &format!("{url}:aud=sts.amazonaws.com"),
            "-o",
            "json",
        ])
    };
    let allowed: serde_json::Value = serde_json::from_str(&simulate("reader")).unwrap();
    assert_eq!(allowed["decision"], "allowed");
    let conditions = &allowed["statements"][0]["conditions"];
    assert_eq!(conditions.as_array().unwrap().len(), 2, "{allowed}");
    assert!(
        conditions
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["held"] == true)
    );
    // The account root, the default caller, is told that STS refuses it AssumeRole.
    let as_root = podpass.podpass(&[
        "iam",
        "simulate",
        "--trust-of",
        "podpass-demo-default-reader",
        "--action",
        "sts:AssumeRole",
    ]);
    assert!(as_root.status.success(), "{}", text(&as_root.stderr));
    assert!(
        text(&as_root.stderr).contains("Roles may not be assumed by root accounts."),
        "{}",
        text(&as_root.stderr)
    );
    let denied: serde_json::Value = serde_json::from_str(&simulate("intruder")).unwrap();
    assert_eq!(denied["decision"], "implicitDeny");
    // Why: the statement that names the ServiceAccount, and the `sub` it saw instead.
    let sub = denied["unmetStatements"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"].as_str().is_some_and(|k| k.ends_with(":sub")))
        .cloned()
        .unwrap_or_default();
    assert_eq!(sub["held"], false, "{denied}");
    assert_eq!(
        sub["requestValues"],
        serde_json::json!(["system:serviceaccount:default:intruder"]),
        "{denied}"
    );
    assert_eq!(
        sub["policyValues"],
        serde_json::json!(["system:serviceaccount:default:reader"]),
        "{denied}"
    );

    let text_out = podpass.podpass_ok(&[
        "iam",
        "simulate",
        "--role",
        "podpass-demo-default-reader",
        "--action",
        "s3:PutObject",
        "--resource",
        "arn:aws:s3:::b/k",
    ]);
    assert!(
        text_out.starts_with("implicitDeny s3:putobject on arn:aws:s3:::b/k"),
        "{text_out}"
    );
    // A session policy narrows what the role allows: AWS's simulator cannot show this.
    let session = podpass.write(
        "session.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
    );
    let narrowed = podpass.podpass_ok(&[
        "iam",
        "simulate",
        "--role",
        "podpass-demo-default-reader",
        "--action",
        "s3:GetObject",
        "--resource",
        "arn:aws:s3:::b/k",
        "--session-policy",
        session.to_str().unwrap(),
    ]);
    assert!(narrowed.starts_with("implicitDeny"), "{narrowed}");
}
