//! The local cluster's Kubernetes API, as a pod's client meets it: ServiceAccount tokens of the
//! cluster authenticate (forged, foreign-audience and dead-pod tokens do not), RBAC applied with
//! `podpass run -f` authorizes, and lists and watches of ServiceAccounts answer as an API
//! server's, `Status` objects included.

mod support;

use serde_json::Value;
use support::{Podpass, text};

/// GET `path` of the API with `token` (and `accept`): status and JSON body.
fn get(podpass: &Podpass, path: &str, token: Option<&str>, accept: Option<&str>) -> (u16, String) {
    let url = format!("{}{path}", podpass.endpoint());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let response = request.send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    })
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn apply(podpass: &Podpass, name: &str, yaml: &str) -> String {
    let file = podpass.write(name, yaml);
    let out = podpass.podpass(&["run", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The `kube-api-access-*` token of a running pod, as its containers read it.
fn projected_api_token(podpass: &Podpass, namespace: &str, pod: &str) -> String {
    let volumes = podpass
        .data_dir()
        .join("kubelet/pods")
        .join(namespace)
        .join(pod)
        .join("volumes");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let token = std::fs::read_dir(&volumes).ok().and_then(|dir| {
            dir.flatten()
                .find(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("kube-api-access-")
                })
                .and_then(|e| std::fs::read_to_string(e.path().join("token")).ok())
        });
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            return token;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no token in {}",
            volumes.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

const READER_RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: sa-reader}
rules:
- {apiGroups: [''], resources: [serviceaccounts], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: watcher-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: sa-reader}
subjects:
- {kind: ServiceAccount, name: watcher, namespace: default}
";

#[test]
fn service_accounts_are_served_to_the_tokens_rbac_lets_read_them() {
    let podpass = Podpass::start();
    apply(
        &podpass,
        "accounts.yaml",
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
  namespace: reports
  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::000000000000:role/reader'}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: watcher}
---
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  serviceAccountName: watcher
  containers:
  - {name: main, image: busybox, command: [sleep, '600']}
",
    );
    // The token the kubelet projected into the pod for the API server.
    let token = projected_api_token(&podpass, "default", "sleeper");
    let list = "/api/v1/serviceaccounts";

    // Who is not authenticated gets 401, whatever the token's flaw.
    let unauthorized = |token: Option<&str>| {
        let (status, body) = get(&podpass, list, token, None);
        assert_eq!(status, 401, "{body}");
        let body = json(&body);
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "Unauthorized");
    };
    unauthorized(None);
    let mut forged = token.clone();
    let last = if forged.ends_with('A') { "B" } else { "A" };
    forged.replace_range(forged.len() - 1.., last);
    unauthorized(Some(&forged));
    unauthorized(Some(&podpass.token(
        "watcher",
        "sts.amazonaws.com",
        Some("sleeper"),
    )));
    unauthorized(Some("not-a-jwt"));

    // Authenticated without a binding: 403, worded as the API server's.
    let (status, body) = get(&podpass, list, Some(&token), None);
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        json(&body)["message"],
        "serviceaccounts is forbidden: User \"system:serviceaccount:default:watcher\" cannot list \
         resource \"serviceaccounts\" in API group \"\" at the cluster scope"
    );

    let applied = apply(&podpass, "rbac.yaml", READER_RBAC);
    assert!(
        applied.contains("clusterrole.rbac.authorization.k8s.io/sa-reader created")
            && applied
                .contains("clusterrolebinding.rbac.authorization.k8s.io/watcher-reads created"),
        "{applied}"
    );
    let (status, body) = get(&podpass, list, Some(&token), None);
    assert_eq!(status, 200, "{body}");
    let listed = json(&body);
    assert_eq!(listed["kind"], "ServiceAccountList");
    let reader = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sa| sa["metadata"]["name"] == "reader")
        .expect("reader listed")
        .clone();
    assert_eq!(reader["metadata"]["namespace"], "reports");
    assert_eq!(
        reader["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::000000000000:role/reader"
    );
    // Metadata only, as kube's metadata watchers ask.
    let metadata = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let (_, body) = get(&podpass, list, Some(&token), Some(metadata));
    assert_eq!(json(&body)["kind"], "PartialObjectMetadataList");
    let (status, body) = get(
        &podpass,
        "/api/v1/namespaces/reports/serviceaccounts/reader",
        Some(&token),
        None,
    );
    assert_eq!(
        (status, json(&body)["kind"].clone()),
        (200, "ServiceAccount".into())
    );
    let (status, body) = get(
        &podpass,
        "/api/v1/namespaces/reports/serviceaccounts/nobody",
        Some(&token),
        None,
    );
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        json(&body)["message"],
        "serviceaccounts \"nobody\" not found"
    );
    let (status, _) = get(
        &podpass,
        "/api/v1/serviceaccounts?labelSelector=app%3Dx",
        Some(&token),
        None,
    );
    assert_eq!(
        status, 400,
        "an unsupported selector is refused, not ignored"
    );

    // A watch from the list's version sees what is written after it.
    let version = listed["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let watch = {
        let path = format!("{list}?watch=true&resourceVersion={version}&timeoutSeconds=4");
        let endpoint = podpass.endpoint();
        let token = token.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async move {
                    let response = reqwest::Client::new()
                        .get(format!("{endpoint}{path}"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .expect("watch");
                    response.text().await.expect("watch body")
                })
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(1500));
    apply(
        &podpass,
        "late.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: late, namespace: reports}\n",
    );
    let events: Vec<Value> = watch.join().unwrap().lines().map(json).collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "ADDED" && e["object"]["metadata"]["name"] == "late"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["object"]["metadata"]["name"] == "late"),
        "nothing listed before is sent again: {events:?}"
    );
    // A version that is not current any more: 410, and the client lists again.
    let (status, body) = get(
        &podpass,
        &format!("{list}?watch=1&resourceVersion={version}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    let expired = json(body.lines().next().expect("an event"));
    assert_eq!(expired["type"], "ERROR");
    assert_eq!(expired["object"]["code"], 410);

    // A token naming the pod but minted for another pod of that name is refused.
    let impostor = podpass.podpass_ok(&[
        "token",
        "create",
        "--service-account",
        "watcher",
        "--pod",
        "sleeper",
        "--pod-uid",
        "00000000-0000-0000-0000-000000000000",
    ]);
    unauthorized(Some(impostor.trim()));
    // A pod-bound token dies with its pod.
    podpass.podpass_ok(&["delete", "pod", "sleeper"]);
    unauthorized(Some(&token));
}
