//! A server process under a small shell that kills it when our end of the
//! shell's standard input closes: when the guard is dropped, and also when
//! the test process dies without running destructors (an abort). Shared by
//! [`crate::pebble`] and [`crate::dovecot`].

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shell script that runs `$0 "$@"` and kills it when its standard
/// input reaches end of file; it exits when the program does.
const SCRIPT: &str = r#"exec 3<&0
"$0" "$@" </dev/null &
pid=$!
{ read -r _ <&3; kill "$pid" 2>/dev/null; } &
wait "$pid""#;

/// How long [`stop`] waits for the shell to exit before killing it.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A command running `program` under the watchdog shell, its standard
/// input piped (keep the [`Child`]'s `stdin` open until [`stop`]); add the
/// program's arguments, directory and output as for `program` itself.
pub(crate) fn command(program: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(SCRIPT).arg(program).stdin(Stdio::piped());
    cmd
}

/// Stops a [`command`]'s child: closes its standard input (the shell then
/// kills the program and exits), waits up to five seconds for that, and
/// kills the shell if it is still there.
pub(crate) fn stop(child: &mut Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + STOP_TIMEOUT;
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}
