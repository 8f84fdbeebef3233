//! The Rust snippets of the top-level README, kept compiling and true.

#[test]
fn readme_mta_sts_snippet() -> Result<(), Box<dyn std::error::Error>> {
    use mta_sts_core::{Policy, StsRecord};

    let answer = [b"v=STSv1; id=20160831085700Z;".to_vec()];
    let record = StsRecord::select(&answer)?;
    assert_eq!(record.id(), "20160831085700Z");
    let policy = Policy::parse_lenient(
        "version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 604800\n",
    )?;
    assert!(policy.warnings.is_empty());
    assert!(policy.value.matches_mx("mx1.example.net"));
    Ok(())
}

#[test]
fn readme_tlsrpt_snippet() -> Result<(), Box<dyn std::error::Error>> {
    use tlsrpt_core::{input, summary::Aggregator};

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/reports/mail-auth/rpt01.eml"
    );
    let bytes = std::fs::read(path)?;
    let (_, report, warnings) = input::read_report(&bytes, &input::Limits::default(), false)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut sum = Aggregator::new();
    sum.add(&report, "rpt01.eml");
    assert_eq!(sum.summary().failed_sessions, 303);
    Ok(())
}
