"""The daemon lookup flood of issue 15 item 1, measured.

A DNS server on 127.0.0.1 that never answers (UDP and TCP), a daemon
(`mtasts daemon`) using it as its only resolver, and a client that
connects again and again, pipelines 64 lookups of random names and
closes. Prints the daemon's peak and current resident memory and its
open file descriptors after the flood.

Usage: python3 flood.py MTASTS_BINARY [SECONDS]
"""
import os
import random
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time

binary = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0

# The silent DNS server: reads and drops.
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
port = udp.getsockname()[1]
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", port))
tcp.listen(1024)
held = []


def drop_udp():
    while True:
        try:
            udp.recvfrom(4096)
        except OSError:
            return


def hold_tcp():
    while True:
        try:
            c, _ = tcp.accept()
            held.append(c)
        except OSError:
            return


threading.Thread(target=drop_udp, daemon=True).start()
threading.Thread(target=hold_tcp, daemon=True).start()

listen = socket.socket()
listen.bind(("127.0.0.1", 0))
dport = listen.getsockname()[1]
listen.close()
conf = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
conf.write(f'listen = ["127.0.0.1:{dport}"]\nresolver = "127.0.0.1:{port}"\n')
conf.close()
daemon = subprocess.Popen([binary, "daemon", "--config", conf.name],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", dport), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)


def status():
    with open(f"/proc/{daemon.pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
    return int(fields["VmHWM"].split()[0]) // 1024, int(fields["VmRSS"].split()[0]) // 1024, fds


def netstring(s):
    b = s.encode()
    return str(len(b)).encode() + b":" + b + b","


before = status()
end = time.time() + seconds
connections = requests = 0
peak_fds = 0
while time.time() < end:
    try:
        c = socket.create_connection(("127.0.0.1", dport), timeout=2)
    except OSError:
        time.sleep(0.05)
        continue
    batch = b"".join(
        netstring("x " + "".join(random.choices(string.ascii_lowercase, k=12)) + ".flood.test")
        for _ in range(64))
    try:
        c.sendall(batch)
    except OSError:
        pass
    c.close()
    connections += 1
    requests += 64
    if connections % 50 == 0:
        peak_fds = max(peak_fds, status()[2])
after = status()
peak_fds = max(peak_fds, after[2])
daemon.terminate()
try:
    daemon.wait(15)
except subprocess.TimeoutExpired:
    daemon.kill()
os.unlink(conf.name)
print(f"| {os.path.basename(os.path.dirname(binary)) or binary} {os.path.basename(binary)} "
      f"| {connections} x 64 = {requests} | {before[1]} MiB, {before[2]} fds "
      f"| {after[0]} MiB | {after[1]} MiB | {peak_fds} |")
