//! The kubelet's token rotation under a real SDK: a pod keeps calling AWS with boto3 while its
//! projected token (600 s, the shortest Kubernetes allows) is rewritten at 80% of its lifetime.
//! It takes about nine minutes, so it runs alone in this file.

mod support;

use support::{Podpass, text};

#[test]
fn a_pod_keeps_working_across_a_token_rotation() {
    let podpass = Podpass::start();
    podpass.irsa_service_account("rotator", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess");
    // Every 20 s: hash the token file, then a fresh boto3 session (which reads the file) calls STS.
    let script = "import boto3, hashlib, os, time
path = os.environ['AWS_WEB_IDENTITY_TOKEN_FILE']
deadline = time.time() + 540
while time.time() < deadline:
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()[:12]
    arn = boto3.Session().client('sts').get_caller_identity()['Arn']
    print(digest, arn, flush=True)
    time.sleep(20)
";
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: rotator\n  annotations:\n    eks.amazonaws.com/token-expiration: \"600\"\nspec:\n  serviceAccountName: rotator\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: python\n    command: [\"python3\", \"-c\", {script:?}]\n"
    );
    let file = podpass.write("rotator.yaml", &manifest);
    let out = podpass.podpass(&["run", "-f", file.to_str().unwrap(), "--attach"]);
    let logs = text(&out.stdout);
    assert!(
        out.status.success(),
        "{logs}\n{}\n{}",
        text(&out.stderr),
        podpass.log()
    );
    let lines: Vec<(&str, &str)> = logs.lines().filter_map(|l| l.split_once(' ')).collect();
    assert!(lines.len() >= 25, "{logs}");
    assert!(
        lines
            .iter()
            .all(|(_, arn)| arn.contains(":assumed-role/podpass-demo-default-rotator/")),
        "every call, before and after the rotation, is the role's session:\n{logs}"
    );
    let mut tokens: Vec<&str> = lines.iter().map(|(digest, _)| *digest).collect();
    tokens.dedup();
    assert!(
        tokens.len() >= 2,
        "the token file was rewritten (at 80% of 600 s):\n{logs}"
    );
}
