//! neurite-data: see the crate description; filled by its issue.
