"""Kernel isolation of one job: namespaces, a cgroup and a size-limited tmpfs (Linux, as root;
user and PID namespaces for a grader that is not root).

Every mechanism here is enforced by the kernel for a whole process tree, whatever the job's
code does:

- a **PID namespace** whose first process is the job: when it ends, the kernel kills every
  process left in the namespace (double-forked, ``setsid``, re-parented or self-respawning);
- a **network namespace** (no interface but a loopback that is down: no TCP, no UDP, no
  abstract UNIX sockets) and an **IPC namespace** (System V shared memory dies with the job);
- a **mount namespace** whose root is a fresh tmpfs holding read-only binds of the system and
  Python folders only, plus the job's own folder: a **tmpfs with a size** (the disk budget) that
  is the only writable place; pathname UNIX sockets of the host are not there to connect to;
- a **cgroup** (v1 memory + pids hierarchies, or v2) with a memory limit that counts every
  process of the job and its tmpfs, shared-memory and memfd pages, and a task limit that holds
  when running as root; the grader kills it as a whole and removes it after the job (cgroups.py).

A grader that is not root gets no cgroup or tmpfs, but where the kernel lets an ordinary user
make namespaces, each nanny enters a **user namespace** mapping only its own uid and gid, and
then new PID, network and IPC namespaces (`enter_user_namespaces`): the job is the first process
of a PID namespace holding nothing else, so no signal of it (``kill(-1)``, the grader's pid read
from /proc) reaches the grader or another job, though all keep the same uid. The job then makes a
mount namespace of its own (`enter_job_mounts`): a /proc of its PID namespace, and every mount
read-only but its folder, so it writes nothing of the grader's even without Landlock.

The grader detects what the host supports once (`detect`) and says so in one line; a job gets
the mechanisms that exist, never silently fewer than announced. This module never imports
Keras; the parts that run in the nanny and the job process use only the standard library.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

__all__ = ["Isolation", "detect", "enter_job_root", "enter_user_namespaces", "mount_job_folder",
           "copy_out", "unshare_pid", "user_namespaces"]

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
_MNT_DETACH = 2
_PR_SET_DUMPABLE = 4
_SYS_PIVOT_ROOT, _SYS_MOUNT_SETATTR = 155, 442  # x86_64 and aarch64 differ: see _syscalls()
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID = 0x1, 0x2
_DEVICES = ("null", "zero", "full", "random", "urandom")
_PROBE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x20000000 | 0x40000000 | 0x00020000 | 0x08000000) != 0:
    sys.exit("unshare: " + os.strerror(ctypes.get_errno()))
libc.mount(None, b"/", None, (1 << 18) | 16384, None)
if libc.mount(b"tmpfs", sys.argv[1].encode(), b"tmpfs", 0, b"size=1m") != 0:
    sys.exit("tmpfs: " + os.strerror(ctypes.get_errno()))
"""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _syscalls() -> tuple[int, int]:
    """(pivot_root, mount_setattr) numbers for this machine."""
    return (41, 442) if os.uname().machine == "aarch64" else (_SYS_PIVOT_ROOT, _SYS_MOUNT_SETATTR)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc = _libc()
    _check(libc.mount(source.encode() if source else None, target.encode(),
                      fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                      data.encode() if data else None), f"mount {target}")


# -- detection, in the grader --------------------------------------------------------------


@dataclass(frozen=True)
class Isolation:
    """What this host gives every job; `missing` says what it lacks and what that means."""

    namespaces: bool = False
    cgroup: str | None = None  # "v1" or "v2"
    cgroup_parents: tuple[str, ...] = ()  # memory and pids folders (v1), or the one v2 folder
    missing: tuple[str, ...] = ()
    landlock: int = 0  # the kernel's Landlock ABI (0: none)
    seccomp: bool = False  # a job's seccomp filter refuses it sockets
    user_namespace: str = ""  # not root: "pid", "mount" or "root" (see user_namespaces)

    @property
    def network_confined(self) -> bool:
        """Whether a job can reach no network: its own network namespace (as root, or in its user
        namespace), the seccomp filter, or Landlock's TCP rules (ABI 4)."""
        return self.namespaces or bool(self.user_namespace) or self.seccomp or self.landlock >= 4

    @property
    def reads_confined(self) -> bool:
        """Whether a job reads only what it needs: a mount namespace of read-only system folders,
        or Landlock's read rules."""
        return self.namespaces or self.user_namespace == "root" or self.landlock >= 1

    def describe(self, disk_mb: int | None = None) -> str:
        """One line such as ``isolation: pid+net+mount+ipc namespaces, cgroup v1 memory+pids,
        tmpfs 512 MB``, followed by what is missing."""
        parts = []
        if self.namespaces:
            parts.append("pid+net+mount+ipc namespaces, read-only system")
            parts.append(f"tmpfs {disk_mb} MB" if disk_mb else "tmpfs")
        if self.user_namespace == "root":
            parts.append("own user+pid+mount+net+ipc namespaces (a job signals and sees only its own processes), "
                         "read-only system, only its folder writable")
        elif self.user_namespace == "mount":
            parts.append("own user+pid+mount+net+ipc namespaces (a job signals and sees only its own processes), "
                         "read-only system and home but the job's folder")
        elif self.user_namespace:
            parts.append("own user+pid+net+ipc namespaces (a job signals only its own processes)")
        if self.cgroup:
            parts.append(f"cgroup {self.cgroup} memory+pids")
        if self.landlock:
            parts.append(f"landlock ABI {self.landlock}")
        if self.seccomp:
            parts.append("seccomp (no sockets)")
        line = "isolation: " + (", ".join(parts) if parts else "process group and rlimits only")
        if self.missing:
            line += "; MISSING: " + "; ".join(self.missing)
        return line

    def as_data(self, disk_mb: int | None = None) -> dict[str, object]:
        """What results.json records in ``extra_data``."""
        return {"isolation": self.describe(disk_mb), "namespaces": self.namespaces, "cgroup": self.cgroup,
                "user_namespace": self.user_namespace, "landlock": self.landlock, "seccomp": self.seccomp,
                "missing": list(self.missing)}


def detect(workroot: str | None = None) -> Isolation:
    """Find out which kernel mechanisms this process can give its jobs."""
    from .confine import landlock_abi, seccomp_filter_works

    missing: list[str] = []
    namespaces = False
    landlock, seccomp = landlock_abi(), seccomp_filter_works()
    group = ("process group (which the seccomp filter keeps them in)" if seccomp else
             "process group only (which a process can leave: no seccomp filter)")
    if os.geteuid() != 0:
        userns, why = user_namespaces()
        if userns == "pid":
            missing.append(f"no mount namespace of a job's own ({why}): it sees the host's /proc")
        missing.append(f"not running as root: no {'' if userns else 'namespaces, '}cgroups or tmpfs; a job's processes "
                       f"are killed and their memory watched by {group}, no disk budget beyond a per-file size limit")
        if not userns and landlock < 6:  # a job keeps the grader's uid: kill(-1) or the grader's pid reaches it
            missing.append(f"no user namespaces ({why}) and no Landlock signal scoping (ABI 6, Linux 6.12): a job "
                           "keeps the grader's uid and can kill the grader itself, stopping the whole run at that "
                           "submission (and again on --resume), or another student's job running beside it; grade "
                           "as root, where unprivileged user namespaces are allowed, or on Linux 6.12 or later")
        return Isolation(missing=tuple(missing + _unconfined(bool(userns), landlock, seccomp, reads=userns == "root",
                                                             writes=userns in ("root", "mount"))),
                         landlock=landlock, seccomp=seccomp, user_namespace=userns)
    import tempfile

    from .cgroups import _cgroup_parents, sweep_dead_cgroups

    with tempfile.TemporaryDirectory(dir=workroot) as probe_dir:
        probe = subprocess.run([sys.executable, "-S", "-c", _PROBE, probe_dir], capture_output=True, text=True,
                               timeout=30)
    if probe.returncode == 0:
        namespaces = True
    else:
        missing.append(f"namespaces unavailable ({probe.stderr.strip()[-200:]}): stray processes are "
                       f"killed by {group}, network and host folders are not hidden, no tmpfs disk budget")
    version, parents, why = _cgroup_parents(f"modelcheck-{os.getpid()}")
    for parent in parents:  # made again by each job, removed with its last job: nothing lingers
        try:
            os.rmdir(parent)
        except OSError:
            pass
        sweep_dead_cgroups(os.path.dirname(parent))
    if version is None:
        missing.append(f"{why}: memory is watched by {group} (shared memory not counted), the process limit "
                       "is per uid")
    return Isolation(namespaces=namespaces, cgroup=version, cgroup_parents=parents,
                     missing=tuple(missing + _unconfined(namespaces, landlock, seccomp)), landlock=landlock,
                     seccomp=seccomp)


def _unconfined(namespaces: bool, landlock: int, seccomp: bool, *, reads: bool = True,
                writes: bool = True) -> list[str]:
    """What a job could reach on this host, said for the MISSING list (`reads`, `writes`: whether
    `namespaces` hide the host's files, or make them read-only; a user namespace alone does not.
    A root grader's jobs write as their own uid, or uid 0 without capabilities, in a root of
    their own where it has namespaces)."""
    found = []
    if not ((namespaces and reads) or landlock):
        found.append("no Landlock (Linux < 5.13, or refused) and no root of its own (a mount namespace hiding the "
                     "host's files): a job reads every file its uid may read; keep the instructor's files (reference "
                     "solution, samples) readable by their owner only (chmod go-rwx)")
    if not ((namespaces and writes) or landlock or os.geteuid() == 0):
        found.append("no Landlock and no read-only mounts: a job of the grader's uid may write every file the grader "
                     "may (its outputs, other students' exports, a modelcheck installed in its home)")
    if not (namespaces or seccomp or landlock >= 4):
        found.append("network not blocked (no network namespace, no seccomp filter, Landlock below ABI 4): a job "
                     "can open connections; never grade on a Dask cluster here (its scheduler runs what it is sent)")
    return found


_USERNS_PROBE = """
import importlib.util, os, shutil, sys, tempfile
spec = importlib.util.spec_from_file_location("isolation", sys.argv[1])
isolation = sys.modules["isolation"] = importlib.util.module_from_spec(spec)  # (its dataclasses look it up)
spec.loader.exec_module(isolation)
if os.geteuid() != int(sys.argv[2]):  # (an answer for another uid is not the grader's)
    sys.exit(f"the probe ran as uid {os.geteuid()}, not the grader's {sys.argv[2]}")
mine, other = tempfile.mkdtemp(), tempfile.mkdtemp()
os.mkdir(os.path.join(mine, ".root"))
system = [path for path in ("/usr", "/lib", "/lib64", "/bin", "/etc") if os.path.exists(path)]

def attempt(step):
    # a nanny (user, PID, network, IPC namespaces) and its job (PID 1), which takes `step`, then
    # writes in its folder and, it must fail, outside: 0 when all holds
    nanny = os.fork()
    if nanny == 0:
        try:
            isolation.enter_user_namespaces()
        except OSError as exc:
            os.write(2, str(exc).encode())
            os._exit(2)
        job = os.fork()
        if job == 0:
            if os.getpid() != 1:
                os._exit(3)
            try:
                step()
                open(os.path.join(mine, "written"), "w").close()
            except OSError as exc:
                os.write(2, (str(exc) + "; ").encode())
                os._exit(4)
            try:
                open(os.path.join(other, "written"), "w").close()
            except OSError:
                os._exit(0)
            os._exit(5)
        os._exit(os.WEXITSTATUS(os.waitpid(job, 0)[1]))
    return os.WEXITSTATUS(os.waitpid(nanny, 0)[1])

rooted = attempt(lambda: isolation.enter_job_root(os.path.join(mine, ".root"), mine, system))
mounted = attempt(lambda: isolation.enter_job_mounts([mine])) if rooted in (4, 5) else rooted
for folder in (mine, other):
    shutil.rmtree(folder, ignore_errors=True)
if rooted in (2, 3) or mounted in (2, 3):
    sys.exit(" not the first process of its PID namespace" if 3 in (rooted, mounted) else "")
sys.exit(0 if rooted == 0 else 11 if mounted == 0 else 10)  # (what failed is on stderr)
"""
_USERNS_FOUND: list[tuple[str, str]] = []


def user_namespaces() -> tuple[str, str]:
    """What a nanny of this grader, not root, can give its job, and why not more: ``"root"``
    (user, PID, network and IPC namespaces, and a root of the job's own, as root's jobs have:
    read-only binds of the folders it may read and its own folder, `enter_job_root`), ``"mount"``
    (the job's own mount namespace instead: its /proc, every folder read-only but its own,
    `enter_job_mounts`), ``"pid"`` (neither), or ``""``. Tried once per process in a short-lived
    Python of its own, with the very steps the nanny and the job take (Ubuntu's apparmor_restrict_unprivileged_userns lets the user
    namespace be made, then refuses the rest; user.max_user_namespaces=0 refuses all)."""
    if os.geteuid() == 0:
        return "", "root: the grader's own namespaces apply"
    if not _USERNS_FOUND:
        try:
            probe = subprocess.run([sys.executable, "-S", "-c", _USERNS_PROBE, os.path.abspath(__file__),
                                    str(os.geteuid())], capture_output=True, text=True, timeout=30)
            level = {0: "root", 11: "mount", 10: "pid"}.get(probe.returncode, "")
            found = (level, " ".join(probe.stderr.split())[-200:] or f"exit {probe.returncode}")
        except (OSError, subprocess.SubprocessError) as exc:
            found = ("", f"cannot try them: {exc}")
        _USERNS_FOUND.append(found)
    return _USERNS_FOUND[0]


def enter_user_namespaces() -> None:
    """In the nanny of a grader that is not root, before forking the job: a new user namespace
    that maps only this uid and gid (to themselves; no other group), then new PID, network and
    IPC namespaces owned by it. The nanny's next child is PID 1 of a namespace holding nothing
    else: ``kill(-1)`` reaches only the job's own processes, and no pid outside names anything.
    Its capabilities hold in these namespaces only (over nothing the grader's uid does not own);
    the job drops them (`modelcheck.grading.confine`)."""
    libc = _libc()
    uid, gid = os.geteuid(), os.getegid()
    _check(libc.unshare(CLONE_NEWUSER), "unshare(user)")
    # the maps of a process that is not dumpable (the zygote and its nannies are not) belong to
    # root: dumpable for the moment of writing them, before the job, or any code of it, exists
    libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    finally:
        libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    _check(libc.unshare(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC), "unshare(pid, net, ipc)")


_MS_RDONLY, _MS_REMOUNT = 1, 32
# per-mount flags a remount in a user namespace must keep (the kernel locks them)
_KEPT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC, "noatime": 1024,
               "nodiratime": 2048, "relatime": 1 << 21, "strictatime": 1 << 24}


def _mount_points() -> list[tuple[str, list[str]]]:
    """(mount point, per-mount options) of each mount of this process's namespace."""
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            found.append((point, fields[5].split(",")))
    return found


def enter_job_mounts(writable: list[str]) -> str:
    """In the job of a grader that is not root (PID 1 of its namespace, its capabilities not yet
    dropped): a mount namespace of its own, with a /proc of its PID namespace over the host's (it
    reads no other process's entries: the grader's command line), and every mount read-only but
    `writable` (its folder), which Landlock alone gives only on Linux 5.13 or later: the job keeps
    the grader's uid, and could otherwise write anything the grader owns (its outputs, other
    students' exports, a modelcheck installed in the grader's home). (Not the nanny's namespace:
    there the new /proc would hide the nanny's own /proc/self.) Raises OSError if any of it fails."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(mount)")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    kept = set()
    for path in writable:
        if os.path.isdir(path):
            _mount(path, path, None, _MS_BIND)  # a mount of its own, which the loop below leaves writable
            kept.add(os.path.realpath(path))
    _remount_read_only(kept)
    return "own /proc, every folder read-only but its own"


def _remount_read_only(kept: set[str], extra: int = 0) -> None:
    """Every mount of this mount namespace but those at `kept` read-only (and `extra` flags), one
    remount each: no mount_setattr, which Linux < 5.12 lacks."""
    libc = _libc()
    for point, options in _mount_points():
        if point in kept:
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | extra | sum(_KEPT_FLAGS.get(option, 0) for option in options)
        if libc.mount(None, point.encode(), None, ctypes.c_ulong(flags), None) != 0:
            errno = ctypes.get_errno()
            if errno not in (13, 2):  # EACCES, ENOENT: a mount point its uid cannot reach is none it can write
                raise OSError(errno, f"read-only {point}: {os.strerror(errno)}")


# -- in the nanny (root, before forking the job) --------------------------------------------


def mount_job_folder(folder: str, stage: str, size_mb: int) -> None:
    """In a new mount namespace of the nanny: a tmpfs of `size_mb` over `folder`, holding a copy
    of `stage` (what the grader prepared: plain folders and regular files)."""
    _check(_libc().unshare(CLONE_NEWNS), "unshare(mount)")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={size_mb}m,mode=0700")
    shutil.copytree(stage, folder, dirs_exist_ok=True, symlinks=True)


def unshare_pid() -> None:
    """The nanny's next child is the first process of a new PID namespace."""
    _check(_libc().unshare(CLONE_NEWPID), "unshare(pid)")


def copy_out(folder: str, names: tuple[str, ...], target: str, max_bytes: int) -> list[str]:
    """Copy the regular files `names` of `folder` (written by the job: untrusted) to `target`.

    Never follows a link (neither the folder nor the file), never opens a special file, stops
    at `max_bytes` per file. Returns the names copied.
    """
    copied: list[str] = []
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return copied
    try:
        for name in names:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                info = os.fstat(fd)
                if not (os.path.stat.S_ISREG(info.st_mode) and info.st_size <= max_bytes):
                    continue
                out = os.open(os.path.join(target, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                try:
                    left = max_bytes
                    while left > 0 and (chunk := os.read(fd, min(1 << 20, left))):
                        os.write(out, chunk)
                        left -= len(chunk)
                finally:
                    os.close(out)
                copied.append(name)
            finally:
                os.close(fd)
    finally:
        os.close(dir_fd)
    return copied


# -- in the job process (root until `confine` drops it) -------------------------------------


def _bind(source: str, root: str, *, recursive: bool = True) -> None:
    target = root + source
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, _MS_BIND | (_MS_REC if recursive else 0))


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def _set_attr(path: str, set_flags: int, clear_flags: int, recursive: bool) -> None:
    attr = _MountAttr(set_flags, clear_flags, 0, 0)
    _check(_libc().syscall(_syscalls()[1], -100, path.encode(), ctypes.c_uint(_AT_RECURSIVE if recursive else 0),
                           ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))), f"mount_setattr {path}")


def enter_job_root(root: str, folder: str, readable: list[str]) -> str:
    """Make the job's world: new network, IPC, UTS and mount namespaces; a new root (a small
    tmpfs at `root`) holding read-only binds of `readable`, a few device nodes, a /proc of the
    job's PID namespace, and `folder` (the job's tmpfs; its ``tmp`` is also /dev/shm), the only
    writable place. Called in the job process (PID 1 of its namespace) while still root."""
    _check(_libc().unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS), "unshare(net, ipc, mount)")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
    bound: list[str] = []
    for path in sorted(readable):
        covered = any(path.startswith(b.rstrip("/") + "/") for b in bound)
        if os.path.lexists(path) and not covered and path not in ("/", "/proc", "/dev", "/tmp", "/run", "/var/lib"):
            _bind(path, root)
            bound.append(path)
    for name in _DEVICES:
        _bind(f"/dev/{name}", root, recursive=False)
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{link}")
    _bind(folder, root, recursive=False)
    tmp = os.path.join(folder, "tmp")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    _mount(tmp, root + "/dev/shm", None, _MS_BIND)  # POSIX shared memory: inside the budget
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    os.chdir(root)
    _check(_libc().syscall(_syscalls()[0], b".", b"."), "pivot_root")
    _check(_libc().umount2(b".", _MNT_DETACH), "umount old root")
    os.chdir("/")
    try:
        _set_attr("/", _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID, 0, recursive=True)
        for path in (folder, "/dev/shm"):
            _set_attr(path, 0, _MOUNT_ATTR_RDONLY, recursive=False)
    except OSError as exc:  # Linux < 5.12 has no mount_setattr: every job failed there
        if exc.errno != 38:  # ENOSYS
            raise
        _remount_read_only({folder, "/dev/shm"}, _MS_NOSUID)
    return "own pid, network, IPC and mount namespaces; only its folder (a size-limited tmpfs) is writable"
