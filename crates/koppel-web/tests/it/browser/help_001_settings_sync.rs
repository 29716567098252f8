//! Help page 001, "Instellingen synchroniseren naar subadministraties", walked step by step in Dutch and once in English.

#[allow(unused_imports)]
use super::*;
