//! The local cluster's CA: every pod's `ca.crt` is a real CA certificate, and it verifies the
//! API's HTTPS listener, from the host and from a pod, through the unmodified AWS CLI.

mod support;

use std::os::unix::fs::PermissionsExt as _;

use support::{Podpass, text};

#[test]
fn pods_verify_the_api_over_https_with_their_ca_crt() {
    let mut podpass = Podpass::start();
    let https = podpass.instance["https_endpoint_url"]
        .as_str()
        .expect("an HTTPS endpoint")
        .to_owned();
    assert!(https.starts_with("https://127.0.0.1:"), "{https}");
    let ca_file = podpass.instance["ca_file"]
        .as_str()
        .expect("the CA file")
        .to_owned();
    let ca = std::fs::read_to_string(&ca_file).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let key = std::path::Path::new(&ca_file).with_file_name("ca.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the CA key is its owner's only");

    // From the host: the AWS CLI trusts the endpoint with the CA, and refuses it without.
    let admin = |vars: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(support::venv().join("bin/aws"));
        podpass.client_env(&mut cmd, vars);
        cmd.env("AWS_PROFILE", "podpass")
            .env("AWS_ENDPOINT_URL", &https)
            .args(["sts", "get-caller-identity", "--output", "json"])
            .output()
            .expect("run aws")
    };
    let trusted = admin(&[("AWS_CA_BUNDLE", &ca_file)]);
    assert!(
        trusted.status.success(),
        "{}{}",
        text(&trusted.stdout),
        text(&trusted.stderr)
    );
    assert!(
        text(&trusted.stdout).contains(":root"),
        "{}",
        text(&trusted.stdout)
    );
    let untrusted = admin(&[]);
    assert!(!untrusted.status.success());
    assert!(
        text(&untrusted.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        text(&untrusted.stderr)
    );

    // From a pod: its projected ca.crt is that CA, KUBERNETES_SERVICE_* name the listener, and
    // an IRSA pod assumes its role over HTTPS, verifying the API with ca.crt.
    podpass.irsa_service_account("https-reader", "arn:aws:iam::aws:policy/ReadOnlyAccess");
    let pod = podpass.write(
        "pod.yaml",
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: https-reader}}
spec:
  serviceAccountName: https-reader
  restartPolicy: Never
  containers:
  - name: aws
    command:
    - sh
    - -c
    - |
      cmp /var/run/secrets/kubernetes.io/serviceaccount/ca.crt "$CLUSTER_CA" && echo "ca.crt is the cluster CA"
      aws --endpoint-url "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT" sts get-caller-identity --query Arn --output text
    env:
    - {{name: AWS_CA_BUNDLE, value: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt}}
    - {{name: CLUSTER_CA, value: {ca_file}}}
"#
        ),
    );
    let out = podpass.podpass(&["run", "-f", pod.to_str().unwrap(), "--attach"]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    assert!(stdout.contains("ca.crt is the cluster CA"), "{stdout}");
    assert!(
        stdout.contains(":assumed-role/") && stdout.contains("https-reader"),
        "{stdout}"
    );

    // The CA is the cluster's for good: a restart keeps it, with a fresh serving certificate.
    podpass.restart();
    assert_eq!(std::fs::read_to_string(&ca_file).unwrap(), ca);
}

#[test]
fn an_https_issuer_is_published_with_the_thumbprint_of_its_ca() {
    let podpass = Podpass::start();
    let https = podpass.instance["https_endpoint_url"].as_str().unwrap();
    let ca_file = podpass.instance["ca_file"].as_str().unwrap();
    // openssl's SHA-1 fingerprint of the CA, as AWS's guide has the operator compute it.
    let fingerprint = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in", ca_file])
        .output()
        .unwrap();
    let expected = text(&fingerprint.stdout)
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(expected.len(), 40, "{}", text(&fingerprint.stdout));

    let publish = |issuer: &str, cluster: &str| {
        podpass.podpass_ok(&["cluster", "create", cluster, "--issuer-url", issuer]);
        let dir = podpass.dir.path().join(cluster);
        podpass.podpass_ok(&[
            "issuer",
            "publish",
            "--cluster",
            cluster,
            "--to",
            dir.to_str().unwrap(),
        ])
    };
    // The API's listener presents its serving certificate and the CA above it: the thumbprint
    // is the CA's, which survives the serving certificate's renewal.
    let issuer = format!("{https}/oidc/edge");
    let printed = publish(&issuer, "edge");
    assert!(
        printed.contains(&format!(
            "aws iam create-open-id-connect-provider --url {issuer} --client-id-list sts.amazonaws.com --thumbprint-list {expected}\n"
        )),
        "{printed}"
    );

    // An issuer whose host does not answer yet is still published, with the reason and no
    // thumbprint.
    let printed = publish("https://127.0.0.1:1/oidc/later", "later");
    assert!(
        printed.contains("--client-id-list sts.amazonaws.com\n"),
        "{printed}"
    );
    assert!(printed.contains("note: no thumbprint: "), "{printed}");
}

#[test]
fn a_corrupt_or_foreign_ca_key_stops_up_with_the_reason() {
    let mut podpass = Podpass::start();
    let ca_file = std::path::PathBuf::from(podpass.instance["ca_file"].as_str().unwrap());
    let key_file = ca_file.with_file_name("ca.key");
    podpass.stop();
    let good_key = std::fs::read(&key_file).unwrap();

    // `podpass up` on the same data directory must refuse to start, and say why.
    let up = |podpass: &Podpass| -> String {
        // The log goes to a file: a pipe nobody reads would stall a chatty start.
        let log_path = podpass.dir.path().join("refused.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = podpass
            .command()
            .args([
                "up",
                "--listen",
                "127.0.0.1:0",
                "--agent-port",
                "0",
                "--s3-listen",
                "127.0.0.1:0",
                "--https-listen",
                "127.0.0.1:0",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "podpass up started with a bad CA key:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(!child.wait().unwrap().success());
        std::fs::read_to_string(&log_path).unwrap()
    };
    let garbage_written = std::fs::write(
        &key_file,
        b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    );
    garbage_written.unwrap();
    let refused = up(&podpass);
    assert!(refused.contains("parsing the CA key"), "{refused}");

    // Another CA's key, valid on its own: every certificate it signed would fail to verify.
    let other = Podpass::start();
    let other_key = std::path::PathBuf::from(other.instance["ca_file"].as_str().unwrap())
        .with_file_name("ca.key");
    std::fs::copy(&other_key, &key_file).unwrap();
    let refused = up(&podpass);
    assert!(
        refused.contains("is not the key of the CA certificate"),
        "{refused}"
    );

    // Its own key back: it starts again.
    std::fs::write(&key_file, good_key).unwrap();
    podpass.restart();
}
