//! Report inputs: content detection, gzip, e-mail (MIME, base64,
//! quoted-printable) with small limits, then the readers.
use tlsrpt_core::Strictness;
use tlsrpt_core::input::{self, Limits, ReadOptions};

const LIMITS: Limits = Limits {
    max_decompressed: 1 << 20,
    max_attachment: 1 << 20,
    max_message: 1 << 20,
};

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    let kind = input::detect(data);
    let extracted = input::extract(data, &LIMITS);
    if let Ok(e) = &extracted {
        assert_eq!(Some(e.kind), kind);
        // Every limit here is 1 MiB: no output grows past it.
        assert!(e.json.len() <= 1 << 20, "{} bytes extracted", e.json.len());
    }
    let lenient = input::read_report(
        data,
        &ReadOptions {
            limits: LIMITS,
            strictness: Strictness::Lenient,
        },
    );
    let strict = input::read_report(
        data,
        &ReadOptions {
            limits: LIMITS,
            strictness: Strictness::Strict,
        },
    );
    if let Ok(s) = &strict {
        let l = lenient.as_ref().expect("lenient accepts strict input");
        assert_eq!(l.value.report, s.value.report);
        assert_eq!(l.value.extracted.json, s.value.extracted.json);
    }
    if let Ok(l) = &lenient {
        assert_eq!(
            &l.value.extracted.json,
            &extracted
                .as_ref()
                .expect("extract agrees with read_report")
                .json
        );
    }
}
