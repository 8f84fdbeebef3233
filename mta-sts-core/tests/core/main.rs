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
