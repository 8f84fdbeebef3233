//! Postfix socketmap: netstring framing, requests, key normalisation and replies.
use mta_sts_core::Policy;
use mta_sts_postfix::socketmap::{
    Frame, Key, MAX_NETSTRING, Request, ZoneSettings, decode, encode, normalize_key, policy_reply,
};

fn check_roundtrip(payload: &[u8]) {
    let enc = encode(payload);
    assert_eq!(
        decode(&enc, payload.len()),
        Ok(Frame::Complete {
            payload,
            consumed: enc.len()
        })
    );
    // Any proper prefix is incomplete, never an error.
    for cut in [0, 1, enc.len() / 2, enc.len() - 1] {
        assert_eq!(decode(&enc[..cut], payload.len()), Ok(Frame::Incomplete));
    }
}

/// Runs the target on one input.
pub(crate) fn run(data: &[u8]) {
    // A small limit exercises `TooLong` before the payload arrives.
    let _ = decode(data, 16);
    check_roundtrip(data);
    // The input as a pipelined stream of requests.
    let mut buf = data;
    while let Ok(Frame::Complete { payload, consumed }) = decode(buf, MAX_NETSTRING) {
        assert!(payload.len() < consumed && consumed <= buf.len());
        check_roundtrip(payload);
        buf = &buf[consumed..];
        let Ok(req) = Request::parse(payload) else {
            continue;
        };
        assert!(!req.name.is_empty() && !req.name.contains(' '));
        let Key::Domain(domain) = normalize_key(req.key) else {
            continue;
        };
        assert!(
            domain.is_ascii() && !domain.contains(|c: char| c.is_ascii_uppercase()),
            "{domain}"
        );
        // A normalised key is a fixed point.
        assert_eq!(
            normalize_key(&domain),
            Key::Domain(domain.clone()),
            "{:?}",
            req.key
        );
        // The rest of the stream as a policy: every reply fits a netstring.
        if let Ok(text) = std::str::from_utf8(buf)
            && let Ok(p) = Policy::parse_lenient(text)
        {
            for (strict_testing, require_sni, tlsrpt) in [(false, true, false), (true, false, true)]
            {
                let zone = ZoneSettings {
                    strict_testing,
                    require_sni,
                    tlsrpt,
                };
                let reply = policy_reply(&domain, Some(&p.value), &zone).to_netstring();
                assert!(matches!(
                    decode(&reply, MAX_NETSTRING),
                    Ok(Frame::Complete { .. })
                ));
            }
        }
        break;
    }
}
