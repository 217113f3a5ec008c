//! `podpass agent init`: EKS's link-local addresses on a dummy link of the node, so that pods'
//! requests to `169.254.170.23` and `[fd00:ec2::23]` reach the agent on the host network, as the
//! reference agent's init container does. Idempotent: a link or address already there is kept.

use std::io;
use std::net::IpAddr;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::{Handle, LinkBridge, LinkDummy, LinkUnspec};

/// The link's name on the node, the reference agent's.
pub const DEFAULT_LINK_NAME: &str = "pod-id-link0";

/// Why the link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No netlink socket (not Linux, or no network namespace to talk to).
    #[error("opening a netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused a change (without NET_ADMIN: operation not permitted).
    #[error("{what}: {source}")]
    Netlink {
        /// What was being done.
        what: String,
        /// The kernel's answer.
        source: io::Error,
    },
}

/// The kernel's refusal as an OS error (`EEXIST`, `EPERM`, ...).
fn os_error(error: rtnetlink::Error) -> io::Error {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

fn refused(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> LinkError {
    let what = what.into();
    move |error| LinkError::Netlink {
        what,
        source: os_error(error),
    }
}

/// Creates the dummy link `name` if needed, brings it up and puts `addresses` on it (each as
/// a host address), unless the node has them all already. IPv4 addresses must take; an IPv6 one that cannot (a node without IPv6)
/// is logged and skipped, as the reference agent does.
pub async fn set_up_link(name: &str, addresses: &[IpAddr]) -> Result<(), LinkError> {
    // An address the node already has (loopback, or one an operator configured) is bindable
    // now: putting it on the link too would only duplicate it.
    let missing: Vec<IpAddr> = addresses
        .iter()
        .copied()
        .filter(|address| std::net::TcpListener::bind((*address, 0)).is_err())
        .collect();
    if missing.is_empty() {
        tracing::info!(?addresses, "the node has every address already");
        return Ok(());
    }
    let addresses = missing.as_slice();
    let (connection, handle, _) = rtnetlink::new_connection().map_err(LinkError::Socket)?;
    let connection = tokio::spawn(connection);
    let result = configure(&handle, name, addresses).await;
    connection.abort();
    result
}

async fn configure(handle: &Handle, name: &str, addresses: &[IpAddr]) -> Result<(), LinkError> {
    let index = match link_index(handle, name).await? {
        Some(index) => index,
        None => {
            let dummy = handle
                .link()
                .add(LinkDummy::new(name).build())
                .execute()
                .await
                .map_err(os_error);
            // A kernel without the dummy driver (some micro-VM kernels) gets an empty bridge:
            // its addresses are the node's all the same.
            let created = match dummy {
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    tracing::info!(
                        link = name,
                        "no dummy links in this kernel: an empty bridge instead"
                    );
                    handle
                        .link()
                        .add(LinkBridge::new(name).build())
                        .execute()
                        .await
                        .map_err(os_error)
                }
                other => other,
            };
            match created {
                Ok(()) => tracing::info!(link = name, "created the link"),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(LinkError::Netlink {
                        what: format!("creating link {name}"),
                        source,
                    });
                }
            }
            link_index(handle, name)
                .await?
                .ok_or_else(|| LinkError::Netlink {
                    what: format!("finding link {name} after creating it"),
                    source: io::ErrorKind::NotFound.into(),
                })?
        }
    };
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(refused(format!("bringing link {name} up")))?;
    for address in addresses {
        let prefix = if address.is_ipv4() { 32 } else { 128 };
        let mut request = handle.address().add(index, *address, prefix);
        // No duplicate address detection: the address is the node's alone, and a tentative
        // IPv6 address cannot be bound until DAD ends.
        request
            .message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        let added = request.execute().await.map_err(os_error);
        match added {
            Ok(()) => tracing::info!(link = name, %address, "address added"),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                tracing::info!(link = name, %address, "address already present");
            }
            Err(error) if address.is_ipv6() => {
                tracing::warn!(link = name, %address, %error, "IPv6 address not added (no IPv6 on this node?)");
            }
            Err(source) => {
                return Err(LinkError::Netlink {
                    what: format!("adding {address} to link {name}"),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// The index of the link `name`, `None` when there is none.
async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>, LinkError> {
    let found = handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
        .map_err(os_error);
    match found {
        Ok(link) => Ok(link.map(|link| link.header.index)),
        // The kernel answers a lookup of a missing name with ENODEV.
        Err(e) if e.raw_os_error() == Some(NO_SUCH_DEVICE) => Ok(None),
        Err(source) => Err(LinkError::Netlink {
            what: format!("looking up link {name}"),
            source,
        }),
    }
}

/// `ENODEV` on Linux.
const NO_SUCH_DEVICE: i32 = 19;
