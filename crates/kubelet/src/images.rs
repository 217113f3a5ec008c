//! What a container runs when its manifest leaves `command` out. A real kubelet takes the
//! image's `ENTRYPOINT` and `CMD`; podpass runs host binaries and has no image to read, so it
//! keeps a table of images and the host command each one stands for.
//!
//! The rules are Kubernetes's: `command` replaces the entrypoint and `args` replaces the
//! default arguments, so `command` + `args` when `command` is set, the entrypoint + `args` when
//! only `args` is, and the entrypoint + the default arguments when neither is.

use std::collections::BTreeMap;

use crate::error::KubeletError;
use crate::manifest::{Container, Pod};

/// Pod annotation prefix that sets one container's entrypoint: `podpass.dev/entrypoint.<name>`.
pub const ENTRYPOINT_ANNOTATION_PREFIX: &str = "podpass.dev/entrypoint.";

/// An image's `ENTRYPOINT` and `CMD`, as host commands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageCommand {
    /// What runs first (`ENTRYPOINT`); empty when the image has none.
    pub entrypoint: Vec<String>,
    /// Default arguments (`CMD`), used when the container has neither `command` nor `args`.
    pub cmd: Vec<String>,
}

impl ImageCommand {
    /// An image whose entrypoint is `words`.
    pub fn entrypoint(words: &[&str]) -> Self {
        Self {
            entrypoint: words.iter().map(|w| (*w).to_owned()).collect(),
            cmd: Vec::new(),
        }
    }

    /// An image with no entrypoint whose default command is `words`.
    pub fn cmd(words: &[&str]) -> Self {
        Self {
            entrypoint: Vec::new(),
            cmd: words.iter().map(|w| (*w).to_owned()).collect(),
        }
    }
}

/// The images the kubelet knows, by repository (registry and tag left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    by_repository: BTreeMap<String, ImageCommand>,
}

impl Default for Images {
    /// The common images of AWS examples, each with its published `ENTRYPOINT` and `CMD`.
    fn default() -> Self {
        let known = [
            ("amazon/aws-cli", ImageCommand::entrypoint(&["aws"])),
            ("aws-cli/aws-cli", ImageCommand::entrypoint(&["aws"])),
            ("curlimages/curl", ImageCommand::entrypoint(&["curl"])),
            ("bitnami/kubectl", ImageCommand::entrypoint(&["kubectl"])),
            ("python", ImageCommand::cmd(&["python3"])),
            ("busybox", ImageCommand::cmd(&["sh"])),
            ("alpine", ImageCommand::cmd(&["/bin/sh"])),
            ("debian", ImageCommand::cmd(&["bash"])),
            ("ubuntu", ImageCommand::cmd(&["/bin/bash"])),
        ];
        Self {
            by_repository: known
                .into_iter()
                .map(|(repository, command)| (repository.to_owned(), command))
                .collect(),
        }
    }
}

impl Images {
    /// Maps `image` (any reference to it: tag, digest and registry are ignored) to `command`,
    /// replacing what was known.
    pub fn insert(&mut self, image: &str, command: ImageCommand) {
        self.by_repository.insert(repository(image), command);
    }

    /// What `image` runs, if it is known.
    pub fn get(&self, image: &str) -> Option<&ImageCommand> {
        self.by_repository.get(&repository(image))
    }

    /// Gives every container of `pod` its full argv in `command` (and empties `args`), as a
    /// container runtime would from the image; an image that cannot be resolved is refused
    /// with the way to map it.
    pub fn resolve(&self, pod: &mut Pod) -> Result<(), KubeletError> {
        let annotations = pod.annotations.clone();
        for container in pod.init_containers.iter_mut().chain(&mut pod.containers) {
            let annotated = annotations
                .get(&format!("{ENTRYPOINT_ANNOTATION_PREFIX}{}", container.name))
                .map(|words| ImageCommand {
                    entrypoint: split_words(words),
                    cmd: Vec::new(),
                });
            let image = annotated
                .as_ref()
                .or_else(|| container.image.as_deref().and_then(|i| self.get(i)));
            let argv = argv(container, image)?;
            container.command = argv;
            container.args = Vec::new();
        }
        Ok(())
    }
}

/// Kubernetes's rule for `command`, `args` and the image's `ENTRYPOINT` and `CMD`.
fn argv(container: &Container, image: Option<&ImageCommand>) -> Result<Vec<String>, KubeletError> {
    let argv: Vec<String> = match (container.command.is_empty(), image) {
        (false, _) => [container.command.as_slice(), &container.args].concat(),
        (true, Some(image)) if container.args.is_empty() => {
            [image.entrypoint.as_slice(), &image.cmd].concat()
        }
        (true, Some(image)) => [image.entrypoint.as_slice(), &container.args].concat(),
        // A container with no image runs its `args` as written (podpass's own pods).
        (true, None) if container.image.is_none() => container.args.clone(),
        (true, None) => Vec::new(),
    };
    if argv.is_empty() {
        let name = &container.name;
        return Err(KubeletError::Manifest(match &container.image {
            Some(image) => format!(
                "container {name:?}: podpass runs host commands and does not know what image \
                 {image:?} runs: set the container's `command`, annotate the pod with \
                 `{ENTRYPOINT_ANNOTATION_PREFIX}{name}: <host command>`, or map the image with \
                 `podpass up --image-entrypoint '{}=<host command>'`",
                repository(image)
            ),
            None => format!("container {name:?}: command is required"),
        }));
    }
    Ok(argv)
}

/// Splits a command written on one line into words, on whitespace.
pub fn split_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The repository of an image reference: no tag, no digest, no Docker Hub or ECR Public
/// mirror host, no `library/` namespace. `docker.io/library/python:3.12@sha256:...` and
/// `python` are the same image here.
pub fn repository(image: &str) -> String {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    // A tag follows the last `:` only when no `/` comes after it (`host:5000/app` has none).
    let without_tag = match without_digest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => without_digest,
    };
    let mut name = without_tag.to_ascii_lowercase();
    for mirror in [
        "docker.io/",
        "index.docker.io/",
        "registry-1.docker.io/",
        "public.ecr.aws/docker/",
        "public.ecr.aws/",
    ] {
        if let Some(rest) = name.strip_prefix(mirror) {
            name = rest.to_owned();
            break;
        }
    }
    match name.strip_prefix("library/") {
        Some(official) => official.to_owned(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_repository() {
        for (reference, expected) in [
            ("python", "python"),
            ("python:3.12-slim", "python"),
            ("docker.io/library/python:3.12@sha256:abcd", "python"),
            ("public.ecr.aws/docker/library/python:3", "python"),
            ("amazon/aws-cli:2.17.0", "amazon/aws-cli"),
            ("public.ecr.aws/aws-cli/aws-cli:latest", "aws-cli/aws-cli"),
            (
                "registry.local:5000/team/tool",
                "registry.local:5000/team/tool",
            ),
            (
                "registry.local:5000/team/tool:v1",
                "registry.local:5000/team/tool",
            ),
            ("GHCR.IO/Podpass/Podpass:0.1.0", "ghcr.io/podpass/podpass"),
        ] {
            assert_eq!(repository(reference), expected, "{reference}");
        }
    }
}
