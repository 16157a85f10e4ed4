#!/usr/bin/env python3
"""A seat's first stage, as root: the learner's file system view, then their user namespace and engine.

The hub runs, as root, ``unshare --mount --propagation private python3 seat_root.py CONFIG``: this process is in
a private mount namespace, still root on the host. It builds the seat's root file system in a tmpfs (read-only
binds of /usr and /etc, a minimal /dev, a /proc that shows no process of another user (hidepid), the seat's disk
at /home/learner, /var/lib/docker and /tmp, the learners' Python environment at /opt/venv), pivots into it and
detaches the host's tree: nothing else of the machine is in this mount namespace any more. Then it drops to the
seat's Unix user and execs ``unshare --user --mount --net --pid --fork --mount-proc`` with the seat's subordinate
ids mapped (uid 0 inside = the seat's user outside, 1..65536 = its subuid range), which runs the seat's init
(seat_init.py) as PID 1 of the seat's PID namespace and uid 0 of its user namespace (both the seat's: its engine
can then mount a /proc for ``docker run --pid=host``, which is the seat's PID namespace).

Mounts made here, by root, before the user namespace exists are locked for everything inside it: the learner
cannot unmount them to see what they cover. Standard library only (this runs with the host's python3).
"""
from __future__ import annotations

import ctypes
import json
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def mount(src: str, dst: str, fstype: str | None = None, flags: int = 0, data: str | None = None) -> None:
    _check(libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None), f"mount {src} on {dst}")


def bind(src: str, dst: str, ro: bool = False, rec: bool = False, extra: int = 0) -> None:
    mount(src, dst, None, MS_BIND | (MS_REC if rec else 0))
    if ro or extra:
        mount("none", dst, None, MS_BIND | MS_REMOUNT | (MS_RDONLY if ro else 0) | extra)


def mkdir(path: str, mode: int = 0o755) -> str:
    os.makedirs(path, mode=mode, exist_ok=True)
    return path


def touch(path: str) -> str:
    if not os.path.exists(path):
        open(path, "a").close()
    return path


def build_root(cfg: dict, new: str) -> None:
    uid, gid = cfg["uid"], cfg["gid"]
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16m")
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):  # merged /usr: symlinks; otherwise a bind
        host = "/" + top
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(new, top))
        elif os.path.isdir(host):
            bind(host, mkdir(os.path.join(new, top)), ro=True, rec=True)
    bind("/usr", mkdir(f"{new}/usr"), ro=True, rec=True)
    bind("/etc", mkdir(f"{new}/etc"), ro=True, rec=True)
    for name, text in cfg["etc"].items():  # passwd, group, hosts, resolv.conf, hostname of the seat
        if os.path.islink(f"/etc/{name}") or not os.path.isfile(f"/etc/{name}"):
            continue  # (a symlink, e.g. to systemd-resolved's file: the host's is used)
        path = f"{cfg['run_dir']}/etc-{name}"
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        bind(path, f"{new}/etc/{name}", ro=True)
    # a minimal /dev, as a container has: no disks, no loop devices, no /dev/kvm
    dev = mkdir(f"{new}/dev")
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k")
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        bind(f"/dev/{node}", touch(f"{dev}/{node}"))
    mount("devpts", mkdir(f"{dev}/pts"), "devpts", MS_NOSUID | MS_NOEXEC, f"newinstance,ptmxmode=0666,mode=620,gid={gid}")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    mount("shm", mkdir(f"{dev}/shm"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={cfg.get('shm', '256m')}")
    mount("mqueue", mkdir(f"{dev}/mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")):
        os.symlink(target, f"{dev}/{name}")
    # a /proc that shows no process of another user (the seat's own /proc of its PID namespace is mounted on it
    # by unshare --mount-proc; the kernel lets a user namespace mount a proc only where one is visible already);
    # /sys as the host has it (files are root's: read-only for the learner, except the cgroups delegated to the seat)
    mount("proc", mkdir(f"{new}/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    bind("/sys", mkdir(f"{new}/sys"), rec=True)
    # the seat's disk: home, engine data, scratch space
    disk = cfg["disk"]
    bind(f"{disk}/home", mkdir(f"{new}/home/learner"))
    bind(f"{disk}/tmp", mkdir(f"{new}/tmp", 0o1777))
    mount("tmpfs", mkdir(f"{new}/var"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=755,size=16m,uid={uid},gid={gid}")
    bind(f"{disk}/docker", mkdir(f"{new}/var/lib/docker", 0o710))
    bind(f"{disk}/log", mkdir(f"{new}/var/log"))
    bind(f"{disk}/tmp", mkdir(f"{new}/var/tmp", 0o1777))
    os.symlink("../run", f"{new}/var/run")
    mkdir(f"{new}/var/lib/dpkg")  # empty: some tools look for it
    mount("tmpfs", mkdir(f"{new}/run"), "tmpfs", MS_NOSUID | MS_NODEV, f"mode=755,size=64m,uid={uid},gid={gid}")
    bind(cfg["venv"], mkdir(f"{new}/opt/venv"), ro=True, rec=True)
    bind(cfg["seat_code"], mkdir(f"{new}/opt/dockerlab-seat"), ro=True)
    # what the hub hands the seat (the learner's server's command and environment): root's, read-only here
    bind(cfg["control"], mkdir(f"{new}/opt/dockerlab-control"), ro=True)
    # the course the learner's copy is made from (only the parts handed out: no solutions unless asked)
    for rel, src in cfg["course"].items():
        dst = f"{new}/opt/course/{rel}"
        if os.path.isdir(src):
            bind(src, mkdir(dst), ro=True, rec=True)
        else:
            mkdir(os.path.dirname(dst))
            bind(src, touch(dst), ro=True)
    os.chmod(new, 0o755)


def pivot(new: str) -> None:
    os.chdir(new)
    os.mkdir(".oldroot", 0o700)
    _check(libc.syscall(SYS_PIVOT_ROOT, b".", b".oldroot"), "pivot_root")
    os.chroot(".")
    os.chdir("/")
    _check(libc.umount2(b"/.oldroot", MNT_DETACH), "umount the host's tree")
    os.rmdir("/.oldroot")
    mount("none", "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)  # the tmpfs root


def main() -> int:
    cfg = json.loads(open(sys.argv[1]).read())
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    build_root(cfg, cfg["root_dir"])
    pivot(cfg["root_dir"])
    uid, gid = cfg["uid"], cfg["gid"]
    sub_uid, sub_gid = cfg["subuid"], cfg["subgid"]
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/run",
           "LANG": "C.UTF-8", "DOCKERLAB_SEAT": json.dumps(cfg["init"])}
    # uid 0 inside = this user; 1..65536 inside = the subordinate range (newuidmap/newgidmap write the maps)
    os.execve("/usr/bin/unshare", ["unshare", "--user", "--map-root-user", f"--map-users={sub_uid},1,65536",
                                   f"--map-groups={sub_gid},1,65536", "--mount", "--net", "--uts",
                                   "--ipc", "--pid", "--fork", "--kill-child", "--mount-proc",
                                   "--propagation", "private", "--",
                                   "/usr/bin/python3", "-u", "/opt/dockerlab-seat/seat_init.py"], env)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as exc:
        print(f"seat_root: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
