//! Items the macros' expansions and the public traits' bounds need. Not a public API:
//! nothing here follows semver.

pub mod backend;
