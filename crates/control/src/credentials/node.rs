//! The node's instance role, as EC2's instance metadata serves it: what a pod with no workload
//! identity falls back to, exactly as on an EKS node.
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html>

use podpass_session::SessionKind;

use super::{Issued, role_identity};
use crate::{Asker, Control, Ctx, Error, Result};

/// Lifetime of the node role's credentials (EC2 issues six-hour instance credentials).
const DURATION: i64 = 6 * 3600;
/// The session name of the node's instance, as EC2 names it by the instance id.
const INSTANCE_ID: &str = "i-podpass-node";

impl Control {
    /// A session of the node's role named `role_name`: `Ok(None)` when the node has no role of
    /// that name (instance metadata answers 404).
    pub async fn node_credentials(&self, ctx: &Ctx, role_name: &str) -> Result<Option<Issued>> {
        if self.settings().node_role.as_deref() != Some(role_name) {
            return Ok(None);
        }
        let arn = podpass_arn::role(self.account_id(), "/", role_name);
        let role = self
            .find_role(&arn)
            .await?
            .ok_or_else(|| Error::internal("the node role is missing"))?;
        let identity = role_identity(
            &role.role,
            self.account_id(),
            INSTANCE_ID,
            SessionKind::AssumeRole,
        );
        let asker = Asker {
            source: "ec2.amazonaws.com",
            operation: "AssumeRole",
            principal: INSTANCE_ID,
        };
        let (credentials, session) = self.mint(ctx, asker, "sts:AssumeRole", identity, DURATION)?;
        Ok(Some(Issued {
            credentials,
            session,
            packed_policy_size: None,
        }))
    }
}
