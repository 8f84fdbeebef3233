//! Report JSON: strict and lenient readers, and the writer's round trip.
use tlsrpt_core::Report;

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    let strict = Report::parse_strict(data);
    let lenient = Report::parse_lenient(data);
    if let Ok(s) = &strict {
        // Whatever the strict reader accepts, the lenient one accepts identically.
        let l = lenient.as_ref().expect("lenient accepts strict input");
        assert_eq!(l.value, s.value);
        // The writer's strict form of a strict report is strictly valid and
        // reads back to the same report.
        for pretty in [false, true] {
            let json = s.value.to_json(pretty);
            let back = Report::parse_strict(json.as_bytes()).unwrap_or_else(|e| {
                panic!("written strict report does not parse strictly: {e}\n{json}")
            });
            assert_eq!(back.value, s.value, "{json}");
        }
    }
    if let Ok(l) = &lenient {
        let _ = (l.value.successful_sessions(), l.value.failed_sessions());
        // A lenient report need not be strictly valid once written (absent
        // members are omitted, e.g. `contact-info: null`), but the lenient
        // reader reads it back identically.
        for pretty in [false, true] {
            let json = l.value.to_json(pretty);
            let back = Report::parse_lenient(json.as_bytes())
                .unwrap_or_else(|e| panic!("written report does not parse: {e}\n{json}"));
            assert_eq!(back.value, l.value, "{json}");
        }
    }
}
