//! Help page 000, "Schakel automatische synchronisatie in", walked step by step in Dutch and once in English.

#[allow(unused_imports)]
use super::*;
