//! neurite-autograd: see the crate description; filled by its issue.
