//! Downward API fields (`fieldRef.fieldPath`) as the kubelet renders them, for env and files.

use std::collections::BTreeMap;

use crate::manifest::Pod;

/// Address reported for `status.podIP` / `status.hostIP`: pods share the host's loopback.
const LOCAL_IP: &str = "127.0.0.1";

/// The value of `field_path` for `pod`, or an error naming the unsupported path.
pub fn field_value(pod: &Pod, field_path: &str) -> Result<String, String> {
    if let Some(key) = subscript(field_path, "metadata.labels") {
        return Ok(pod.labels.get(key).cloned().unwrap_or_default());
    }
    if let Some(key) = subscript(field_path, "metadata.annotations") {
        return Ok(pod.annotations.get(key).cloned().unwrap_or_default());
    }
    Ok(match field_path {
        "metadata.name" => pod.name.clone(),
        "metadata.namespace" => pod.namespace.clone(),
        "metadata.uid" => pod.uid.clone(),
        "metadata.labels" => format_map(&pod.labels),
        "metadata.annotations" => format_map(&pod.annotations),
        "spec.serviceAccountName" => pod.service_account_name.clone(),
        "spec.nodeName" => node_name(),
        "status.podIP" | "status.hostIP" => LOCAL_IP.to_owned(),
        other => return Err(format!("unsupported fieldPath {other:?}")),
    })
}

/// The node name: the host name, as a kubelet without `--hostname-override`.
pub fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `metadata.labels['key']` -> `key`.
fn subscript<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)?
        .strip_prefix("['")?
        .strip_suffix("']")
}

/// `key="value"` lines, sorted by key, values quoted (the kubelet's `FormatMap`).
fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}\n", serde_json::Value::String(v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse_document;

    fn pod() -> Pod {
        let value = parse_document(
            r#"{"metadata":{"name":"p","namespace":"ns","uid":"u-1","labels":{"b":"2","a":"x\"y"}},
                "spec":{"serviceAccountName":"sa","containers":[{"name":"c","command":["true"]}]}}"#,
        )
        .unwrap();
        Pod::from_value(&value).unwrap()
    }

    #[test]
    fn simple_fields() {
        let pod = pod();
        assert_eq!(field_value(&pod, "metadata.name").unwrap(), "p");
        assert_eq!(field_value(&pod, "metadata.namespace").unwrap(), "ns");
        assert_eq!(field_value(&pod, "metadata.uid").unwrap(), "u-1");
        assert_eq!(field_value(&pod, "spec.serviceAccountName").unwrap(), "sa");
        assert_eq!(field_value(&pod, "metadata.labels['b']").unwrap(), "2");
        assert_eq!(field_value(&pod, "metadata.labels['zz']").unwrap(), "");
        assert_eq!(
            field_value(&pod, "metadata.labels").unwrap(),
            "a=\"x\\\"y\"\nb=\"2\"\n"
        );
    }

    #[test]
    fn unsupported_fields_are_errors() {
        let err = field_value(&pod(), "status.phase").unwrap_err();
        assert_eq!(err, "unsupported fieldPath \"status.phase\"");
    }
}
