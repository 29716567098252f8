//! Every page at 1366 and 375 px: no horizontal overflow, no console errors, axe-core clean, a screenshot in test-artifacts/.

#[allow(unused_imports)]
use super::*;
