//! The parts of a raw Pod the webhook reads, checked with the reference's (Go) type rules.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

/// The Pod JSON does not fit the Pod schema where the webhook reads it. The message has the
/// shape of Go's `json.Unmarshal` error, which the reference returns to the API server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PodError(pub String);

/// A Pod (or init) container: its raw JSON plus the names the webhook checks.
#[derive(Debug, Clone)]
pub(crate) struct ContainerView<'a> {
    /// The container object as received, so unknown fields survive re-serialisation.
    pub(crate) raw: &'a Map<String, Value>,
    /// `name`.
    pub(crate) name: String,
    /// Names of `env` entries.
    pub(crate) env_names: Vec<String>,
    /// Names of `volumeMounts` entries.
    pub(crate) mount_names: Vec<String>,
}

/// What the webhook needs from a Pod.
#[derive(Debug, Clone, Default)]
pub struct PodView<'a> {
    /// `spec.serviceAccountName` (empty when absent).
    pub service_account_name: String,
    /// `metadata.annotations`.
    pub(crate) annotations: HashMap<String, String>,
    /// Whether `metadata.labels` is a map (Go: non-nil), as opposed to absent or null.
    pub(crate) has_labels: bool,
    /// `spec.nodeSelector`.
    pub(crate) node_selector: HashMap<String, String>,
    /// Names of `spec.volumes`, `None` when the list is absent or null (Go: nil slice).
    pub(crate) volume_names: Option<Vec<String>>,
    /// `spec.containers`.
    pub(crate) containers: Vec<ContainerView<'a>>,
    /// `spec.initContainers`.
    pub(crate) init_containers: Vec<ContainerView<'a>>,
}

/// Where a value sits, for Go-shaped error messages: the innermost Go struct and the JSON path.
#[derive(Clone, Copy)]
struct Field<'p> {
    owner: &'static str,
    path: &'p str,
}

impl<'a> PodView<'a> {
    /// Reads the Pod; `null` is an empty Pod, as with Go's `json.Unmarshal`.
    pub fn parse(pod: &'a Value) -> Result<Self, PodError> {
        let pod = match pod {
            Value::Null => return Ok(Self::default()),
            Value::Object(map) => map,
            other => {
                return Err(PodError(format!(
                    "json: cannot unmarshal {} into Go value of type v1.Pod",
                    json_kind(other)
                )));
            }
        };
        let mut view = Self::default();
        let metadata = field_object(
            pod,
            "metadata",
            Field {
                owner: "Pod",
                path: "metadata",
            },
            "v1.ObjectMeta",
        )?;
        if let Some(metadata) = metadata {
            let annotations = Field {
                owner: "ObjectMeta",
                path: "metadata.annotations",
            };
            view.annotations =
                string_map(metadata.get("annotations"), annotations)?.unwrap_or_default();
            let labels = Field {
                owner: "ObjectMeta",
                path: "metadata.labels",
            };
            view.has_labels = string_map(metadata.get("labels"), labels)?.is_some();
        }
        let spec = field_object(
            pod,
            "spec",
            Field {
                owner: "Pod",
                path: "spec",
            },
            "v1.PodSpec",
        )?;
        let Some(spec) = spec else {
            return Ok(view);
        };
        view.service_account_name = string(
            spec.get("serviceAccountName"),
            Field {
                owner: "PodSpec",
                path: "spec.serviceAccountName",
            },
        )?;
        view.node_selector = string_map(
            spec.get("nodeSelector"),
            Field {
                owner: "PodSpec",
                path: "spec.nodeSelector",
            },
        )?
        .unwrap_or_default();
        view.volume_names = named_list(
            spec.get("volumes"),
            Field {
                owner: "PodSpec",
                path: "spec.volumes",
            },
            "Volume",
        )?
        .map(|items| items.into_iter().map(|(_, name)| name).collect());
        view.containers = containers(spec.get("containers"), "spec.containers")?;
        view.init_containers = containers(spec.get("initContainers"), "spec.initContainers")?;
        Ok(view)
    }
}

fn containers<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<Vec<ContainerView<'a>>, PodError> {
    let list = named_list(
        value,
        Field {
            owner: "PodSpec",
            path,
        },
        "Container",
    )?;
    list.unwrap_or_default()
        .into_iter()
        .map(|(raw, name)| {
            let env_path = format!("{path}.env");
            let mounts_path = format!("{path}.volumeMounts");
            let env = named_list(
                raw.get("env"),
                Field {
                    owner: "Container",
                    path: &env_path,
                },
                "EnvVar",
            )?;
            let mounts = named_list(
                raw.get("volumeMounts"),
                Field {
                    owner: "Container",
                    path: &mounts_path,
                },
                "VolumeMount",
            )?;
            let names = |items: Option<Vec<Named<'_>>>| {
                items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, n)| n)
                    .collect()
            };
            Ok(ContainerView {
                raw,
                name,
                env_names: names(env),
                mount_names: names(mounts),
            })
        })
        .collect()
}

static EMPTY_OBJECT: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// A list element: the raw object and its `name`.
type Named<'a> = (&'a Map<String, Value>, String);

/// A list of objects that each carry a `name` string; `None` when absent or null.
fn named_list<'a>(
    value: Option<&'a Value>,
    field: Field<'_>,
    element_type: &'static str,
) -> Result<Option<Vec<Named<'a>>>, PodError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(type_error(other, field, &format!("[]v1.{element_type}"))),
    };
    let name_path = format!("{}.name", field.path);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let object = match item {
            Value::Object(object) => object,
            // Go decodes a null element as the zero value, an object with no fields.
            Value::Null => &*EMPTY_OBJECT,
            other => return Err(type_error(other, field, &format!("v1.{element_type}"))),
        };
        let name = string(
            object.get("name"),
            Field {
                owner: element_type,
                path: &name_path,
            },
        )?;
        out.push((object, name));
    }
    Ok(Some(out))
}

fn field_object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    field: Field<'_>,
    go_type: &str,
) -> Result<Option<&'a Map<String, Value>>, PodError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(type_error(other, field, go_type)),
    }
}

fn string(value: Option<&Value>, field: Field<'_>) -> Result<String, PodError> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(type_error(other, field, "string")),
    }
}

fn string_map(
    value: Option<&Value>,
    field: Field<'_>,
) -> Result<Option<HashMap<String, String>>, PodError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(type_error(other, field, "map[string]string")),
    };
    map.iter()
        .map(|(key, value)| match value {
            Value::String(s) => Ok((key.clone(), s.clone())),
            Value::Null => Ok((key.clone(), String::new())),
            other => Err(type_error(other, field, "string")),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn type_error(found: &Value, field: Field<'_>, go_type: &str) -> PodError {
    PodError(format!(
        "json: cannot unmarshal {} into Go struct field {}.{} of type {go_type}",
        json_kind(found),
        field.owner,
        field.path
    ))
}

/// Go's name for a JSON value kind in unmarshal errors.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_fields_the_webhook_needs() {
        let pod = json!({
            "metadata": {"annotations": {"a": "b"}, "labels": {}},
            "spec": {
                "serviceAccountName": "sa",
                "nodeSelector": {"kubernetes.io/os": "windows"},
                "volumes": [],
                "containers": [{"name": "c", "env": [{"name": "E"}], "volumeMounts": [{"name": "m"}]}],
                "initContainers": [{"name": "i"}]
            }
        });
        let view = PodView::parse(&pod).unwrap();
        assert_eq!(view.service_account_name, "sa");
        assert_eq!(view.annotations.get("a").map(String::as_str), Some("b"));
        assert!(view.has_labels);
        assert_eq!(view.volume_names, Some(vec![]));
        assert_eq!(view.node_selector.len(), 1);
        assert_eq!(view.containers[0].name, "c");
        assert_eq!(view.containers[0].env_names, vec!["E"]);
        assert_eq!(view.containers[0].mount_names, vec!["m"]);
        assert_eq!(view.init_containers[0].name, "i");
    }

    #[test]
    fn nil_lists_and_maps() {
        let pod = json!({"metadata": {"labels": null}, "spec": {"volumes": null}});
        let view = PodView::parse(&pod).unwrap();
        assert!(!view.has_labels);
        assert_eq!(view.volume_names, None);
        assert!(view.containers.is_empty());
        assert!(PodView::parse(&Value::Null).unwrap().containers.is_empty());
    }

    #[test]
    fn null_list_elements_are_empty_objects() {
        let pod = json!({"spec": {"containers": [null, {"name": "c", "env": [null]}]}});
        let view = PodView::parse(&pod).unwrap();
        assert_eq!(view.containers.len(), 2);
        assert_eq!(view.containers[0].name, "");
        assert!(view.containers[0].raw.is_empty());
        assert_eq!(view.containers[1].env_names, vec![""]);
    }

    #[test]
    fn go_shaped_type_errors() {
        let cases = [
            (
                json!("x"),
                "json: cannot unmarshal string into Go value of type v1.Pod",
            ),
            (
                json!([]),
                "json: cannot unmarshal array into Go value of type v1.Pod",
            ),
            (
                json!({"spec": 1}),
                "json: cannot unmarshal number into Go struct field Pod.spec of type v1.PodSpec",
            ),
            (
                json!({"metadata": {"annotations": {"a": 1}}}),
                "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of type string",
            ),
            (
                json!({"spec": {"containers": {}}}),
                "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container",
            ),
            (
                json!({"spec": {"containers": [{"name": 5}]}}),
                "json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string",
            ),
            (
                json!({"spec": {"initContainers": [{"name": "a", "env": [{"name": true}]}]}}),
                "json: cannot unmarshal bool into Go struct field EnvVar.spec.initContainers.env.name of type string",
            ),
        ];
        for (pod, message) in cases {
            assert_eq!(PodView::parse(&pod).unwrap_err().to_string(), message);
        }
    }
}
