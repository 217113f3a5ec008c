//! Helpers shared by the integration tests.
#![allow(dead_code)]

use podpass_podmutation::Jitter;
use serde_json::{Map, Value};

/// Jitter pinned to a fixed value (the fixtures expect the low end, 79200).
pub(crate) struct PinnedJitter(pub i64);

impl Jitter for PinnedJitter {
    fn jittered_expiration(&self) -> i64 {
        self.0
    }
}

/// Applies a JSON Patch to a copy of `doc`.
pub(crate) fn apply(doc: &Value, patch: &json_patch::Patch) -> Value {
    let mut out = doc.clone();
    json_patch::patch(&mut out, patch).unwrap();
    out
}

const PROBES: [&str; 3] = ["livenessProbe", "readinessProbe", "startupProbe"];
const VOLUME_MOUNT_FIELDS: [&str; 7] = [
    "name",
    "readOnly",
    "recursiveReadOnly",
    "mountPath",
    "subPath",
    "mountPropagation",
    "subPathExpr",
];

/// Erases the artefacts of the reference's Go round trip of containers, on either side:
/// `"resources":{}` everywhere, gRPC `"service":null`, and VolumeMount fields Go does not know
/// (with the non-omitempty `mountPath` defaulting to "").
pub(crate) fn normalise_go_artefacts(pod: &mut Value) {
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(containers)) = pod.pointer_mut(&format!("/spec/{list}")) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            normalise_container(container);
        }
    }
}

fn normalise_container(container: &mut Map<String, Value>) {
    container
        .entry("resources")
        .or_insert_with(|| Value::Object(Map::new()));
    for probe in PROBES {
        if let Some(Value::Object(grpc)) = container.get_mut(probe).and_then(|p| p.get_mut("grpc"))
            && grpc.get("service") == Some(&Value::Null)
        {
            grpc.remove("service");
        }
    }
    if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
        for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
            mount.retain(|key, _| VOLUME_MOUNT_FIELDS.contains(&key.as_str()));
            mount
                .entry("mountPath")
                .or_insert_with(|| Value::String(String::new()));
        }
    }
}

/// The `path` of every op, in order.
pub(crate) fn op_paths(patch: &json_patch::Patch) -> Vec<String> {
    patch.0.iter().map(|op| op.path().to_string()).collect()
}
