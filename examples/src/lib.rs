//! Cross-crate examples of the workspace: the `deliver` binary
//! (`cargo run -p mta-sts-examples --bin deliver`), the `tlsrpt_day`
//! binary (`cargo run -p mta-sts-examples --bin tlsrpt_day`: an MTA's day
//! of TLS-RPT, recorded, merged, finished and rendered), the sample data in
//! `data/` that the root README's tour uses, and tests over the whole
//! workspace (`tests/`).
//!
//! The library itself is empty; it exists so that the Rust snippets of the
//! root `README.md` run as doctests of this crate
//! (`cargo test -p mta-sts-examples --doc`).

/// The root `README.md`: its ```` ```rust ```` blocks compiled and run as
/// doctests. They run in this crate's directory; the one that reads a
/// sample report first moves to the repository root (a hidden line), so
/// that the path it shows is the one a reader types there.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadme;
