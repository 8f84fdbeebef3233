"""Verify the topmost DKIM signature of a message with dkimpy.

Run by tlsrpt-core/tests/dkim/main.rs as an independent verifier:

    python3 dkim_verify.py PORT MODE < message

The key record is looked up over UDP (TCP when truncated) from the loopback
DNS server at 127.0.0.1:PORT; nothing leaves 127.0.0.1. MODE is dkimpy's
`tlsrpt` argument: `strict` (a TLS-RPT report, key record must say
s=tlsrpt), `yes` (a TLS-RPT report) or `no` (other mail).

Prints one line, `pass` or `fail: <dkimpy's log>`, and exits 0 on pass,
1 on fail, 3 when dkimpy, dnspython or PyNaCl cannot be imported.
"""

import io
import logging
import sys

try:
    import dkim
    import dns.message
    import dns.query
    import dns.rdatatype
    import nacl.signing  # noqa: F401  (ed25519-sha256 needs PyNaCl)
except ImportError as e:
    print(f"missing python module: {e}")
    sys.exit(3)


def main():
    port = int(sys.argv[1])
    mode = {"strict": "strict", "yes": True, "no": False}[sys.argv[2]]
    message = sys.stdin.buffer.read()

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        query = dns.message.make_query(name, dns.rdatatype.TXT)
        answer, _ = dns.query.udp_with_fallback(
            query, "127.0.0.1", port=port, timeout=timeout
        )
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                return b"".join(next(iter(rrset)).strings)
        return None

    log = io.StringIO()
    logger = logging.getLogger("dkim-verify")
    logger.addHandler(logging.StreamHandler(log))
    logger.setLevel(logging.DEBUG)
    d = dkim.DKIM(message, logger=logger, tlsrpt=mode)
    try:
        ok = d.verify(dnsfunc=dnsfunc)
    except dkim.DKIMException as e:
        ok = False
        logger.error("%s", e)
    if ok:
        print("pass")
        sys.exit(0)
    print("fail: " + " | ".join(log.getvalue().splitlines()))
    sys.exit(1)


main()
