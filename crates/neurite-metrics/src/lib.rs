//! neurite-metrics: see the crate description; filled by its issue.
