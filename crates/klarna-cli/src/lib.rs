//! The library half of the `klarna` command line: [`validate`], the local checks of request
//! bodies that the API commands run before anything is sent (its one user is the binary; the
//! tests cross-check it against the simulator's validation).

pub mod validate;
