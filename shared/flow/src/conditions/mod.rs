//! Core condition types, one file per type, registered in [`register`].

pub mod date_time_between;
pub mod day_week;
pub mod day_week_in_month;
pub mod execution_flow;
pub mod execution_labels;
pub mod execution_namespace;
pub mod execution_outputs;
pub mod execution_status;
pub mod expression;
pub mod flow_condition;
pub mod flow_namespace;
pub mod has_retry_attempt;
pub mod multiple;
pub mod not;
pub mod or;
pub mod public_holiday;
pub mod time_between;
pub mod weekend;

use crate::plugin::Registry;

/// Registers every core condition type.
pub fn register(r: &mut Registry) {
    r.register::<execution_flow::ExecutionFlow>()
        .register::<execution_namespace::ExecutionNamespace>()
        .register::<execution_status::ExecutionStatus>()
        .register::<execution_labels::ExecutionLabels>()
        .register::<execution_outputs::ExecutionOutputs>()
        .register::<has_retry_attempt::HasRetryAttempt>()
        .register::<expression::Expression>()
        .register::<not::Not>()
        .register::<or::Or>()
        .register::<day_week::DayWeek>()
        .register::<day_week_in_month::DayWeekInMonth>()
        .register::<weekend::Weekend>()
        .register::<time_between::TimeBetween>()
        .register::<date_time_between::DateTimeBetween>()
        .register::<public_holiday::PublicHoliday>()
        .register::<multiple::MultipleCondition>()
        .register::<flow_condition::FlowCondition>()
        .register::<flow_namespace::FlowNamespace>();
}
