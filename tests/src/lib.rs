//! Cross-crate end-to-end suites live in `tests/tests/`; this library holds their harness.
//!
//! * [`runtime_api`]: an emulator of the AWS Lambda Runtime API that runs a built Lambda
//!   binary ([`RuntimeApi`](runtime_api::RuntimeApi)), and [`Functions`](runtime_api::Functions),
//!   the invoker of the local event source mappings.
//! * [`binaries`]: finds (and if needed builds) the four Lambda binaries.
//! * [`apigw`]: API Gateway HTTP API events (payload format 2.0), responses, multipart bodies.
//! * [`stack`]: the four binaries of one installation on moto, fed like in AWS.

pub mod apigw;
pub mod binaries;
pub mod runtime_api;
pub mod stack;
