//! dkimpy (Python) as an independent DKIM verifier for the tests: the
//! script `scripts/dkim_verify.py` of this crate, run as a subprocess,
//! with its key queries answered by a loopback [`crate::DnsServer`].
//!
//! [`available`] says whether `python3` with dkimpy, dnspython and PyNaCl
//! can run; when it cannot, it prints why and returns `false`, unless
//! `MTASTS_REQUIRE_DKIMPY=1` (as `.ci/run` sets), where it panics.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// The verifier script.
fn script() -> String {
    format!("{}/scripts/dkim_verify.py", env!("CARGO_MANIFEST_DIR"))
}

/// Whether dkimpy can run here; panics when it cannot and
/// `MTASTS_REQUIRE_DKIMPY=1`.
pub fn available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import dkim, dns.message, dns.query, nacl.signing"])
        .output();
    let why = match probe {
        Ok(out) if out.status.success() => return true,
        // Python's last line names the missing module.
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("no error message")
            .to_owned(),
        Err(e) => format!("python3 did not start: {e}"),
    };
    let why = format!(
        "dkimpy unavailable ({why}); install it with \
         `python3 -m pip install dkimpy dnspython pynacl`"
    );
    if std::env::var("MTASTS_REQUIRE_DKIMPY").as_deref() == Ok("1") {
        panic!("MTASTS_REQUIRE_DKIMPY=1 but {why}");
    }
    eprintln!("skipping the dkimpy checks: {why}");
    false
}

/// dkimpy's verdict on the topmost signature of `message`, its key query
/// sent to the DNS server at `dns`: `Ok(())`, or its log. `mode` is the
/// script's second argument (`strict`: the key record must say
/// `s=tlsrpt`, as for report mail). Runs on a blocking thread, so that a
/// DNS server on the caller's runtime can answer.
pub async fn verify(dns: SocketAddr, mode: &str, message: &[u8]) -> Result<(), String> {
    let (port, mode, message) = (dns.port().to_string(), mode.to_owned(), message.to_vec());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .args([script().as_str(), port.as_str(), mode.as_str()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(&message)
            .expect("the message is written to the verifier");
        let out = child.wait_with_output().expect("the verifier finishes");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        match out.status.code() {
            Some(0) if stdout == "pass" => Ok(()),
            Some(1) => Err(stdout),
            _ => panic!(
                "dkim_verify.py failed: {:?}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    })
    .await
    .expect("the verifier thread does not panic")
}
