//! One end-to-end test binary across the crates, a module per use case.
