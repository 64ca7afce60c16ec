//! Failures: how AWS SDK errors and bad stored data become [`DocumentError`]s (with what was
//! being done), and [`WriteFail`], why a conditional write did not happen.

use std::error::Error as StdError;
use std::fmt;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use kite_ports::DocumentError;

use super::encoding::Attrs;

/// A failure of the AWS SDK or of the stored data, with what was being done.
#[derive(Debug)]
struct AwsFailure {
    context: String,
    detail: String,
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.detail)
    }
}

impl StdError for AwsFailure {}

/// A [`DocumentError::Backend`] of `operation` on `table`: `context` says what was being
/// done, `detail` what went wrong.
pub(super) fn backend(
    table: &str,
    operation: &'static str,
    context: String,
    detail: impl fmt::Display,
) -> DocumentError {
    DocumentError::Backend {
        table: table.to_owned(),
        operation,
        source: Box::new(AwsFailure {
            context,
            detail: detail.to_string(),
        }),
    }
}

/// A [`backend`] error from an AWS SDK error, with its full context.
pub(super) fn sdk_failure<E, R>(
    table: &str,
    operation: &'static str,
    context: String,
    err: &SdkError<E, R>,
) -> DocumentError
where
    E: StdError + 'static,
    R: fmt::Debug,
{
    backend(table, operation, context, DisplayErrorContext(err))
}

/// A [`DocumentError::Invalid`] on `table`.
pub(super) fn invalid(table: &str, reason: String) -> DocumentError {
    DocumentError::Invalid {
        table: table.to_owned(),
        reason,
    }
}

/// Why a conditional write did not happen.
pub(super) enum WriteFail {
    /// The condition failed; the old item when the service returned it.
    Condition(Option<Attrs>),
    /// Anything else.
    Other(DocumentError),
}

impl From<DocumentError> for WriteFail {
    fn from(err: DocumentError) -> Self {
        WriteFail::Other(err)
    }
}
