mod common;

use std::time::Duration;

use common::{Harness, IRSA_ROLE, eventually, harness};
use podpass_kubelet::{ContainerState, KubeletError, MountMode, PodPhase, PodRecord};

const WAIT: Duration = Duration::from_secs(20);

async fn finished(h: &Harness, name: &str) -> PodRecord {
    let record = h
        .kubelet
        .wait_terminal("default", name, WAIT)
        .await
        .unwrap();
    assert!(
        record.status.phase.is_terminal(),
        "{name}: {:?}",
        record.status
    );
    record
}

async fn log(h: &Harness, name: &str, container: Option<&str>) -> String {
    String::from_utf8(h.kubelet.logs("default", name, container).await.unwrap()).unwrap()
}

fn pod(name: &str, body: &str) -> String {
    format!("metadata: {{name: {name}}}\nspec:\n{body}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_decide_the_phase_and_logs_are_captured() {
    let h = harness(MountMode::Rewrite).await;
    let ok = pod(
        "ok",
        "  restartPolicy: Never\n  containers:\n  - {name: c, command: [sh, -c, 'echo out; echo err >&2']}\n",
    );
    let bad = pod(
        "bad",
        "  restartPolicy: Never\n  containers:\n  - {name: c, command: [sh, -c, 'exit 3']}\n  - {name: d, command: ['true']}\n",
    );
    h.kubelet.run(&ok, None).await.unwrap();
    h.kubelet.run(&bad, None).await.unwrap();

    let ok = finished(&h, "ok").await;
    assert_eq!(ok.status.phase, PodPhase::Succeeded);
    assert_eq!(ok.status.container_statuses[0].exit_code(), Some(0));
    assert_eq!(log(&h, "ok", None).await, "out\nerr\n");

    let bad = finished(&h, "bad").await;
    assert_eq!(bad.status.phase, PodPhase::Failed);
    assert_eq!(bad.status.container_statuses[0].exit_code(), Some(3));
    assert_eq!(bad.status.container_statuses[1].exit_code(), Some(0));
    let ContainerState::Terminated { reason, .. } = &bad.status.container_statuses[0].state else {
        panic!("not terminated");
    };
    assert_eq!(reason, "Error");
    assert_eq!(h.kubelet.list(Some("default")).await.len(), 2);
    assert!(h.kubelet.list(Some("other")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_until_success_and_init_containers_run_first() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "retry",
        r#"  restartPolicy: OnFailure
  initContainers:
  - {name: first, command: [sh, -c, 'echo one > /work/order'], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: second, command: [sh, -c, 'echo two >> /work/order'], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - name: main
    command: [sh, -c, 'cat /work/order; if [ -e /work/seen ]; then exit 0; fi; touch /work/seen; exit 1']
    volumeMounts: [{name: work, mountPath: /work}]
  volumes: [{name: work, emptyDir: {}}]
"#,
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    let record = finished(&h, "retry").await;
    assert_eq!(record.status.phase, PodPhase::Succeeded);
    assert_eq!(record.status.container_statuses[0].restart_count, 1);
    assert_eq!(
        record.status.init_container_statuses[1].exit_code(),
        Some(0)
    );
    assert_eq!(log(&h, "retry", Some("main")).await, "one\ntwo\none\ntwo\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_init_container_fails_the_pod_without_starting_containers() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "init-fails",
        "  restartPolicy: Never\n  initContainers: [{name: i, command: [sh, -c, 'exit 7']}]\n  containers: [{name: c, command: [sh, -c, 'echo ran']}]\n",
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    let record = finished(&h, "init-fails").await;
    assert_eq!(record.status.phase, PodPhase::Failed);
    assert_eq!(
        record.status.init_container_statuses[0].exit_code(),
        Some(7)
    );
    assert_eq!(record.status.container_statuses[0].exit_code(), None);
    assert_eq!(log(&h, "init-fails", Some("c")).await, "");
}

const IRSA_POD: &str = r#"
metadata: {name: irsa}
spec:
  serviceAccountName: s3-reader
  restartPolicy: Never
  containers:
  - name: app
    command: [sh, -c, 'echo "$AWS_ROLE_ARN"; cat "$AWS_WEB_IDENTITY_TOKEN_FILE"; echo; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; cat /var/run/secrets/kubernetes.io/serviceaccount/ca.crt']
"#;

async fn irsa_pod_reads_its_token(mode: MountMode) {
    let h = harness(mode).await;
    let record = h.kubelet.run(IRSA_POD, None).await.unwrap();
    assert_eq!(record.object["spec"]["volumes"][0]["name"], "aws-iam-token");
    let done = finished(&h, "irsa").await;
    assert_eq!(done.status.phase, PodPhase::Succeeded, "{:?}", done.status);
    let audiences: Vec<_> = h
        .tokens
        .requests()
        .into_iter()
        .map(|r| r.audience)
        .collect();
    assert_eq!(audiences, vec![Some("sts.amazonaws.com".to_owned()), None]);
    let expected = format!(
        "{IRSA_ROLE}\ntok-sts.amazonaws.com-1\ndefault\n{}",
        String::from_utf8_lossy(common::CA_PEM)
    );
    assert_eq!(log(&h, "irsa", None).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irsa_pod_reads_its_token_through_path_rewriting() {
    irsa_pod_reads_its_token(MountMode::Rewrite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irsa_pod_reads_its_token_through_bind_mounts() {
    if MountMode::detect().await != MountMode::Namespace {
        eprintln!("skipped: no private mount namespace here");
        return;
    }
    irsa_pod_reads_its_token(MountMode::Namespace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_rewrites_the_token_a_running_process_rereads() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = r#"
metadata: {name: rotating}
spec:
  serviceAccountName: s3-reader
  automountServiceAccountToken: false
  containers:
  - name: app
    command: [sh, -c, 'while true; do cat "$AWS_WEB_IDENTITY_TOKEN_FILE"; echo; sleep 0.05; done']
  volumes:
  - name: aws-iam-token
    projected:
      sources: [{serviceAccountToken: {audience: sts.amazonaws.com, expirationSeconds: 600, path: token}}]
"#;
    h.kubelet.run(manifest, None).await.unwrap();
    eventually("the first token in the log", || async {
        log(&h, "rotating", None)
            .await
            .contains("tok-sts.amazonaws.com-1\n")
    })
    .await;
    // 481 s into a 600 s token: past 80%.
    h.clock.set(1_000_000 + 481);
    eventually("the rotated token in the log", || async {
        log(&h, "rotating", None)
            .await
            .contains("tok-sts.amazonaws.com-2\n")
    })
    .await;
    let log = log(&h, "rotating", None).await;
    assert!(
        !log.contains("tok-sts.amazonaws.com-3"),
        "rotated more than once: {log}"
    );
    assert!(
        log.lines().all(|l| l.starts_with("tok-sts.amazonaws.com-")),
        "{log}"
    );
    h.kubelet.delete("default", "rotating").await.unwrap();
}

fn process_alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_kills_the_processes_and_removes_the_pod() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "sleeper",
        r#"  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    command: [sh, -c, 'sleep 1000 & echo $! > /state/pid; wait']
    volumeMounts: [{name: state, mountPath: /state}]
  volumes: [{name: state, emptyDir: {}}]
"#,
    );
    let record = h.kubelet.run(&manifest, None).await.unwrap();
    let pod_dir = h.dir.path().join("pods/default/sleeper");
    assert!(pod_dir.join("pod.json").exists());
    let pid_file = pod_dir.join("volumes/state/pid");
    eventually("the pid file", || async { pid_file.exists() }).await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(process_alive(pid));
    assert_eq!(record.object["metadata"]["name"], "sleeper");

    let deleted = h.kubelet.delete("default", "sleeper").await.unwrap();
    assert_eq!(deleted.status.container_statuses[0].exit_code(), Some(143));
    eventually("sleep 1000 to die", || async { !process_alive(pid) }).await;
    assert!(!pod_dir.exists());
    assert!(matches!(
        h.kubelet.get("default", "sleeper").await,
        Err(KubeletError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_with_the_container_env_and_mounts() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "exec",
        r#"  serviceAccountName: s3-reader
  containers:
  - name: app
    command: [sleep, '1000']
    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}, {name: GREETING, value: 'hi $(POD)'}]
"#,
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    let argv: Vec<String> = [
        "sh",
        "-c",
        "echo $GREETING; cat $AWS_WEB_IDENTITY_TOKEN_FILE; exit 4",
    ]
    .map(String::from)
    .to_vec();
    let out = h
        .kubelet
        .exec("default", "exec", None, &argv)
        .await
        .unwrap();
    assert_eq!(out.stdout, "hi exec\ntok-sts.amazonaws.com-1");
    assert_eq!(out.exit_code, 4);
    let err = h
        .kubelet
        .exec("default", "exec", Some("nope"), &argv)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "container nope is not valid for pod exec, choose one of: [app]"
    );
    h.kubelet.delete("default", "exec").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_conflict_and_mount_failures_fail_the_pod() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "nocm",
        "  restartPolicy: Never\n  containers: [{name: c, command: ['true']}]\n  volumes: [{name: v, configMap: {name: absent}}]\n",
    );
    let record = h.kubelet.run(&manifest, None).await.unwrap();
    assert_eq!(record.status.phase, PodPhase::Failed);
    assert_eq!(record.status.reason.as_deref(), Some("FailedMount"));
    assert_eq!(
        record.status.message.as_deref(),
        Some("MountVolume.SetUp failed for volume \"v\": configmap \"absent\" not found")
    );
    let err = h.kubelet.run(&manifest, None).await.unwrap_err();
    assert_eq!(err.to_string(), "pods \"nocm\" already exists");
    assert_eq!(err.http_status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_running_pods_become_unknown() {
    let h = harness(MountMode::Rewrite).await;
    h.kubelet
        .run(
            &pod(
                "done",
                "  restartPolicy: Never\n  containers: [{name: c, command: ['true']}]\n",
            ),
            None,
        )
        .await
        .unwrap();
    finished(&h, "done").await;
    h.kubelet
        .run(
            &pod(
                "live",
                "  containers: [{name: c, command: [sleep, '1000']}]\n",
            ),
            None,
        )
        .await
        .unwrap();

    let mut config = podpass_kubelet::KubeletConfig::new(h.dir.path());
    config.mount_mode = Some(MountMode::Rewrite);
    let second = podpass_kubelet::Kubelet::start(
        config,
        podpass_kubelet::KubeletDeps {
            tokens: h.tokens.clone(),
            objects: std::sync::Arc::new(common::objects()),
            identities: std::sync::Arc::new(common::resolver()),
            jitter: std::sync::Arc::new(common::FixedJitter),
            clock: h.clock.clone(),
            registered_webhooks: None,
        },
    )
    .await
    .unwrap();
    let pods = second.list(None).await;
    let phases: Vec<_> = pods
        .iter()
        .map(|p| {
            (
                p.object["metadata"]["name"].as_str().unwrap().to_owned(),
                p.status.phase,
            )
        })
        .collect();
    assert_eq!(
        phases,
        vec![
            ("done".into(), PodPhase::Succeeded),
            ("live".into(), PodPhase::Unknown)
        ]
    );
    h.kubelet.delete("default", "live").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_restarts_completed_containers() {
    let h = harness(MountMode::Rewrite).await;
    h.kubelet
        .run(
            &pod(
                "loop",
                "  containers: [{name: c, command: [sh, -c, 'echo run']}]\n",
            ),
            None,
        )
        .await
        .unwrap();
    eventually("two restarts", || async {
        let record = h.kubelet.get("default", "loop").await.unwrap();
        record.status.container_statuses[0].restart_count >= 2
    })
    .await;
    let record = h.kubelet.get("default", "loop").await.unwrap();
    assert_eq!(record.status.phase, PodPhase::Running);
    assert!(log(&h, "loop", None).await.starts_with("run\nrun\n"));
    h.kubelet.delete("default", "loop").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_processes_end_with_their_container() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "leaver",
        r#"  restartPolicy: Never
  containers:
  - name: app
    command: [sh, -c, 'sleep 1000 & echo $! > /state/pid']
    volumeMounts: [{name: state, mountPath: /state}]
  volumes: [{name: state, emptyDir: {}}]
"#,
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    let record = finished(&h, "leaver").await;
    assert_eq!(record.status.phase, PodPhase::Succeeded);
    let pid_file = h.dir.path().join("pods/default/leaver/volumes/state/pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eventually("the background sleep to die", || async {
        !process_alive(pid)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_from_config_maps_and_missing_keys() {
    let h = harness(MountMode::Rewrite).await;
    let manifest = pod(
        "env",
        r#"  restartPolicy: Never
  containers:
  - name: app
    command: [sh, -c, 'echo "$A|${OPT-unset}|$NS"']
    env:
    - {name: A, valueFrom: {configMapKeyRef: {name: settings, key: a.txt}}}
    - {name: OPT, valueFrom: {configMapKeyRef: {name: settings, key: absent, optional: true}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
"#,
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    finished(&h, "env").await;
    assert_eq!(log(&h, "env", None).await, "alpha|unset|default\n");

    let broken = pod(
        "env-broken",
        "  containers:\n  - name: app\n    command: ['true']\n    env: [{name: A, valueFrom: {configMapKeyRef: {name: settings, key: absent}}}]\n",
    );
    let record = h.kubelet.run(&broken, None).await.unwrap();
    assert_eq!(record.status.phase, PodPhase::Failed);
    assert_eq!(
        record.status.reason.as_deref(),
        Some("CreateContainerConfigError")
    );
    assert_eq!(
        record.status.message.as_deref(),
        Some("container \"app\": couldn't find key absent in configmap \"settings\"")
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

async fn ready(h: &Harness, name: &str) -> Vec<bool> {
    let record = h.kubelet.get("default", name).await.unwrap();
    record
        .status
        .container_statuses
        .iter()
        .map(|c| c.ready)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probes_decide_when_containers_are_ready() {
    let h = harness(MountMode::Rewrite).await;
    let port = free_port();
    let manifest = pod(
        "web",
        &format!(
            "  containers:
  - name: file
    command: [sh, -c, 'sleep 1; touch ready-now; sleep 600']
    readinessProbe: {{exec: {{command: [test, -e, ready-now]}}, periodSeconds: 1}}
  - name: http
    command: [python3, -m, http.server, '{port}', --bind, 127.0.0.1]
    ports: [{{name: web, containerPort: {port}}}]
    readinessProbe: {{httpGet: {{path: /, port: web}}, periodSeconds: 1}}
  - name: plain
    command: [sleep, '600']
"
        ),
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    // A container without probes is ready as it runs; the others once their probe passes.
    eventually("the plain container running", || async {
        ready(&h, "web").await[2]
    })
    .await;
    assert_eq!(ready(&h, "web").await[..2], [false, false]);
    eventually("every container ready", || async {
        ready(&h, "web").await == [true, true, true]
    })
    .await;
    h.kubelet.delete("default", "web").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_liveness_probe_restarts_the_container_and_it_is_never_ready() {
    let h = harness(MountMode::Rewrite).await;
    // Nothing listens on the named port: the probes fail as they would in a cluster.
    let manifest = pod(
        "stuck",
        &format!(
            "  containers:
  - name: c
    command: [sleep, '600']
    ports: [{{name: http, containerPort: {}}}]
    readinessProbe: {{tcpSocket: {{port: http}}, periodSeconds: 1}}
    livenessProbe: {{httpGet: {{path: /healthz, port: missing}}, periodSeconds: 1, failureThreshold: 2}}
",
            free_port()
        ),
    );
    h.kubelet.run(&manifest, None).await.unwrap();
    eventually("a restart by the liveness probe", || async {
        let record = h.kubelet.get("default", "stuck").await.unwrap();
        record.status.container_statuses[0].restart_count >= 1
    })
    .await;
    assert_eq!(ready(&h, "stuck").await, [false]);
    h.kubelet.delete("default", "stuck").await.unwrap();
}

/// A registered webhook that sets one label, and moves the pod when asked to.
struct Labeller {
    move_to: Option<&'static str>,
}

impl podpass_kubelet::MutatingWebhooks for Labeller {
    fn mutate<'a>(
        &'a self,
        mut object: serde_json::Value,
        _namespace: &'a str,
    ) -> podpass_kubelet::BoxFuture<'a, Result<serde_json::Value, KubeletError>> {
        object["metadata"]["labels"] = serde_json::json!({"mutated": "yes"});
        if let Some(namespace) = self.move_to {
            object["metadata"]["namespace"] = serde_json::json!(namespace);
        }
        Box::pin(async move { Ok(object) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registered_webhooks_mutate_pods_but_may_not_move_them() {
    let labeller = common::harness_with_webhooks(
        MountMode::Rewrite,
        Some(std::sync::Arc::new(Labeller { move_to: None })),
    )
    .await;
    let record = labeller
        .kubelet
        .run(
            &pod("labelled", "  containers: [{name: c, command: ['true']}]"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(record.object["metadata"]["labels"]["mutated"], "yes");

    let mover = common::harness_with_webhooks(
        MountMode::Rewrite,
        Some(std::sync::Arc::new(Labeller {
            move_to: Some("kube-system"),
        })),
    )
    .await;
    let refused = mover
        .kubelet
        .run(
            &pod("moved", "  containers: [{name: c, command: ['true']}]"),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("may not change the pod's name, namespace or uid"),
        "{refused}"
    );
    assert!(mover.kubelet.list(Some("kube-system")).await.is_empty());
}
