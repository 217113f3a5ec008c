mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{FakeTokens, ManualClock, objects};
use podpass_kubelet::atomic_writer::{self, FileContent, Payload};
use podpass_kubelet::{Pod, PodVolumes, VolumeDeps, parse_document};

fn payload(files: &[(&str, &str, u32)]) -> Payload {
    files
        .iter()
        .map(|(path, data, mode)| {
            (
                (*path).to_owned(),
                FileContent {
                    data: data.as_bytes().to_vec(),
                    mode: *mode,
                },
            )
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn timestamped_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("..") && n != "..data")
        .collect();
    names.sort();
    names
}

#[test]
fn writer_uses_the_data_link_layout_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vol");
    atomic_writer::write(
        &dir,
        &payload(&[
            ("token", "t1", 0o600),
            ("ca.crt", "ca", 0o644),
            ("sub/x", "x", 0o640),
        ]),
        Duration::ZERO,
    )
    .unwrap();

    let data_target = fs::read_link(dir.join("..data")).unwrap();
    let ts = data_target.to_string_lossy().into_owned();
    assert!(ts.starts_with("..20"), "{ts}");
    assert_eq!(timestamped_dirs(&dir), vec![ts.clone()]);
    assert_eq!(
        fs::read_link(dir.join("token")).unwrap(),
        Path::new("..data/token")
    );
    assert_eq!(
        fs::read_link(dir.join("ca.crt")).unwrap(),
        Path::new("..data/ca.crt")
    );
    assert_eq!(
        fs::read_link(dir.join("sub")).unwrap(),
        Path::new("..data/sub")
    );
    assert_eq!(fs::read_to_string(dir.join("token")).unwrap(), "t1");
    assert_eq!(fs::read_to_string(dir.join("sub/x")).unwrap(), "x");
    assert_eq!(mode(&dir.join(&ts).join("token")), 0o600);
    assert_eq!(mode(&dir.join(&ts).join("ca.crt")), 0o644);
    assert_eq!(mode(&dir.join(&ts).join("sub/x")), 0o640);
    assert_eq!(mode(&dir.join(&ts)), 0o755);
}

#[test]
fn update_swaps_atomically_and_removes_the_old_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vol");
    let grace = Duration::from_millis(200);
    atomic_writer::write(
        &dir,
        &payload(&[("token", "v0", 0o644), ("old", "o", 0o644)]),
        grace,
    )
    .unwrap();
    let first = fs::read_link(dir.join("..data")).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, path) = (stop.clone(), dir.join("token"));
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::SeqCst) {
                // Every read must succeed and see a complete value.
                let content = fs::read_to_string(&path).expect("token path missing mid-swap");
                assert!(content.starts_with('v'), "torn read: {content:?}");
                reads += 1;
            }
            reads
        })
    };
    for i in 1..=300 {
        atomic_writer::write(&dir, &payload(&[("token", &format!("v{i}"), 0o644)]), grace).unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);

    assert_eq!(fs::read_to_string(dir.join("token")).unwrap(), "v300");
    // Replaced directories go once their grace has passed.
    let current = fs::read_link(dir.join("..data")).unwrap();
    for _ in 0..250 {
        if timestamped_dirs(&dir).len() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !dir.join(&first).exists(),
        "old timestamped dir left behind"
    );
    assert_eq!(
        timestamped_dirs(&dir),
        vec![current.to_string_lossy().into_owned()]
    );
    assert!(
        fs::symlink_metadata(dir.join("old")).is_err(),
        "stale visible link kept"
    );
}

fn pod(yaml: &str) -> Pod {
    Pod::from_value(&parse_document(yaml).unwrap()).unwrap()
}

const TOKEN_POD: &str = r#"
metadata: {name: p, namespace: default, uid: uid-1, labels: {app: web}}
spec:
  serviceAccountName: s3-reader
  containers: [{name: c, command: ["true"]}]
  volumes:
  - name: aws-iam-token
    projected:
      sources:
      - serviceAccountToken: {audience: sts.amazonaws.com, expirationSeconds: 600, path: token}
  - name: cfg
    configMap:
      name: settings
      defaultMode: 0o640
      items: [{key: a.txt, path: renamed/a, mode: 0o600}]
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
"#;

fn volumes_for(
    pod: Pod,
    root: &Path,
    clock: Arc<ManualClock>,
    tokens: Arc<FakeTokens>,
) -> PodVolumes {
    PodVolumes::new(
        pod,
        root.to_path_buf(),
        VolumeDeps {
            tokens,
            objects: Arc::new(objects()),
            clock,
            max_refresh_jitter: Duration::ZERO,
            metrics: podpass_kubelet::KubeletMetrics::default(),
            // Not a volume's name: those are DNS labels.
            claims: root.join(".claims"),
        },
    )
}

#[tokio::test]
async fn volumes_are_materialised_with_their_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let tokens = FakeTokens::new(clock.clone());
    let mut volumes = volumes_for(pod(TOKEN_POD), tmp.path(), clock, tokens.clone());
    volumes.set_up().await.unwrap();

    let token = tmp.path().join("aws-iam-token/token");
    assert_eq!(
        fs::read_to_string(&token).unwrap(),
        "tok-sts.amazonaws.com-1"
    );
    // No fsGroup and no common runAsUser: the projected defaultMode.
    assert_eq!(mode(&token), 0o644);
    assert_eq!(
        fs::read_to_string(tmp.path().join("cfg/renamed/a")).unwrap(),
        "alpha"
    );
    assert_eq!(mode(&tmp.path().join("cfg/renamed/a")), 0o600);
    assert!(!tmp.path().join("cfg/b.txt").exists());
    assert_eq!(
        fs::read_to_string(tmp.path().join("info/labels")).unwrap(),
        "app=\"web\"\n"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("info/name")).unwrap(),
        "p"
    );

    let request = &tokens.requests()[0];
    assert_eq!(request.namespace, "default");
    assert_eq!(request.service_account, "s3-reader");
    assert_eq!(request.audience.as_deref(), Some("sts.amazonaws.com"));
    assert_eq!(request.expiration_seconds, 600);
    assert_eq!(request.pod.name, "p");
    assert_eq!(request.pod.uid, "uid-1");
}

#[tokio::test]
async fn token_is_0600_with_fs_group() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let yaml = TOKEN_POD.replace("spec:\n", "spec:\n  securityContext: {fsGroup: 65534}\n");
    let mut volumes = volumes_for(
        pod(&yaml),
        tmp.path(),
        clock.clone(),
        FakeTokens::new(clock),
    );
    volumes.set_up().await.unwrap();
    assert_eq!(mode(&tmp.path().join("aws-iam-token/token")), 0o600);
}

#[tokio::test]
async fn tokens_refresh_at_eighty_percent_of_their_lifetime() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let tokens = FakeTokens::new(clock.clone());
    let mut volumes = volumes_for(pod(TOKEN_POD), tmp.path(), clock.clone(), tokens.clone());
    volumes.set_up().await.unwrap();
    let token = tmp.path().join("aws-iam-token/token");

    // 600 s token: refresh after 480 s.
    clock.set(10_480);
    assert!(volumes.refresh_due().await.unwrap().is_empty());
    assert_eq!(
        fs::read_to_string(&token).unwrap(),
        "tok-sts.amazonaws.com-1"
    );

    clock.set(10_481);
    assert_eq!(volumes.refresh_due().await.unwrap(), vec!["aws-iam-token"]);
    assert_eq!(
        fs::read_to_string(&token).unwrap(),
        "tok-sts.amazonaws.com-2"
    );
    // Other volumes were left alone.
    assert_eq!(tokens.requests().len(), 2);
}

#[tokio::test]
async fn failed_refresh_keeps_the_old_token_until_it_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let tokens = FakeTokens::new(clock.clone());
    let mut volumes = volumes_for(pod(TOKEN_POD), tmp.path(), clock.clone(), tokens.clone());
    volumes.set_up().await.unwrap();
    let token = tmp.path().join("aws-iam-token/token");

    tokens.failing.store(true, Ordering::SeqCst);
    clock.set(10_500);
    volumes.refresh_due().await.unwrap();
    assert_eq!(
        fs::read_to_string(&token).unwrap(),
        "tok-sts.amazonaws.com-1"
    );

    clock.set(10_600);
    let err = volumes.refresh_due().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"aws-iam-token\": failed to fetch token for serviceaccount \"s3-reader\": issuer unavailable"
    );
    assert_eq!(
        fs::read_to_string(&token).unwrap(),
        "tok-sts.amazonaws.com-1"
    );

    tokens.failing.store(false, Ordering::SeqCst);
    volumes.refresh_due().await.unwrap();
    assert_eq!(
        fs::read_to_string(&token).unwrap(),
        "tok-sts.amazonaws.com-2"
    );
}

#[tokio::test]
async fn missing_config_map_fails_unless_optional() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let yaml = r#"
metadata: {name: p}
spec:
  containers: [{name: c, command: ["true"]}]
  volumes:
  - {name: opt, configMap: {name: absent, optional: true}}
  - {name: req, configMap: {name: absent}}
"#;
    let mut volumes = volumes_for(pod(yaml), tmp.path(), clock.clone(), FakeTokens::new(clock));
    let err = volumes.set_up().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"req\": configmap \"absent\" not found"
    );
    assert!(tmp.path().join("opt/..data").exists());
}

#[tokio::test]
async fn token_mode_follows_run_as_user() {
    let clock = ManualClock::at(10_000);
    let single = TOKEN_POD.replace(
        "  containers: [{name: c, command: [\"true\"]}]",
        "  securityContext: {runAsUser: 1000}\n  containers: [{name: c, command: [\"true\"]}, {name: d, command: [\"true\"]}]",
    );
    let mixed = TOKEN_POD.replace(
        "  containers: [{name: c, command: [\"true\"]}]",
        "  containers: [{name: c, command: [\"true\"], securityContext: {runAsUser: 1}}, {name: d, command: [\"true\"]}]",
    );
    for (yaml, expected) in [(single, 0o600), (mixed, 0o644)] {
        let tmp = tempfile::tempdir().unwrap();
        let tokens = FakeTokens::new(clock.clone());
        let mut volumes = volumes_for(pod(&yaml), tmp.path(), clock.clone(), tokens);
        volumes.set_up().await.unwrap();
        assert_eq!(
            mode(&tmp.path().join("aws-iam-token/token")),
            expected,
            "{yaml}"
        );
    }
}

#[tokio::test]
async fn secret_volumes_honour_default_mode_and_missing_keys_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let mut objects = objects();
    objects.secrets.insert(
        ("default".into(), "creds".into()),
        [("password".to_owned(), b"hunter2".to_vec())]
            .into_iter()
            .collect(),
    );
    let yaml = r#"
metadata: {name: p}
spec:
  containers: [{name: c, command: ["true"]}]
  volumes:
  - {name: s, secret: {secretName: creds, defaultMode: 0o400}}
"#;
    let deps = |objects: podpass_kubelet::StaticObjects| VolumeDeps {
        tokens: FakeTokens::new(clock.clone()),
        objects: Arc::new(objects),
        clock: clock.clone(),
        max_refresh_jitter: Duration::ZERO,
        metrics: podpass_kubelet::KubeletMetrics::default(),
        claims: tmp.path().join(".claims"),
    };
    let mut volumes = PodVolumes::new(pod(yaml), tmp.path().to_path_buf(), deps(objects.clone()));
    volumes.set_up().await.unwrap();
    let file = tmp.path().join("s/password");
    assert_eq!(fs::read_to_string(&file).unwrap(), "hunter2");
    assert_eq!(mode(&file), 0o400);

    let missing_key = yaml.replace("defaultMode: 0o400}", "items: [{key: nope, path: x}]}");
    let mut volumes = PodVolumes::new(pod(&missing_key), tmp.path().to_path_buf(), deps(objects));
    let err = volumes.set_up().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"s\": secret references non-existent secret key: nope"
    );
}

#[tokio::test]
async fn a_claim_outlives_its_pod_and_no_claim_name_leaves_the_claims_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(10_000);
    let yaml = r#"
metadata: {name: s3-0, namespace: podpass}
spec:
  containers: [{name: c, command: ["true"]}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data-s3-0}}
  - {name: scratch, emptyDir: {}}
"#;
    let claims = tmp.path().join("claims");
    let run = |pod_dir: &str| {
        PodVolumes::new(
            pod(yaml),
            tmp.path().join(pod_dir),
            VolumeDeps {
                tokens: FakeTokens::new(clock.clone()),
                objects: Arc::new(objects()),
                clock: clock.clone(),
                max_refresh_jitter: Duration::ZERO,
                metrics: podpass_kubelet::KubeletMetrics::default(),
                claims: claims.clone(),
            },
        )
    };
    let mut first = run("first");
    first.set_up().await.unwrap();
    let claim = claims.join("podpass/data-s3-0");
    assert_eq!(first.dir("data"), claim);
    assert_eq!(first.dir("scratch"), tmp.path().join("first/scratch"));
    fs::write(claim.join("object"), "kept").unwrap();
    fs::write(first.dir("scratch").join("file"), "lost").unwrap();

    // The pod is deleted with its directory and made again: the claim's data is there.
    fs::remove_dir_all(tmp.path().join("first")).unwrap();
    let mut second = run("second");
    second.set_up().await.unwrap();
    assert_eq!(
        fs::read_to_string(second.dir("data").join("object")).unwrap(),
        "kept"
    );
    assert!(!second.dir("scratch").join("file").exists());

    // A claim name is a directory name of the node: no path tricks.
    for name in ["../../etc", "a/b", "..", "UPPER"] {
        let hostile = format!(
            "metadata: {{name: p}}\nspec:\n  containers: [{{name: c, command: [\"true\"]}}]\n  \
             volumes: [{{name: data, persistentVolumeClaim: {{claimName: '{name}'}}}}]\n"
        );
        let refused = Pod::from_value(&parse_document(&hostile).unwrap()).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("persistentVolumeClaim.claimName"),
            "{name}: {refused}"
        );
    }
}
