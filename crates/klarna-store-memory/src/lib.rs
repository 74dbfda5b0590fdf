//! In-memory store adapter for the Klarna toolkit: a real adapter and the canonical fake.
