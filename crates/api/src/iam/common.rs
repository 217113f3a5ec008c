//! What every IAM handler shares: reading members, and the success response.

use podpass_awsproto::{MemberType, NS_IAM, Validation, XmlResponse};

use crate::call::Call;

/// A success response of an IAM operation.
pub(super) fn response<'c>(operation: &'c str, call: &'c Call) -> XmlResponse<'c> {
    XmlResponse::new(operation, NS_IAM, &call.ctx.request_id)
}

/// Reads a required member and checks it against `member_type` (empty when absent: the
/// recorded violation fails the request before the value is used).
pub(super) fn required<'c>(
    call: &'c Call,
    validation: &mut Validation,
    member: &str,
    member_type: MemberType,
) -> &'c str {
    let value = call.params.get(member);
    validation
        .require(member, value)
        .check(member, value, member_type);
    value.unwrap_or_default()
}

/// Reads and validates the `RoleName` member of role operations.
pub(super) fn role_name<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "RoleName", MemberType::RoleName)
}

/// Reads and validates a `PolicyArn` member.
pub(super) fn policy_arn<'c>(call: &'c Call, validation: &mut Validation) -> &'c str {
    required(call, validation, "PolicyArn", MemberType::Arn)
}

/// Epoch seconds as a timestamp (the epoch itself for out-of-range values).
pub(super) fn timestamp(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).unwrap_or_default()
}

/// Records a violation when `value` is longer than `max` UTF-16 units (members without a
/// pattern, such as policy descriptions).
pub(super) fn check_max_len(
    validation: &mut Validation,
    member: &str,
    value: Option<&str>,
    max: usize,
) {
    if let Some(value) = value
        && value.encode_utf16().count() > max
    {
        validation.violation(
            member,
            Some(value),
            &format!("Member must have length less than or equal to {max}"),
        );
    }
}
