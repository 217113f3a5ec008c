//! AWS wire codecs for the query protocol (STS, IAM) and rest-json (EKS, EKS Auth):
//! form parameter parsing and validation, XML response writing, error rendering.
//! Framework-free: responses come out as [`RenderedResponse`] (status, headers, body bytes).
//!
//! ```
//! use podpass_awsproto::{AwsError, MemberType, NS_STS, QueryParams, Validation, XmlResponse};
//!
//! let params = QueryParams::parse(b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=s&Tags.member.1.Key=k&Tags.member.1.Value=v");
//! let request_id = podpass_awsproto::new_request_id();
//! let role_arn = params.required("RoleArn").unwrap();
//! let session = params.required("RoleSessionName").unwrap();
//! let tags: Vec<(&str, &str)> = params
//!     .structs("Tags")
//!     .unwrap_or_default()
//!     .iter()
//!     .filter_map(|t| Some((t.get("Key")?, t.get("Value")?)))
//!     .collect();
//! assert_eq!(tags, [("k", "v")]);
//!
//! let mut validation = Validation::new();
//! validation.check("RoleSessionName", Some(session), MemberType::RoleSessionName);
//! let response = match validation.finish() {
//!     Err(error) => error.render_query(NS_STS, &request_id),
//!     Ok(()) => XmlResponse::new("AssumeRole", NS_STS, &request_id).result(|w| {
//!         w.nest("AssumedRoleUser", |w| {
//!             w.elem("Arn", role_arn).elem("AssumedRoleId", "AROAEXAMPLE:s");
//!         });
//!     }),
//! };
//! assert_eq!(response.status, 400);
//! assert!(response.body_text().unwrap().contains("<Code>ValidationError</Code>"));
//! ```

#![warn(missing_docs)]

mod error;
mod params;
mod policy;
mod response;
mod time;
mod validate;
mod xml;

pub use error::{AwsError, ErrorType};
pub use params::{Member, QueryParams};
pub use policy::encode_policy_document;
pub use response::{RenderedResponse, json_response, new_request_id};
pub use time::{epoch_seconds, iso8601};
pub use validate::{MemberType, Validation, member_path};
pub use xml::{NS_IAM, NS_STS, XmlResponse, XmlWriter};

/// Query API version of STS.
pub const STS_VERSION: &str = "2011-06-15";
/// Query API version of IAM.
pub const IAM_VERSION: &str = "2010-05-08";
/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";
/// rest-json response header carrying the error code.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-ErrorType";
