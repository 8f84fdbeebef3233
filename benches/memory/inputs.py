"""Hostile inputs for benches/memory/attack.sh (issue 15 items 4 and 5).

Usage: python3 inputs.py DIR
"""
import gzip
import os
import sys

out = sys.argv[1]
os.makedirs(os.path.join(out, "hosts"), exist_ok=True)

HEAD = ('{"organization-name":"x","date-range":{"start-datetime":"2024-01-01T00:00:00Z",'
        '"end-datetime":"2024-01-01T23:59:59Z"},"contact-info":"tlsrpt@x.example",'
        '"report-id":"%s","policies":[{"policy":{"policy-type":"sts","policy-string":[%s],'
        '"policy-domain":"x.example","mx-host":["*.x.example"]},"summary":'
        '{"total-successful-session-count":1,"total-failure-session-count":%d}%s}]}')
LIMIT = 32 * 1024 * 1024 - 512


def write_gz(name, text):
    with open(os.path.join(out, name), "wb") as f:
        f.write(gzip.compress(text.encode(), 9))


# 1. 32 MiB of JSON that is 8 million two-byte strings (a 32 KB gzip).
n = LIMIT // 4
write_gz("strings.json.gz", HEAD % ("r", ",".join(['"a"'] * n), 0, ""))

# 2. As many failure details as fit in 32 MiB (each is kept: the honest case).
fd = '{"result-type":"a","sending-mta-ip":"1.1.1.1","failed-session-count":1}'
n = LIMIT // (len(fd) + 1)
write_gz("details.json.gz", HEAD % ("r", '"version: STSv1"', n,
                                    ',"failure-details":[' + ",".join([fd] * n) + "]"))

report = HEAD % ("r", '"version: STSv1"', 0, "")
hdr = b"From: a@x.example\r\nSubject: s\r\nTLS-Report-Domain: x.example\r\nTLS-Report-Submitter: x.example\r\n"

# 3. 60 MB of header lines (most of them fields the reader does not use).
with open(os.path.join(out, "headers.eml"), "wb") as f:
    line = b"X-J: a\r\n"
    f.write(hdr + line * ((60 << 20) // len(line)))
    f.write(b"Content-Type: application/tlsrpt+json\r\n\r\n" + report.encode())

# 4. A Content-Type with 8 million parameters (60 MB).
with open(os.path.join(out, "params.eml"), "wb") as f:
    p = b";\r\n a=b"
    f.write(hdr + b"Content-Type: application/tlsrpt+json" + p * ((60 << 20) // len(p)))
    f.write(b"\r\n\r\n" + report.encode())

# 5. Four reports of 289k failure details (32 MiB each at most, the default
#    limit), each with its own MX host name.
for k in range(4):
    details = ",".join(
        '{"result-type":"certificate-expired",'
        '"receiving-mx-hostname":"h%d-%d.x","failed-session-count":1}' % (k, i)
        for i in range(289_000))
    write_gz("hosts/r%d.json.gz" % k,
             HEAD % ("r%d" % k, '"version: STSv1"', 289_000, ',"failure-details":[' + details + "]"))
