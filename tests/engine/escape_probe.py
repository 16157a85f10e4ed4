"""The escape suite's attempts (tests/engine/test_escape.py): one program, run as a learner would run it.

    python escape_probe.py '<config json>'   prints one JSON object: {attempt: {"ok": bool, "detail": str}}

It runs unchanged in three places: in a learner's kernel (as a subprocess of it), in a privileged container the
learner starts in their own engine (``docker run --privileged --pid=host --net=host -v /:/host -v /dev:/dev …``),
and, as the reference of what this machine allows at all, in the same privileged container started directly on
the host's engine. Standard library only (the course's Python image has nothing else).

Every attempt is harmless by construction: it reads (a marker the test made, the first bytes of a device, the
ELF header of /proc/kcore), opens without writing (/proc/sysrq-trigger, a cgroup's release_agent), asks to
remove a kernel module that does not exist, or writes one marker file into a folder the test made for it.
Nothing is written to /proc, no module is loaded, no cgroup is created, no host file is changed. Each attempt has
a time bound (sockets: 3 s; the setns attempts run in a child process with a 10 s bound).
"""
from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

CFG = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
PREFIXES = ["", "/host"]  # a path as it is, and under the host's / when the container mounted it there
libc = ctypes.CDLL(None, use_errno=True)
OUT: dict[str, dict] = {}


def record(name: str, ok: bool, detail: str) -> None:
    OUT[name] = {"ok": bool(ok), "detail": detail[:300]}


def err(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno:
        return f"{errno.errorcode.get(e.errno, e.errno)} ({e.strerror})"
    return f"{type(e).__name__}: {e}"[:200]


def read_bytes(path: str, n: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, n)
    finally:
        os.close(fd)


def device(spec: dict, want: bytes | None) -> tuple[bool, str]:
    """Read the first bytes of a block device: by its path, else through a node made with mknod."""
    tried = []
    for prefix in ("",):
        path = prefix + spec["path"]
        try:
            data = read_bytes(path, max(512, len(want or b"")))
            ok = data.startswith(want) if want else len(data) > 0
            return ok, f"{path}: read {len(data)} bytes" + ("" if ok else " (not the marker)")
        except OSError as e:
            tried.append(f"{path}: {err(e)}")
    node = os.path.join(tempfile.mkdtemp(prefix="probe-"), "blk")
    try:
        os.mknod(node, 0o600 | 0o060000, os.makedev(spec["major"], spec["minor"]))
        data = read_bytes(node, 512)
        ok = data.startswith(want) if want else len(data) > 0
        return ok, f"mknod {spec['major']}:{spec['minor']}: read {len(data)} bytes"
    except OSError as e:
        tried.append(f"mknod {spec['major']}:{spec['minor']}: {err(e)}")
    finally:
        try:
            os.unlink(node)
        except OSError:
            pass
    return False, "; ".join(tried)


SETNS_CHILD = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid, path, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]
try:
    fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
except OSError as e:
    print("open ns/mnt:", os.strerror(e.errno)); sys.exit(2)
if libc.setns(fd, 0x00020000) != 0:
    print("setns:", os.strerror(ctypes.get_errno())); sys.exit(2)
os.chdir("/")
try:
    data = open(path).read()
except OSError as e:
    print("read in its mount namespace:", os.strerror(e.errno)); sys.exit(2)
print("read the marker" if data.strip() == marker else "read something else"); sys.exit(0 if data.strip() == marker else 3)
"""


def nsenter(pid: int, path: str, marker: str) -> tuple[bool, str]:
    try:
        p = subprocess.run([sys.executable, "-c", SETNS_CHILD, str(pid), path, marker], capture_output=True,
                           text=True, timeout=10)
        return p.returncode == 0, f"PID {pid}: " + (p.stdout.strip() or p.stderr.strip()[-200:])
    except (OSError, subprocess.SubprocessError) as e:
        return False, err(e)


def find_pid(token: str) -> int | None:
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                if token.encode() in f.read().split(b"\0"):  # an argument of its own, not inside this probe's
                    return int(d.rsplit("/", 1)[1])
        except OSError:
            continue
    return None


def http_over_unix(path: str, req: str) -> bytes:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(3)
    try:
        s.connect(path)
        s.sendall(req.encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        s.close()


def engine_id_at(endpoint: str) -> str:
    req = "GET /info HTTP/1.0\r\nHost: docker\r\n\r\n"
    if endpoint.startswith("unix://"):
        raw = http_over_unix(endpoint[7:], req)
    else:
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=3) as s:
            s.settimeout(3)
            s.sendall(req.encode())
            raw = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                raw += b
    body = raw.split(b"\r\n\r\n", 1)[-1]
    return json.loads(body).get("ID", "?")


# ------------------------------------------------------------------------------------------------ the attempts
def attempts() -> None:
    host = CFG.get("host", {})
    # 1-2. the host's block devices
    if host.get("disk"):
        record("block device: the host's disk", *device(host["disk"], None))
    if host.get("loop"):
        record("block device: a host disk the machine lets root read (test-made loop device)",
               *device(host["loop"], host["loop"]["marker"].encode()))
    # 3-4. nsenter into the host's namespaces
    if host.get("secret_path"):
        record("nsenter into PID 1 of the host, read a root-only file",
               *nsenter(1, host["secret_path"], host["secret"]))
        pid = find_pid(host["target_token"])
        record("nsenter into a host process (test-made), read a root-only file",
               *(nsenter(pid, host["secret_path"], host["secret"]) if pid else
                 (False, "no such process in this PID namespace")))
    # 5-7. the kernel's knobs
    try:
        fd = os.open("/proc/sysrq-trigger", os.O_WRONLY)
        os.close(fd)  # opened for writing; nothing written
        record("/proc/sysrq-trigger (open for writing, nothing written)", True, "opened for writing")
    except OSError as e:
        record("/proc/sysrq-trigger (open for writing, nothing written)", False, err(e))
    try:
        head = read_bytes("/proc/kcore", 4)
        record("/proc/kcore (read its ELF header)", head == b"\x7fELF", f"read {head!r}")
    except OSError as e:
        record("/proc/kcore (read its ELF header)", False, err(e))
    ctypes.set_errno(0)
    r = libc.syscall(176, b"dockerlab_probe_no_such_module", 0o4000)  # delete_module(name, O_NONBLOCK)
    e = ctypes.get_errno()
    record("kernel modules (delete_module of a module that does not exist)", r != 0 and e == errno.ENOENT,
           "allowed (ENOENT: no such module)" if e == errno.ENOENT else f"{errno.errorcode.get(e, e)}")
    # 8. a cgroup v1 release_agent
    record("cgroup v1 release_agent (mount a hierarchy, open release_agent for writing)", *release_agent())
    # 9. the host's Docker socket
    want = CFG.get("host_engine_id")
    seen = []
    hit = False
    for path in CFG.get("docker_sockets", []):
        try:
            eid = engine_id_at("unix://" + path)
            seen.append(f"{path}: engine {eid[:12]}{' (the host engine)' if eid == want else ' (not the host engine)'}")
            hit = hit or eid == want
        except (OSError, ValueError) as e:
            seen.append(f"{path}: {err(e)}")
    record("the host's Docker socket", hit, "; ".join(seen) or "no socket")
    # 10-11. the host's files
    if host.get("secret_path"):
        got = []
        for prefix in PREFIXES:
            try:
                data = open(prefix + host["secret_path"]).read().strip()
                got.append(f"{prefix or '/'}: {'the marker' if data == host['secret'] else 'something else'}")
                if data == host["secret"]:
                    record("read a root-only file of the host", True, "; ".join(got))
                    break
            except OSError as e:
                got.append(f"{prefix + host['secret_path']}: {err(e)}")
        else:
            record("read a root-only file of the host", False, "; ".join(got))
    if host.get("drop_dir"):
        wrote = []
        for prefix in PREFIXES:
            path = f"{prefix}{host['drop_dir']}/{CFG.get('context', 'probe')}"
            try:
                with open(path, "w") as f:
                    f.write("written from " + CFG.get("context", "?"))
                wrote.append(f"wrote {path}")
            except OSError as e:
                wrote.append(f"{path}: {err(e)}")
        # the test decides from the host whether the file is there: a path can mean another file in here
        record("write a file into a root-only folder of the host", False, "; ".join(wrote))
    # 12. the host's loopback (services bound to 127.0.0.1 on the host: the test's, the hub proxy's API)
    if host.get("loopback_port"):
        try:
            with socket.create_connection(("127.0.0.1", host["loopback_port"]), timeout=3) as s:
                s.settimeout(3)
                banner = s.recv(200).decode(errors="replace").strip()
            record("a service on the host's 127.0.0.1", banner == host["loopback_banner"], f"answered {banner[:60]!r}")
        except OSError as e:
            record("a service on the host's 127.0.0.1", False, err(e))
    # 13-15. the other learner
    other = CFG.get("other", {})
    seen, hit = [], False
    for ep in other.get("engines", []):
        try:
            eid = engine_id_at(ep)
            seen.append(f"{ep}: engine {eid[:12]}")
            hit = hit or eid == other.get("engine_id")
        except (OSError, ValueError) as e:
            seen.append(f"{ep}: {err(e)}")
    record("the other learner's engine", hit, "; ".join(seen) or "no address")
    seen, hit = [], False
    for path in other.get("files", []):
        for prefix in PREFIXES:
            try:
                data = open(prefix + path).read().strip()
                seen.append(f"{prefix + path}: {'their marker' if data == other['secret'] else 'something else'}")
                hit = hit or data == other["secret"]
            except OSError as e:
                seen.append(f"{prefix + path}: {err(e)}")
    record("the other learner's files", hit, "; ".join(seen[:4]))
    seen, hit = [], False
    for addr in other.get("notebooks", []):
        host_, port = addr.rsplit(":", 1)
        try:
            with socket.create_connection((host_, int(port)), timeout=3) as s:
                s.settimeout(3)
                s.sendall(f"GET {other.get('prefix', '/')}api/status HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                line = s.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")
            seen.append(f"{addr}: answered {line!r}")
            hit = hit or line.startswith("HTTP/")
        except OSError as e:
            seen.append(f"{addr}: {err(e)}")
    record("the other learner's notebook server over the network", hit, "; ".join(seen) or "no address")
    # 16. the hub's API with the learner's own token: admin calls
    hub = CFG.get("hub")
    if hub:
        for name, method, path, body in (
                ("hub API: list every user (admin)", "GET", "/users", None),
                ("hub API: the proxy's routing table (admin)", "GET", "/proxy", None),
                ("hub API: the other learner's model (admin)", "GET", f"/users/{hub['other']}", None),
                ("hub API: a token for the other learner (admin)", "POST", f"/users/{hub['other']}/tokens",
                 {"note": "escape-probe", "expires_in": 60}),
                ("hub API: make myself admin", "PATCH", f"/users/{hub['me']}", {"admin": True}),
                ("hub API: create a user (admin)", "POST", "/users/escape-probe-user", None)):
            req = urllib.request.Request(hub["url"] + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"token {hub['token']}",
                                                  "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    record(name, 200 <= r.status < 300, f"HTTP {r.status}")
            except urllib.error.HTTPError as e:
                record(name, False, f"HTTP {e.code}")
            except OSError as e:
                record(name, False, err(e))


def release_agent() -> tuple[bool, str]:
    """Mount a cgroup v1 hierarchy and open its release_agent for writing (nothing written). Writing it needs
    CAP_SYS_ADMIN in the host's user namespace: counted only when the process has that too."""
    try:
        uid_map = open("/proc/self/uid_map").read().split()
        cap_eff = int([l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1], 16)
    except OSError as e:
        return False, err(e)
    host_root = uid_map[:3] == ["0", "0", "4294967295"] and bool(cap_eff >> 21 & 1)
    notes = []
    controllers = [l.split()[0] for l in open("/proc/cgroups") if not l.startswith("#") and l.split()[1] != "0"]
    where = tempfile.mkdtemp(prefix="probe-cg-")
    candidates = []
    mounted = False
    for ctl in controllers[:1] or ["memory"]:
        if libc.mount(b"cgroup", where.encode(), b"cgroup", 0, ctl.encode()) == 0:
            mounted = True
            candidates.append(os.path.join(where, "release_agent"))
            notes.append(f"mounted the {ctl} hierarchy")
        else:
            notes.append(f"mount cgroup -o {ctl}: {os.strerror(ctypes.get_errno())}")
    candidates += glob.glob("/sys/fs/cgroup/*/release_agent")
    opened = None
    for path in candidates:
        try:
            fd = os.open(path, os.O_WRONLY)
            os.close(fd)
            opened = path
            break
        except OSError as e:
            notes.append(f"{path}: {err(e)}")
    if mounted:
        libc.umount2(where.encode(), 2)
    try:
        os.rmdir(where)
    except OSError:
        pass
    if opened:
        notes.insert(0, f"opened {opened} for writing" + ("" if host_root else
                                                           " (but not as root of the host: writing it is refused)"))
    return bool(opened) and host_root, "; ".join(notes)


if __name__ == "__main__":
    attempts()
    print(json.dumps(OUT))
