//! Length arguments above `PTRDIFF_MAX` (`isize::MAX`): every `(pointer,
//! length)` pair is checked before anything is read or written, so a
//! length that cannot be a real object's is `MTASTS_RESULT_INVALID_ARGUMENT`
//! with a detail naming the argument, and the pointed-to bytes (a short
//! buffer here) are never touched. Lengths up to the limit are taken.

use std::ffi::c_char;
use std::ptr::null_mut;

use mtasts::{
    mtasts_last_error_detail, mtasts_policy, mtasts_policy_free, mtasts_policy_parse,
    mtasts_result, mtasts_sts_record, mtasts_sts_record_free, mtasts_sts_record_parse,
};

/// The first length over `PTRDIFF_MAX`.
const OVER: usize = isize::MAX as usize + 1;

/// The detail of the last failure on this thread.
fn last_detail() -> String {
    let mut buf = vec![0u8; 512];
    let mut n = 0usize;
    // SAFETY: `buf` is writable for its length; `n` is a valid out pointer.
    let rc = unsafe { mtasts_last_error_detail(buf.as_mut_ptr().cast(), buf.len(), &mut n) };
    assert_eq!(rc, mtasts_result::Ok);
    buf.truncate(n);
    String::from_utf8(buf).unwrap()
}

#[test]
fn byte_lengths_over_ptrdiff_max_are_refused_before_reading() {
    let body = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
    // Within the limit (the real length): parsed.
    let mut policy: *mut mtasts_policy = null_mut();
    // SAFETY: `body` is readable for its length; `policy` is an out pointer.
    let rc = unsafe { mtasts_policy_parse(body.as_ptr(), body.len(), &mut policy) };
    assert_eq!(rc, mtasts_result::Ok);
    assert!(!policy.is_null());
    // SAFETY: a live policy, freed once.
    unsafe { mtasts_policy_free(policy) };

    for len in [OVER, usize::MAX] {
        let mut policy: *mut mtasts_policy = null_mut();
        // SAFETY: the length is refused before `body` is read (the point
        // of the test); `policy` is an out pointer.
        let rc = unsafe { mtasts_policy_parse(body.as_ptr(), len, &mut policy) };
        assert_eq!(rc, mtasts_result::InvalidArgument, "{len}");
        assert!(policy.is_null(), "nothing is made");
        assert_eq!(
            last_detail(),
            format!("`body`: length {len} is larger than PTRDIFF_MAX")
        );
    }
}

#[test]
fn string_lengths_over_ptrdiff_max_are_refused_before_reading() {
    let txt = b"v=STSv1; id=20240501;";
    let mut record: *mut mtasts_sts_record = null_mut();
    // SAFETY: `txt` is readable for its length; `record` is an out pointer.
    let rc = unsafe { mtasts_sts_record_parse(txt.as_ptr().cast(), txt.len(), &mut record) };
    assert_eq!(rc, mtasts_result::Ok);
    // SAFETY: a live record, freed once.
    unsafe { mtasts_sts_record_free(record) };

    let mut record: *mut mtasts_sts_record = null_mut();
    // SAFETY: the length is refused before `txt` is read.
    let rc = unsafe { mtasts_sts_record_parse(txt.as_ptr().cast(), OVER, &mut record) };
    assert_eq!(rc, mtasts_result::InvalidArgument);
    assert!(record.is_null());
    assert_eq!(
        last_detail(),
        format!("`txt`: length {OVER} is larger than PTRDIFF_MAX")
    );
}

#[test]
fn buffer_lengths_over_ptrdiff_max_are_refused_before_writing() {
    // Make a failure so that there is a detail to copy.
    let mut record: *mut mtasts_sts_record = null_mut();
    // SAFETY: the length is refused before the (empty) text is read.
    let rc = unsafe { mtasts_sts_record_parse(c"".as_ptr(), OVER, &mut record) };
    assert_eq!(rc, mtasts_result::InvalidArgument);
    let mut buf = [0x55u8; 8];
    let mut n = 7usize;
    // SAFETY: the length is refused before `buf` (8 bytes) is written.
    let rc = unsafe { mtasts_last_error_detail(buf.as_mut_ptr().cast::<c_char>(), OVER, &mut n) };
    assert_eq!(rc, mtasts_result::InvalidArgument);
    assert_eq!(buf, [0x55; 8], "the buffer is untouched");
    // The detail is still the parse's (this function never changes it).
    // Within the limit: filled, cut to fit and NUL-terminated.
    // SAFETY: `buf` is writable for its 8 bytes.
    let rc = unsafe { mtasts_last_error_detail(buf.as_mut_ptr().cast::<c_char>(), 8, &mut n) };
    assert_eq!(rc, mtasts_result::BufferTooSmall);
    assert_eq!(&buf, b"`txt`: \0");
}
