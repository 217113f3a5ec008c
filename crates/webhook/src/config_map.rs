//! The reference's ConfigMap mode (`--watch-config-map`): ConfigMap `pod-identity-webhook`, key
//! `config`, a JSON object mapping `"namespace/name"` (or `"*/name"`) to
//! `{"RoleARN","Audience","UseRegionalSTS","TokenExpiration"}`.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use podpass_podmutation::ServiceAccountSettings;
use serde_json::Value;
use tokio::sync::watch;

use crate::stop::stopped;

/// Name of the watched ConfigMap.
pub const CONFIG_MAP_NAME: &str = "pod-identity-webhook";
/// Key of the JSON document inside the ConfigMap.
pub const CONFIG_MAP_KEY: &str = "config";

/// A `config` document that is not the expected JSON.
#[derive(Debug, thiserror::Error)]
#[error("failed to unmarshal new config {config:?}: {reason}")]
pub struct ConfigMapError {
    config: String,
    reason: String,
}

/// Role settings from the ConfigMap, replaced whole by each valid new version.
#[derive(Debug, Default)]
pub struct ConfigMapRoles {
    entries: ArcSwap<HashMap<String, ServiceAccountSettings>>,
}

impl ConfigMapRoles {
    /// The entry for exactly `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.entries
            .load()
            .get(&format!("{namespace}/{name}"))
            .cloned()
    }

    /// The entry for `namespace/name`, else for `*/name` (the only wildcard upstream has).
    pub fn get_with_wildcard(&self, namespace: &str, name: &str) -> Option<ServiceAccountSettings> {
        self.get(namespace, name).or_else(|| self.get("*", name))
    }

    /// Replaces the entries with those of a `config` document; a bad document changes nothing.
    pub fn load(&self, config: &str) -> Result<usize, ConfigMapError> {
        let entries = parse(config)?;
        let count = entries.len();
        self.entries.store(Arc::new(entries));
        Ok(count)
    }

    /// Applies one watch event of the ConfigMap. Deletion keeps the entries, as upstream.
    pub fn apply(&self, event: Event<ConfigMap>) {
        let (Event::Apply(config_map) | Event::InitApply(config_map)) = event else {
            return;
        };
        if config_map.metadata.name.as_deref() != Some(CONFIG_MAP_NAME) {
            return;
        }
        let config = config_map
            .data
            .as_ref()
            .and_then(|data| data.get(CONFIG_MAP_KEY))
            .map(String::as_str)
            .unwrap_or_default();
        match self.load(config) {
            Ok(entries) => tracing::info!(entries, "ConfigMap {CONFIG_MAP_NAME} loaded"),
            Err(error) => tracing::error!(%error, "keeping the previous ConfigMap entries"),
        }
    }
}

/// Parses the document like Go's `json.Unmarshal` into `map[string]*Entry`: field names match
/// case-insensitively, unknown fields are ignored, a zero `TokenExpiration` means the flag.
fn parse(config: &str) -> Result<HashMap<String, ServiceAccountSettings>, ConfigMapError> {
    let error = |reason: String| ConfigMapError {
        config: config.to_owned(),
        reason,
    };
    let document: HashMap<String, Value> =
        serde_json::from_str(config).map_err(|e| error(e.to_string()))?;
    document
        .into_iter()
        .filter(|(key, _)| key.contains('/'))
        .map(|(key, entry)| {
            let settings =
                entry_settings(&entry).map_err(|reason| error(format!("{key}: {reason}")))?;
            Ok((key, settings))
        })
        .collect()
}

fn entry_settings(entry: &Value) -> Result<ServiceAccountSettings, String> {
    let fields = match entry {
        Value::Object(fields) => fields,
        // Go leaves a null pointer entry nil; podpass treats it as an empty entry.
        Value::Null => return Ok(empty_entry()),
        _ => return Err("entry is not an object".to_owned()),
    };
    let field = |name: &str| {
        fields
            .get(name)
            .or_else(|| {
                fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .filter(|value| !value.is_null())
    };
    let string = |name: &str| match field(name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{name} is not a string")),
    };
    let regional_sts = match field("UseRegionalSTS") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("UseRegionalSTS is not a boolean".to_owned()),
    };
    let token_expiration = match field("TokenExpiration") {
        None => 0,
        Some(value) => value
            .as_i64()
            .ok_or_else(|| "TokenExpiration is not an integer".to_owned())?,
    };
    Ok(ServiceAccountSettings {
        role_arn: Some(string("RoleARN")?),
        // Kept as written, even empty: upstream applies no default audience here.
        audience: Some(string("Audience")?),
        // A missing value is Go's false, not the flag.
        regional_sts: Some(regional_sts),
        token_expiration: (token_expiration != 0).then_some(token_expiration),
    })
}

fn empty_entry() -> ServiceAccountSettings {
    ServiceAccountSettings {
        role_arn: Some(String::new()),
        audience: Some(String::new()),
        regional_sts: Some(false),
        token_expiration: None,
    }
}

/// Keeps `roles` current from a watch of ConfigMap `pod-identity-webhook` in `namespace`.
pub async fn watch_config_map(
    client: Client,
    namespace: String,
    roles: Arc<ConfigMapRoles>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP_NAME}"));
    let events = watcher::watcher(api, config).default_backoff();
    futures::pin_mut!(events);
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => roles.apply(event),
                Some(Err(error)) => tracing::warn!(%error, "ConfigMap watch"),
                None => return,
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn config_map(name: &str, config: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("eks".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                CONFIG_MAP_KEY.to_owned(),
                config.to_owned(),
            )])),
            ..Default::default()
        }
    }

    #[test]
    fn parses_entries_like_go() {
        let roles = ConfigMapRoles::default();
        let count = roles
            .load(
                r#"{"ns/sa":{"RoleARN":"arn:a","Audience":"aud","UseRegionalSTS":true,"TokenExpiration":3600},
                    "*/any":{"rolearn":"arn:w","extra":1},
                    "ns/zero":{"RoleARN":"arn:z","TokenExpiration":0}}"#,
            )
            .unwrap();
        assert_eq!(count, 3);
        assert_eq!(
            roles.get("ns", "sa").unwrap(),
            ServiceAccountSettings {
                role_arn: Some("arn:a".into()),
                audience: Some("aud".into()),
                regional_sts: Some(true),
                token_expiration: Some(3600),
            }
        );
        let wildcard = roles.get_with_wildcard("other", "any").unwrap();
        assert_eq!(wildcard.role_arn.as_deref(), Some("arn:w"));
        assert_eq!(wildcard.audience.as_deref(), Some(""));
        assert_eq!(wildcard.regional_sts, Some(false));
        assert_eq!(roles.get("other", "any"), None);
        assert_eq!(roles.get("ns", "zero").unwrap().token_expiration, None);
        // Only the literal "*" is a wildcard.
        assert_eq!(roles.get_with_wildcard("ns", "nothing"), None);
    }

    #[test]
    fn bad_documents_keep_the_previous_entries() {
        let roles = ConfigMapRoles::default();
        roles.load(r#"{"ns/sa":{"RoleARN":"arn:a"}}"#).unwrap();
        for bad in [
            "{",
            "[]",
            r#"{"ns/sa":{"RoleARN":5}}"#,
            r#"{"ns/sa":{"UseRegionalSTS":"yes"}}"#,
        ] {
            assert!(roles.load(bad).is_err(), "{bad}");
            assert_eq!(
                roles.get("ns", "sa").unwrap().role_arn.as_deref(),
                Some("arn:a")
            );
        }
    }

    #[test]
    fn events_of_the_config_map() {
        let roles = ConfigMapRoles::default();
        roles.apply(Event::Apply(config_map(
            CONFIG_MAP_NAME,
            r#"{"ns/a":{"RoleARN":"arn:a"}}"#,
        )));
        assert!(roles.get("ns", "a").is_some());
        // A new version replaces the set: removed keys go away.
        roles.apply(Event::InitApply(config_map(
            CONFIG_MAP_NAME,
            r#"{"ns/b":{"RoleARN":"arn:b"}}"#,
        )));
        assert!(roles.get("ns", "a").is_none());
        assert!(roles.get("ns", "b").is_some());
        // Other ConfigMaps and deletion change nothing.
        roles.apply(Event::Apply(config_map(
            "other",
            r#"{"ns/c":{"RoleARN":"arn:c"}}"#,
        )));
        roles.apply(Event::Delete(config_map(CONFIG_MAP_NAME, "{}")));
        assert!(roles.get("ns", "b").is_some());
        assert!(roles.get("ns", "c").is_none());
    }
}
