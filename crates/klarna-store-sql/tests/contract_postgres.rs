//! Runs the store contract suite of `klarna-ports` against PostgreSQL (`DATABASE_URL`), one
//! fresh schema per test; skipped with a message when no server is configured outside CI.
#![cfg(feature = "postgres")]

mod common;

klarna_ports::store_contract_tests!(match common::pg_store().await {
    Some(s) => s,
    None => return,
});
