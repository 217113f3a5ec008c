//! The command line against a real instance: up, env, sa, token.

mod support;

use std::process::Command;

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

    // A projected token's file decodes as the token does.
    let file = podpass.write("token", token.trim());
    let from_file = podpass.podpass_ok(&["token", "decode", file.to_str().unwrap()]);
    assert!(from_file.contains("Signature: VALID"), "{from_file}");
    let missing = podpass.podpass(&["token", "decode", "/no/such/token"]);
    assert!(
        text(&missing.stderr).contains("not a JWT, nor a file holding one"),
        "{}",
        text(&missing.stderr)
    );

    // A reader that stops early (head) ends the command quietly, not with a panic.
    let piped = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; {} manifests | head -1",
                env!("CARGO_BIN_EXE_podpass")
            ),
        ])
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    assert_eq!(text(&piped.stderr), "");
    assert_eq!(text(&piped.stdout).lines().count(), 1);

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
        podpass.podpass_ok(&["sa", "get", "-o", "name"]),
        "serviceaccount/reader\n"
    );
    // Logs go to a file here: no terminal colour codes in them.
    assert!(!podpass.log().contains('\u{1b}'), "{}", podpass.log());
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

/// `podpass ARGS --help`.
fn help(args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_podpass"))
        .args(args)
        .arg("--help")
        .env_clear()
        .output()
        .expect("podpass --help")
}

/// The subcommands a help text lists under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The `podpass ...` invocations of a help text's examples, continuation lines joined and
/// pipelines split.
fn example_invocations(help: &str) -> Vec<Vec<String>> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in help.lines().skip_while(|l| *l != "Examples:").skip(1) {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            joined.push(std::mem::take(&mut current));
        }
    }
    joined
        .iter()
        .flat_map(|line| line.split(['|', '&']))
        .map(|segment| {
            segment
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|words| words.first().map(String::as_str) == Some("podpass"))
        // Up to a redirection, which is the shell's.
        .map(|words| {
            words[1..]
                .iter()
                .take_while(|w| !w.starts_with(['>', '<']))
                .cloned()
                .collect()
        })
        .collect()
}

#[test]
fn every_command_has_examples_that_parse_as_written() {
    let mut pending = vec![Vec::<String>::new()];
    let mut checked = 0;
    while let Some(path) = pending.pop() {
        let out = help(&path);
        assert!(out.status.success(), "podpass {path:?} --help");
        let page = text(&out.stdout);
        for sub in subcommands(&page) {
            pending.push([path.clone(), vec![sub]].concat());
        }
        // A command that only groups others (`<COMMAND>` required) shows its subcommands.
        let usage = page.lines().find(|l| l.starts_with("Usage:")).unwrap_or("");
        if path.is_empty() || usage.ends_with("<COMMAND>") {
            continue;
        }
        assert!(
            page.contains("\nExamples:\n"),
            "podpass {path:?} has no examples"
        );
        let examples = example_invocations(&page);
        assert!(
            !examples.is_empty(),
            "podpass {path:?}: no podpass command in its examples"
        );
        for mut words in examples {
            // Parsed up to the arguments a command runs (after `--`), then help instead of running.
            let at = words.iter().position(|w| w == "--").unwrap_or(words.len());
            words.truncate(at);
            let out = help(&words);
            assert!(
                out.status.success(),
                "the example `podpass {}` of podpass {path:?} does not parse: {}",
                words.join(" "),
                text(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} examples checked");
}
