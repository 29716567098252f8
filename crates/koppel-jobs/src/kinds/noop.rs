//! `noop`: a diagnostic job that does nothing, so the queue's own cost can be measured
//! (`benches/jobs.rs`) and an operator can check that workers pick work up.

use crate::job::{Job, JobContext, JobFuture, JobType, Outcome};

pub const KIND: &str = "noop";

pub struct Noop;

impl JobType for Noop {
    const KIND: &'static str = KIND;
    const DEDUPLICATED: bool = false;
}

impl Job for Noop {
    fn run<'a>(&'a self, _context: &'a JobContext) -> JobFuture<'a> {
        Box::pin(async { Ok(Outcome::done()) })
    }
}
