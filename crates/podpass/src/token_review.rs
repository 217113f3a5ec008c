//! TokenReview through the Kubernetes API, for registered clusters whose tokens their
//! kube-apiserver reviews (`--cluster-tokenreview`, `podpass cluster register --tokenreview`):
//! the apiserver refuses tokens of deleted pods and ServiceAccounts, which a signature alone
//! cannot tell.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};
use podpass_control::issuers::{ReviewFuture, TokenReview as Review, TokenReviewer};

/// Reviews tokens with the apiserver of a Kubernetes client (in-cluster: podpass's own
/// ServiceAccount, which needs `create` on `tokenreviews`).
#[derive(Clone)]
pub(crate) struct KubeTokenReviewer {
    client: Client,
}

impl std::fmt::Debug for KubeTokenReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeTokenReviewer")
    }
}

impl KubeTokenReviewer {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }
}

impl TokenReviewer for KubeTokenReviewer {
    fn review<'a>(&'a self, token: &'a str, audiences: &'a [String]) -> ReviewFuture<'a> {
        Box::pin(async move {
            let request = TokenReview {
                spec: TokenReviewSpec {
                    token: token.to_owned(),
                    audiences: Some(audiences.to_vec()),
                },
                ..TokenReview::default()
            };
            let reviewed = Api::<TokenReview>::all(self.client.clone())
                .create(&PostParams::default(), &request)
                .await
                .map_err(|e| e.to_string())?;
            let status = reviewed.status.unwrap_or_default();
            Ok(Review {
                authenticated: status.authenticated.unwrap_or(false),
                username: status.user.and_then(|u| u.username).unwrap_or_default(),
                error: status.error.filter(|e| !e.is_empty()),
            })
        })
    }
}
