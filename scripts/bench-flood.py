#!/usr/bin/env python3
"""Descriptor flood against a chatnode binary (docs/BENCHMARKS.md).

  scripts/bench-flood.py BINARY emfile|ulimit128 N [GAP_S]

Starts one node from BINARY, then either lowers its soft descriptor limit
to what it holds plus two (emfile) or starts it under `ulimit -n 128`
(ulimit128); opens N connections at once and one more every GAP_S seconds
(default 0.005) for 3 s; prints the node's utime+stime over those 3 s, how
many connections were answered 503, and /health after the flood ends."""
import os, resource, socket, subprocess, sys, time, urllib.request

binary, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
gap = float(sys.argv[4]) if len(sys.argv) > 4 else 0.005  # seconds between later connects
port = 17950 + (os.getpid() % 40)
d = f"/tmp/qc-bench-flood-{os.getpid()}"
os.makedirs(d, exist_ok=True)
cfg = f"{d}/n1.toml"
open(cfg, "w").write(f"""[node]
id = "n1"
listen = "127.0.0.1:{port}"
data_dir = "{d}/data"
[cluster]
secret = "s"
admin_token = "a"
members = [ {{ id = "n1", address = "127.0.0.1:{port}" }} ]
""")
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
log = open(f"{d}/log", "w")
if mode == "ulimit128":
    p = subprocess.Popen(["/bin/sh", "-c", 'ulimit -n 128 && exec "$0" "$@"', binary, "--config", cfg], stderr=log)
else:
    p = subprocess.Popen([binary, "--config", cfg], stderr=log)
def health():
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status
    except Exception as e:
        return str(e)[:60]
for _ in range(100):
    if health() == 200: break
    time.sleep(0.1)
def cpu():
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
if mode == "emfile":
    old = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)
    nfd = len(os.listdir(f"/proc/{p.pid}/fd"))
    resource.prlimit(p.pid, resource.RLIMIT_NOFILE, (nfd + 2, old[1]))
c0 = cpu(); t0 = time.time()
socks = []
def one():
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    socks.append(s)
for _ in range(n): one()
# Then more clients keep connecting, ~200/s, for the rest of the 3 s.
while time.time() - t0 < 3:
    if len(socks) > 6000: socks.pop(0).close()
    one(); time.sleep(gap)
used = cpu() - c0; wall = time.time() - t0
answered = 0
for s in socks:
    try:
        if s.recv(12, socket.MSG_PEEK) == b"HTTP/1.1 503": answered += 1
    except Exception: pass
if mode == "emfile":
    resource.prlimit(p.pid, resource.RLIMIT_NOFILE, old)
for s in socks: s.close()
time.sleep(0.5)
h = None
for _ in range(50):
    h = health()
    if h == 200: break
    time.sleep(0.2)
print(f"{binary} {mode} n={n} then every {gap*1000:g} ms: node CPU {used:.2f} s over {wall:.1f} s; answered 503: {answered}; /health after: {h}")
p.terminate(); p.wait()
subprocess.run(["rm", "-rf", d])
