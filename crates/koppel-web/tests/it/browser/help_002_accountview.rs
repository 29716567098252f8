//! Help page 002, "AccountView instellen", walked step by step in Dutch and once in English.

#[allow(unused_imports)]
use super::*;
