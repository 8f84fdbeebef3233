#!/usr/bin/env python3
"""The peer of `inbox_ingest`: parsedmarc's TLS-RPT path on the same files.

Usage: parsedmarc_tlsrpt.py DIR_OR_FILE...

Every regular file (a `.eml` report message; directories are listed, not
recursed) is read and given, as bytes, to `parsedmarc.parse_report_file`
with `offline=True` (no DNS, no geolocation download), the entry point that
handles DMARC aggregate, DMARC failure and SMTP TLS (RFC 8460) reports.
parsedmarc does not verify DKIM on these messages and stores nothing: the
figure is parsing only. A file not read as an `smtp_tls` report is an
error (exit 1).

Prints (one `key value` per line):
  parsedmarc_version, reports, seconds_wall, seconds_cpu,
  reports_per_second_wall, reports_per_second_cpu
"""

import os
import sys
import time


def files_of(args):
    out = []
    for a in args:
        if os.path.isdir(a):
            for name in sorted(os.listdir(a)):
                p = os.path.join(a, name)
                if os.path.isfile(p) and not name.startswith("."):
                    out.append(p)
        else:
            out.append(a)
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import parsedmarc
    except ImportError as e:
        print(f"parsedmarc is not installed: {e}", file=sys.stderr)
        return 1
    version = getattr(parsedmarc, "__version__", "unknown")
    paths = files_of(sys.argv[1:])
    if not paths:
        print("no files", file=sys.stderr)
        return 1
    # Parse one first (not timed): imports and caches warmed, as for ours.
    with open(paths[0], "rb") as f:
        parsedmarc.parse_report_file(f.read(), offline=True)
    n = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        result = parsedmarc.parse_report_file(data, offline=True)
        if result.get("report_type") != "smtp_tls":
            print(f"{p}: not read as an SMTP TLS report: {result.get('report_type')}",
                  file=sys.stderr)
            return 1
        n += 1
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"parsedmarc_version {version}")
    print(f"reports {n}")
    print(f"seconds_wall {wall:.3f}")
    print(f"seconds_cpu {cpu:.3f}")
    print(f"reports_per_second_wall {n / wall:.1f}")
    print(f"reports_per_second_cpu {n / cpu:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
