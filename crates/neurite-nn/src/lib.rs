//! neurite-nn: see the crate description; filled by its issue.
