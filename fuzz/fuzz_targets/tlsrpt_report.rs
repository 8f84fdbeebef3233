//! Report JSON: strict and lenient readers, and the writer's round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tlsrpt_core::Report;

fn roundtrip(report: &Report<'_>) {
    // `to_json` writes the strict form, omitting absent members, so a report
    // only the lenient reader accepts need not be strict-valid once written;
    // but the lenient reader must read it back to the same report.
    for pretty in [false, true] {
        let json = report.to_json(pretty);
        let back = Report::parse_lenient(json.as_bytes())
            .unwrap_or_else(|e| panic!("written report does not parse: {e}\n{json}"));
        assert_eq!(&back.report, report, "{json}");
    }
}

fuzz_target!(|data: &[u8]| {
    let strict = Report::parse_strict(data);
    let lenient = Report::parse_lenient(data);
    if let Ok(s) = &strict {
        // Whatever the strict reader accepts, the lenient one accepts identically.
        let l = lenient.as_ref().expect("lenient accepts strict input");
        assert_eq!(l.report, s.report);
        roundtrip(&s.report);
    }
    if let Ok(l) = &lenient {
        let _ = (l.report.successful_sessions(), l.report.failed_sessions());
        roundtrip(&l.report);
    }
});
