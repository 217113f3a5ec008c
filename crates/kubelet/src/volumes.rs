//! Materialising a pod's volumes under `<pod dir>/volumes/<volume name>/` and keeping their
//! tokens fresh (the kubelet's projected volume plugin plus its token manager).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use podpass_token::{ObjectRef, requires_refresh};
use rand::Rng;

use crate::atomic_writer::{self, FileContent, Payload};
use crate::error::KubeletError;
use crate::fields::field_value;
use crate::manifest::{
    DownwardItem, ObjectProjection, Pod, ProjectedSource, TokenProjection, Volume, VolumeSource,
};
use crate::metrics::KubeletMetrics;
use crate::sources::{Clock, ObjectSource, TokenParams, TokenSource};

/// The collaborators volumes are built from.
#[derive(Clone)]
pub struct VolumeDeps {
    /// Issues ServiceAccount tokens.
    pub tokens: Arc<dyn TokenSource>,
    /// ConfigMaps and Secrets.
    pub objects: Arc<dyn ObjectSource>,
    /// Time source for the refresh rule.
    pub clock: Arc<dyn Clock>,
    /// Upper bound (exclusive) of the refresh jitter; the kubelet uses 10 s.
    pub max_refresh_jitter: Duration,
    /// Where token requests are counted.
    pub metrics: KubeletMetrics,
    /// Where the directories of PersistentVolumeClaims live, `<namespace>/<claim>` below.
    pub claims: PathBuf,
}

/// A token held for one (audience, lifetime) pair of the pod.
#[derive(Debug, Clone)]
struct CachedToken {
    token: String,
    issued_at: i64,
    expiration: i64,
}

/// The cache key of the kubelet's token manager; ServiceAccount and pod are fixed per manager.
type TokenKey = (Option<String>, i64);

/// The volumes of one pod.
pub struct PodVolumes {
    pod: Pod,
    root: PathBuf,
    deps: VolumeDeps,
    tokens: HashMap<TokenKey, CachedToken>,
    token_mode: Option<u32>,
}

impl PodVolumes {
    /// Volumes of `pod`, materialised under `root` (`<pod dir>/volumes`).
    pub fn new(pod: Pod, root: PathBuf, deps: VolumeDeps) -> Self {
        let token_mode = restricted_token_mode(&pod);
        Self {
            pod,
            root,
            deps,
            tokens: HashMap::new(),
            token_mode,
        }
    }

    /// Directory of volume `name`: a claim's outside the pod, the others in the pod's own.
    pub fn dir(&self, name: &str) -> PathBuf {
        let claim = self
            .pod
            .volumes
            .iter()
            .find_map(|volume| match &volume.source {
                VolumeSource::PersistentVolumeClaim { claim_name } if volume.name == name => {
                    Some(claim_name)
                }
                _ => None,
            });
        match claim {
            Some(claim) => self.deps.claims.join(&self.pod.namespace).join(claim),
            None => self.root.join(name),
        }
    }

    /// Writes every volume; the first failure is returned with the volume's name.
    pub async fn set_up(&mut self) -> Result<(), KubeletError> {
        let volumes = self.pod.volumes.clone();
        for volume in &volumes {
            self.write_volume(volume).await?;
        }
        Ok(())
    }

    /// Rewrites every volume holding a token the refresh rule says is due. Returns the names
    /// of the volumes rewritten. A failed refresh keeps the old token while it is valid.
    pub async fn refresh_due(&mut self) -> Result<Vec<String>, KubeletError> {
        let now = self.deps.clock.now();
        let volumes = self.pod.volumes.clone();
        let mut rewritten = Vec::new();
        for volume in &volumes {
            if token_sources(volume).any(|t| self.token_due(t, now)) {
                self.write_volume(volume).await?;
                rewritten.push(volume.name.clone());
            }
        }
        Ok(rewritten)
    }

    fn token_due(&self, projection: &TokenProjection, now: i64) -> bool {
        let key = (projection.audience.clone(), projection.expiration_seconds);
        self.tokens.get(&key).is_none_or(|cached| {
            requires_refresh(cached.issued_at, cached.expiration, now + self.jitter())
        })
    }

    fn jitter(&self) -> i64 {
        let max = self.deps.max_refresh_jitter.as_secs();
        if max == 0 {
            0
        } else {
            rand::rng().random_range(0..max) as i64
        }
    }

    async fn write_volume(&mut self, volume: &Volume) -> Result<(), KubeletError> {
        let failed = |message: String| KubeletError::Volume {
            volume: volume.name.clone(),
            message,
        };
        let dir = self.dir(&volume.name);
        let payload = match &volume.source {
            VolumeSource::EmptyDir | VolumeSource::PersistentVolumeClaim { .. } => {
                return std::fs::create_dir_all(&dir)
                    .map_err(|e| KubeletError::io("creating", &dir, e));
            }
            VolumeSource::Projected {
                default_mode,
                sources,
            } => {
                let mut payload = Payload::new();
                for source in sources {
                    self.add_projection(&mut payload, source, *default_mode)
                        .await
                        .map_err(failed)?;
                }
                payload
            }
            VolumeSource::ConfigMap(object) | VolumeSource::Secret(object) => {
                let secret = matches!(volume.source, VolumeSource::Secret(_));
                let mode = object
                    .default_mode
                    .unwrap_or(crate::manifest::DEFAULT_FILE_MODE);
                let mut payload = Payload::new();
                self.add_object(&mut payload, object, secret, mode)
                    .await
                    .map_err(failed)?;
                payload
            }
            VolumeSource::DownwardApi {
                default_mode,
                items,
            } => {
                let mut payload = Payload::new();
                self.add_downward(&mut payload, items, *default_mode)
                    .map_err(failed)?;
                payload
            }
        };
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            atomic_writer::write(&dir, &payload, atomic_writer::RETIRED_DIR_GRACE)
        })
        .await
        .map_err(|e| failed(format!("writer task: {e}")))?
    }

    async fn add_projection(
        &mut self,
        payload: &mut Payload,
        source: &ProjectedSource,
        default_mode: u32,
    ) -> Result<(), String> {
        match source {
            ProjectedSource::ServiceAccountToken(projection) => {
                let token = self.token(projection).await?;
                let mode = self.token_mode.unwrap_or(default_mode);
                insert(payload, &projection.path, token.into_bytes(), mode)
            }
            ProjectedSource::ConfigMap(object) => {
                self.add_object(payload, object, false, default_mode).await
            }
            ProjectedSource::Secret(object) => {
                self.add_object(payload, object, true, default_mode).await
            }
            ProjectedSource::DownwardApi(items) => self.add_downward(payload, items, default_mode),
        }
    }

    /// The cached token, or a new one when due; on failure the old one while unexpired.
    async fn token(&mut self, projection: &TokenProjection) -> Result<String, String> {
        let now = self.deps.clock.now();
        let key = (projection.audience.clone(), projection.expiration_seconds);
        if !self.token_due(projection, now)
            && let Some(cached) = self.tokens.get(&key)
        {
            return Ok(cached.token.clone());
        }
        let params = TokenParams {
            namespace: self.pod.namespace.clone(),
            service_account: self.pod.service_account_name.clone(),
            audience: projection.audience.clone(),
            expiration_seconds: projection.expiration_seconds,
            pod: ObjectRef {
                name: self.pod.name.clone(),
                uid: self.pod.uid.clone(),
            },
        };
        let issued = self.deps.tokens.request(&params).await;
        self.deps.metrics.token_request(issued.is_ok());
        match issued {
            Ok(issued) => {
                // The refresh rule runs on the lifetime we observed: the issuer may have
                // shortened the requested one.
                self.tokens.insert(
                    key,
                    CachedToken {
                        token: issued.token.clone(),
                        issued_at: self.deps.clock.now(),
                        expiration: issued.expiration,
                    },
                );
                Ok(issued.token)
            }
            Err(e) => match self.tokens.get(&key) {
                Some(cached) if now < cached.expiration => {
                    tracing::warn!(
                        pod = %self.pod.name, namespace = %self.pod.namespace, error = %e,
                        "token refresh failed; keeping the current token until it expires"
                    );
                    Ok(cached.token.clone())
                }
                _ => Err(format!(
                    "failed to fetch token for serviceaccount {:?}: {e}",
                    self.pod.service_account_name
                )),
            },
        }
    }

    async fn add_object(
        &self,
        payload: &mut Payload,
        object: &ObjectProjection,
        secret: bool,
        default_mode: u32,
    ) -> Result<(), String> {
        let (kind, found) = if secret {
            (
                "secret",
                self.deps
                    .objects
                    .secret(&self.pod.namespace, &object.name)
                    .await,
            )
        } else {
            (
                "configmap",
                self.deps
                    .objects
                    .config_map(&self.pod.namespace, &object.name)
                    .await,
            )
        };
        let data = match found.map_err(|e| format!("{kind} {:?}: {e}", object.name))? {
            Some(data) => data,
            None if object.optional => return Ok(()),
            None => return Err(format!("{kind} {:?} not found", object.name)),
        };
        match &object.items {
            None => {
                for (key, value) in data {
                    insert(payload, &key, value, default_mode)?;
                }
                Ok(())
            }
            Some(items) => items.iter().try_for_each(|item| match data.get(&item.key) {
                Some(value) => insert(
                    payload,
                    &item.path,
                    value.clone(),
                    item.mode.unwrap_or(default_mode),
                ),
                None if object.optional => Ok(()),
                None => Err(format!(
                    "{kind} references non-existent {} key: {}",
                    if secret { "secret" } else { "config" },
                    item.key
                )),
            }),
        }
    }

    fn add_downward(
        &self,
        payload: &mut Payload,
        items: &[DownwardItem],
        default_mode: u32,
    ) -> Result<(), String> {
        for item in items {
            let value = field_value(&self.pod, &item.field_path)?;
            insert(
                payload,
                &item.path,
                value.into_bytes(),
                item.mode.unwrap_or(default_mode),
            )?;
        }
        Ok(())
    }
}

/// Adds a file, refusing two sources writing the same path (as the API server's validation).
fn insert(payload: &mut Payload, path: &str, data: Vec<u8>, mode: u32) -> Result<(), String> {
    crate::names::check_relative_path("path", path)?;
    if payload.contains_key(path) {
        return Err(format!("conflicting projection for path {path:?}"));
    }
    payload.insert(path.to_owned(), FileContent { data, mode });
    Ok(())
}

fn token_sources(volume: &Volume) -> impl Iterator<Item = &TokenProjection> {
    let sources: &[ProjectedSource] = match &volume.source {
        VolumeSource::Projected { sources, .. } => sources,
        _ => &[],
    };
    sources.iter().filter_map(|s| match s {
        ProjectedSource::ServiceAccountToken(t) => Some(t),
        _ => None,
    })
}

/// 0600 for token files when `fsGroup` is set or every container runs as the same user
/// (KEP-1598); `None`: the volume's `defaultMode` applies.
fn restricted_token_mode(pod: &Pod) -> Option<u32> {
    let mut users = pod.all_containers().map(|c| c.run_as_user);
    let first = users.next().flatten();
    let single_user = first.is_some() && users.all(|u| u == first);
    (pod.fs_group.is_some() || single_user).then_some(0o600)
}
