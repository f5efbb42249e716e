//! Branch names and slugs (DESIGN.md §3 "Branch names").
