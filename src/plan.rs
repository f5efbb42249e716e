//! The plan model: parse, render, validate (DESIGN.md §3 "The plan").
