//! Runs the store contract suite of `klarna-ports` against SQLite, one fresh file per test.

#![cfg(feature = "sqlite")]

mod common;

klarna_ports::store_contract_tests!(common::sqlite_store().await);
