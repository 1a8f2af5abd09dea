//! neurite-optim: see the crate description; filled by its issue.
