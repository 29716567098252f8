//! The tables of background work, reached with the store's SQL toolkit: the job queue
//! ([`jobs`]) and the schedules of periodic work ([`schedules`]). The run history that goes with
//! them is [`crate::runs`]. The schema and its migrations stay the store's.

pub mod jobs;
pub mod schedules;
