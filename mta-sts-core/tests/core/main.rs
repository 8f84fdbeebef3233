//! Integration tests for mta-sts-core. Test names carry the checklist IDs
//! (STS-*) and decision IDs (DEC-*) of the specification digest they cover.

#[cfg(feature = "cert")]
mod cert;
mod corpus;
mod discovery;
mod enforce;
mod mx;
mod policy;
mod record;
mod roundtrip;

/// `template` with every `from` replaced by `to`, after checking that
/// there is a `from` to replace: a fixture whose replacement did nothing
/// would silently test the template instead.
#[track_caller]
pub(crate) fn replaced(template: &str, from: &str, to: &str) -> String {
    assert!(
        template.contains(from),
        "fixture: `{from}` is not in the template:\n{template}"
    );
    template.replace(from, to)
}
