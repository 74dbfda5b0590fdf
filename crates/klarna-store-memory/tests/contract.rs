//! Runs the store contract suite of `klarna-ports` against the in-memory store.

klarna_ports::store_contract_tests!(klarna_store_memory::InMemoryStore::new());
