//! Core trigger types, one file per type, registered in [`register`].

pub mod aws_connection;
pub mod aws_s3;
pub mod aws_sqs;
pub mod aws_sqs_realtime;
pub mod flow;
pub mod http;
pub mod jdbc;
pub mod schedule;
pub mod schedule_on_dates;
pub mod webhook;

use crate::plugin::Registry;

/// Registers every core trigger type.
pub fn register(r: &mut Registry) {
    r.register::<schedule::Schedule>()
        .register::<schedule_on_dates::ScheduleOnDates>()
        .register::<flow::FlowTrigger>()
        .register::<webhook::Webhook>()
        .register::<http::HttpTrigger>();
    r.register::<jdbc::postgresql::PostgresTrigger>();
    r.register::<jdbc::sqlite::SqliteTrigger>();
    r.register::<aws_s3::S3Trigger>();
    r.register::<aws_sqs::SqsTrigger>();
    r.register::<aws_sqs_realtime::SqsRealtimeTrigger>();
}
