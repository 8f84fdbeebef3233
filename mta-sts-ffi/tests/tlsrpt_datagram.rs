//! Byte compatibility of the libtlsrpt-compatible API's datagrams: a
//! delivery request made through the `extern "C"` functions is received
//! on a real AF_UNIX datagram socket and compared byte for byte with the
//! datagram of `shared/spec/interop.md` section 2 (its template with the
//! placeholders filled in), decoded by `tlsrpt_core::datagram::decode`
//! without a warning, and written back by `Datagram::to_libtlsrpt_json`
//! (the workspace's own libtlsrpt-form writer) to the same bytes.

#![allow(
    clippy::multiple_unsafe_ops_per_block,
    reason = "a test: each block is one delivery request's calls, with one SAFETY comment"
)]

use std::ffi::{CString, c_char};
use std::os::unix::net::UnixDatagram;
use std::ptr::{null, null_mut};

use mtasts::tlsrpt_compat::*;
use tlsrpt_core::datagram::{DatagramLimits, decode};

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Send one delivery request (`build` fills it) to `socket`; return the
/// datagram received.
fn roundtrip(build: impl FnOnce(*mut tlsrpt_dr_t)) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("tlsrpt-dg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = dir.join(format!(
        "{}.sock",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_nonblocking(true).unwrap();
    let name = c(path.to_str().unwrap());
    let mut con = null_mut();
    // SAFETY: valid pointers; `name` outlives the call.
    assert_eq!(unsafe { tlsrpt_open(&mut con, name.as_ptr()) }, 0);
    let mut dr = null_mut();
    let d = c("example.com");
    let pr = c("v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
    // SAFETY: valid pointers and strings; the connection is open.
    let rc = unsafe { tlsrpt_init_delivery_request(&mut dr, con, d.as_ptr(), pr.as_ptr()) };
    assert_eq!(rc, 0);
    build(dr);
    // SAFETY: `dr` and `con` are live; each is destroyed once.
    unsafe {
        assert_eq!(tlsrpt_finish_delivery_request(&mut dr), 0);
        assert!(dr.is_null());
        assert_eq!(tlsrpt_close(&mut con), 0);
    }
    let mut buf = vec![0; 70_000];
    let n = rx.recv(&mut buf).expect("a datagram was sent");
    buf.truncate(n);
    let _ = std::fs::remove_file(&path);
    buf
}

fn s(v: &CString) -> *const c_char {
    v.as_ptr()
}

#[test]
fn the_interop_example_byte_for_byte() {
    let got = roundtrip(|dr| {
        let (pd, p1, p2, p3, p4, mx) = (
            c("example.com"),
            c("version: STSv1"),
            c("mode: enforce"),
            c("mx: mx.example.com"),
            c("max_age: 86400"),
            c("mx.example.com"),
        );
        let f = [
            "192.0.2.1",
            "mx.example.com",
            "mx.example.com",
            "198.51.100.7",
            "certificate has expired",
            "X509_V_ERR_CERT_HAS_EXPIRED",
        ]
        .map(c);
        // SAFETY: `dr` is live; every string is NUL-terminated and
        // outlives its call.
        unsafe {
            assert_eq!(tlsrpt_init_policy(dr, TLSRPT_POLICY_STS, s(&pd)), 0);
            for p in [&p1, &p2, &p3, &p4] {
                assert_eq!(tlsrpt_add_policy_string(dr, s(p)), 0);
            }
            assert_eq!(tlsrpt_add_mx_host_pattern(dr, s(&mx)), 0);
            assert_eq!(
                tlsrpt_add_delivery_request_failure(
                    dr,
                    204,
                    s(&f[0]),
                    s(&f[1]),
                    s(&f[2]),
                    s(&f[3]),
                    s(&f[4]),
                    s(&f[5])
                ),
                0
            );
            assert_eq!(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE), 0);
        }
    });
    // interop.md section 2's datagram, placeholders filled in.
    let want = concat!(
        r#"{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","#,
        r#""policies":[{"policy-type":2,"policy-domain":"example.com","#,
        r#""policy-string":["version: STSv1","mode: enforce","mx: mx.example.com","max_age: 86400"],"#,
        r#""mx-host":["mx.example.com"],"failure-details":[{"c":204,"s":"192.0.2.1","#,
        r#""n":"mx.example.com","h":"mx.example.com","r":"198.51.100.7","#,
        r#""a":"certificate has expired","f":"X509_V_ERR_CERT_HAS_EXPIRED"}],"t":1,"f":1}]}"#
    );
    assert_eq!(String::from_utf8(got.clone()).unwrap(), want);
    let d = decode(&got, &DatagramLimits::default()).unwrap();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.to_libtlsrpt_json().as_bytes(), &got[..]);
    let f = &d.policies[0].failures[0];
    assert_eq!(f.result_type.as_str(), "certificate-expired");
    assert_eq!(f.receiving_mx_helo.as_deref(), Some("mx.example.com"));
}

#[test]
fn missing_policy_domain_is_the_delivery_domain_and_absent_members_are_left_out() {
    let got = roundtrip(|dr| {
        // SAFETY: `dr` is live; NULL strings are allowed here.
        unsafe {
            assert_eq!(tlsrpt_init_policy(dr, TLSRPT_NO_POLICY_FOUND, null()), 0);
            assert_eq!(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS), 0);
            assert_eq!(tlsrpt_init_policy(dr, TLSRPT_POLICY_TLSA, null()), 0);
            assert_eq!(
                tlsrpt_add_delivery_request_failure(
                    dr,
                    305,
                    null(),
                    null(),
                    null(),
                    null(),
                    null(),
                    null()
                ),
                0
            );
            assert_eq!(tlsrpt_finish_policy(dr, TLSRPT_FINAL_FAILURE), 0);
        }
    });
    let want = concat!(
        r#"{"dpv":"1","d":"example.com","pr":"v=TLSRPTv1; rua=mailto:tlsrpt@example.com","#,
        r#""policies":[{"policy-type":9,"policy-domain":"example.com","t":0,"f":0},"#,
        r#"{"policy-type":1,"policy-domain":"example.com","failure-details":[{"c":305}],"t":1,"f":1}]}"#
    );
    assert_eq!(String::from_utf8(got.clone()).unwrap(), want);
    let d = decode(&got, &DatagramLimits::default()).unwrap();
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.to_libtlsrpt_json().as_bytes(), &got[..]);
}

/// One request with a `no-policy-found` success through `con`; the
/// result of finishing it.
fn send_one(con: *mut tlsrpt_connection_t, domain: &str) -> std::ffi::c_int {
    let mut dr = null_mut();
    let d = c(domain);
    // SAFETY: `con` is live; valid strings; `dr` is finished once.
    unsafe {
        assert_eq!(
            tlsrpt_init_delivery_request(&mut dr, con, d.as_ptr(), null()),
            0
        );
        assert_eq!(tlsrpt_init_policy(dr, TLSRPT_NO_POLICY_FOUND, null()), 0);
        assert_eq!(tlsrpt_finish_policy(dr, TLSRPT_FINAL_SUCCESS), 0);
        tlsrpt_finish_delivery_request(&mut dr)
    }
}

fn received(rx: &UnixDatagram) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = vec![0; 70_000];
    while let Ok(n) = rx.recv(&mut buf) {
        let d = decode(&buf[..n], &DatagramLimits::default()).unwrap();
        out.push(d.domain.clone());
    }
    out
}

/// The connection stays connected to the collector between sends; a
/// collector that went away gives libtlsrpt's `sendto` error, one that
/// started again on the same path is found at the next send, and one
/// that replaced the socket while the old one stays open is found within
/// a second (libtlsrpt looks the path up at every `sendto`).
#[test]
fn a_restarted_or_replaced_collector_is_found_again() {
    let dir = std::env::temp_dir().join(format!("tlsrpt-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("collector.sock");
    let _ = std::fs::remove_file(&path);
    let name = c(path.to_str().unwrap());
    let mut con = null_mut();
    // SAFETY: valid pointers; `name` outlives the call.
    assert_eq!(unsafe { tlsrpt_open(&mut con, name.as_ptr()) }, 0);
    // No collector yet: `sendto`'s ENOENT, as libtlsrpt.
    assert_eq!(send_one(con, "none.example"), TLSRPT_ERR_SENDTO + 2);

    let first = UnixDatagram::bind(&path).unwrap();
    first.set_nonblocking(true).unwrap();
    assert_eq!(send_one(con, "a.example"), 0);
    assert_eq!(send_one(con, "b.example"), 0);
    assert_eq!(received(&first), ["a.example", "b.example"]);

    // The collector stops (socket closed, file removed).
    drop(first);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(send_one(con, "lost.example"), TLSRPT_ERR_SENDTO + 2);
    // And starts again on the same path.
    let second = UnixDatagram::bind(&path).unwrap();
    second.set_nonblocking(true).unwrap();
    assert_eq!(send_one(con, "c.example"), 0);
    assert_eq!(received(&second), ["c.example"]);

    // A new collector binds the path while the old socket stays open:
    // found within a second.
    std::fs::remove_file(&path).unwrap();
    let third = UnixDatagram::bind(&path).unwrap();
    third.set_nonblocking(true).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(send_one(con, "d.example"), 0);
    assert_eq!(received(&third), ["d.example"]);
    assert!(received(&second).is_empty());

    // SAFETY: `con` is live and closed once.
    assert_eq!(unsafe { tlsrpt_close(&mut con) }, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
