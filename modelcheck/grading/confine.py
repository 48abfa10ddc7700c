"""Confine the current process before it runs untrusted code (Linux).

Called in a freshly forked child, while it is still single-threaded (TensorFlow has been
imported but has started no thread pool yet). Layers, each best-effort where the kernel or the
privileges do not allow it, and each reported back so the feedback can say what was in force:

- where the grader isolates jobs (root): new network, IPC and mount namespaces and a new root
  in which only the job's folder is writable (`modelcheck.grading.isolation`);
- its own session and process group (the grader kills the whole group);
- resource limits: address space, CPU seconds, file size, no core files, process count;
- in the namespaces a grader that is not root gives its job (`isolation.enter_user_namespaces`):
  where it works, a root of its own as root's jobs have (else every folder read-only but its
  own); no capability, and at most `max_processes` tasks (counted per namespace);
- when the grader runs as root: a dedicated unprivileged uid/gid, so the code cannot signal the
  grader, read other students' copies or write anything it does not own (or, when other uids
  cannot read the Python installation, uid 0 with every capability dropped);
- Landlock (Linux >= 5.13, no privileges needed): writes only below the job's own folder, reads
  only there and in the folders Python and the system need (not other students' submissions,
  not the grader's outputs), no TCP, and (ABI >= 6) no signals to processes outside the
  sandbox, so it cannot kill its parent;
- a seccomp filter (no privileges needed): no socket of any kind (no network, no host daemon,
  whatever the namespaces and Landlock's version), no io_uring (which opens sockets without
  the system call), no ptrace, cross-process memory access or pidfd file-descriptor theft (a job
  that shares the grader's uid can neither step into it nor copy its sockets), no new
  namespaces (neither by unshare nor by clone's flags; clone3, whose flags it cannot read, is
  refused as absent, and the C library falls back to clone), kernel keys, BPF, userfaultfd or
  perf events (kernel attack surface, as Docker's default profile), no new session or process
  group (so no process of the job leaves the group the grader kills and, without a cgroup,
  measures), and no system call of another architecture (32-bit calls would slip past the
  numbers checked);
- every inherited file descriptor closed except stdin/stdout/stderr, the result pipe and (until
  the job's own code runs) the pipe on which it tells its nanny it is confined.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
from dataclasses import dataclass, field

__all__ = ["Confinement", "confine", "landlock_abi", "not_dumpable", "really_root", "seccomp_filter_works"]

_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4

# Landlock filesystem rights that modify the tree (reads are left unhandled, hence allowed).
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE, _FS_READ_DIR = 1 << 2, 1 << 3
_FS_WRITE_V1 = _FS_WRITE_FILE | sum(1 << bit for bit in (4, 5, 6, 7, 8, 9, 10, 11, 12))
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


@dataclass
class Confinement:
    """What to apply in the child, as plain data sent through the zygote."""

    cwd: str
    writable: list[str] = field(default_factory=list)
    readable: list[str] | None = None  # None: read anywhere; else only below these (and writable)
    memory_mb: int | None = None
    cpu_s: int | None = None
    file_mb: int | None = 256
    max_processes: int | None = None
    uid: int | None = None  # only used when running as root
    landlock: bool = True
    seccomp: bool = True
    env: dict[str, str] = field(default_factory=dict)
    keep_fds: tuple[int, ...] = (0, 1, 2, 3)
    sandbox: dict | None = None  # {"root", "folder", "readable"}: see isolation.enter_job_root
    user_namespace: str = ""  # set by the nanny of a grader that is not root: see isolation.user_namespaces


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when unavailable."""
    try:
        version = _libc().syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _apply_landlock(writable: list[str], readable: list[str] | None) -> str:
    abi = landlock_abi()
    if abi < 1:
        return "landlock unavailable"
    libc = _libc()
    write_rights = _FS_WRITE_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    read_rights = _FS_READ_FILE | _FS_READ_DIR if readable is not None else 0
    attr = _RulesetAttr(write_rights | read_rights, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        return f"landlock ruleset failed (errno {ctypes.get_errno()})"
    try:
        rules = [(path, write_rights | read_rights) for path in writable] + [("/dev/null", _FS_WRITE_FILE)]
        rules += [(path, read_rights) for path in readable or ()]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                # a rule on a file may only carry file rights
                file_rights = _FS_WRITE_FILE | _FS_TRUNCATE | _FS_READ_FILE
                allowed = rights if os.path.isdir(path) else rights & file_rights
                rule = _PathBeneathAttr(allowed, fd)
                if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH,
                                ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    return f"landlock rule for {path} failed (errno {ctypes.get_errno()})"
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return "no_new_privs failed"
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) < 0:
            return f"landlock restrict failed (errno {ctypes.get_errno()})"
    finally:
        os.close(ruleset)
    scope = ", no signals outside the sandbox" if abi >= 6 else ""
    reads = ", reads only in Python's and the system's folders" if readable is not None else ""
    return f"landlock ABI {abi}: writes only in the job folder{reads}, no TCP{scope}"


# -- seccomp ------------------------------------------------------------------------------------

_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_SECCOMP_RET_ALLOW, _SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
_EACCES, _ENOSYS = 13, 38
_BPF_LD_ABS, _BPF_JEQ, _BPF_JGE, _BPF_JSET, _BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06  # with BPF_W / BPF_K
# clone()'s flags that make a namespace (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET)
_CLONE_NEW_FLAGS = 0x7E020000
_X32_BIT = 0x40000000
# (audit architecture, the system calls refused), in the order: socket, io_uring_setup; ptrace,
# process_vm_readv, process_vm_writev, pidfd_open, pidfd_getfd (which copies another process's
# socket), process_madvise, kcmp; unshare, setns; keyctl, add_key, request_key; bpf, userfaultfd,
# perf_event_open, open_by_handle_at (as Docker's default profile refuses them); setsid, setpgid
# (the job's processes stay in the process group the grader kills and measures, where no cgroup
# or PID namespace holds them)
_SECCOMP_DENIED = {
    "x86_64": (0xC000003E, (41, 425, 101, 310, 311, 434, 438, 440, 312, 272, 308, 250, 248, 249, 321, 323, 298, 304,
                            112, 109)),
    "aarch64": (0xC00000B7, (198, 425, 117, 270, 271, 434, 438, 440, 272, 97, 268, 219, 217, 218, 280, 282, 241, 265,
                             157, 154)),
}
# (clone, clone3): clone() is refused only with a namespace flag (its first argument, which a
# filter can read); clone3() takes its flags in memory, which a filter cannot read, so it is
# refused as absent (ENOSYS), on which the C library makes its threads and processes with clone()
# (as Docker's default profile does)
_CLONE_CALLS = {"x86_64": (56, 435), "aarch64": (220, 435)}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program() -> list[tuple[int, int, int, int]] | None:
    """The BPF program (code, jt, jf, k): EACCES for the denied calls, for clone() with a flag that
    makes a namespace and for any call of another architecture, ENOSYS for clone3(), everything
    else allowed. None on a machine it does not know."""
    known = _SECCOMP_DENIED.get(os.uname().machine)
    if known is None:
        return None
    arch, denied = known
    clone, clone3 = _CLONE_CALLS[os.uname().machine]
    deny_at = 11 + len(denied)  # the index of the final "refuse"
    program = [(_BPF_LD_ABS, 0, 0, 4),  # seccomp_data.arch
               (_BPF_JEQ, 1, 0, arch),
               (_BPF_RET, 0, 0, _SECCOMP_RET_ERRNO | _EACCES),
               (_BPF_LD_ABS, 0, 0, 0)]  # seccomp_data.nr
    program.append((_BPF_JGE, deny_at - len(program) - 1, 0, _X32_BIT))
    for number in denied:
        program.append((_BPF_JEQ, deny_at - len(program) - 1, 0, number))
    program += [(_BPF_JEQ, 0, 1, clone3),
                (_BPF_RET, 0, 0, _SECCOMP_RET_ERRNO | _ENOSYS),
                (_BPF_JEQ, 0, 2, clone),
                (_BPF_LD_ABS, 0, 0, 16),  # the low half of seccomp_data.args[0]: clone's flags
                (_BPF_JSET, 1, 0, _CLONE_NEW_FLAGS),
                (_BPF_RET, 0, 0, _SECCOMP_RET_ALLOW),
                (_BPF_RET, 0, 0, _SECCOMP_RET_ERRNO | _EACCES)]
    assert len(program) == deny_at + 1
    return program


def _apply_seccomp() -> str:
    """Install the filter on the calling process (and what it starts); needs no_new_privs."""
    program = _seccomp_program()
    if program is None:
        return f"seccomp unavailable (no filter for {os.uname().machine})"
    filters = (_SockFilter * len(program))(*[_SockFilter(*instruction) for instruction in program])
    prog = _SockFprog(len(program), filters)
    if _libc().prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        return f"seccomp unavailable (errno {ctypes.get_errno()})"
    return ("seccomp: no sockets, io_uring, ptrace, pidfd, namespaces (unshare, setns, clone's), keys, BPF, new "
            "sessions or process groups, or foreign system calls")


def seccomp_filter_works() -> bool:
    """Whether this host lets a job install the filter and then refuses it a socket (tried in a
    short-lived child process, so this one stays unfiltered)."""
    import subprocess
    import sys

    # this module alone (standard library only), loaded by its path: no package, no site-packages
    probe = ("import importlib.util, socket, sys\n"
             "spec = importlib.util.spec_from_file_location('confine', sys.argv[1])\n"
             "confine = sys.modules['confine'] = importlib.util.module_from_spec(spec)\n"
             "spec.loader.exec_module(confine)\n"
             "confine._libc().prctl(confine._PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)\n"
             "applied = confine._apply_seccomp()\n"
             "try:\n    socket.socket()\nexcept PermissionError:\n    sys.exit(0 if applied.startswith('seccomp:') else 3)\n"
             "sys.exit(4)\n")
    try:
        done = subprocess.run([sys.executable, "-S", "-c", probe, os.path.abspath(__file__)], capture_output=True,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def not_dumpable() -> None:
    """Make this process not dumpable: a process of the same uid without CAP_SYS_PTRACE (a job run
    under the grader's own uid) can then neither open its /proc/<pid>/mem nor attach to it (the
    jobs' seccomp filter refuses ptrace and pidfd_getfd themselves). Core dumps are off from then on."""
    _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> str:
    """Root that keeps uid 0: give up every capability (no CAP_KILL, CAP_DAC_OVERRIDE, ...)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc().capset(ctypes.byref(header), data) != 0:
        return f"dropping capabilities failed (errno {ctypes.get_errno()})"
    return "uid 0 without any capability"


def really_root() -> bool:
    """Whether this process is root of the whole machine: uid 0 outside any user namespace (uid 0
    of a container's user namespace cannot take the uids a job gets; a nanny's user namespace
    maps only the grader's own uid)."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map") as handle:
            return handle.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _virtual_memory_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def confine(conf: Confinement) -> list[str]:
    """Apply `conf` to the calling (single-threaded) process; return what is in force."""
    applied: list[str] = []
    if conf.sandbox:
        from .isolation import enter_job_root

        applied.append(enter_job_root(conf.sandbox["root"], conf.sandbox["folder"], conf.sandbox["readable"]))
    if conf.user_namespace == "root" and conf.readable is not None and conf.writable:
        from .isolation import enter_job_root

        folder = conf.writable[0]  # (the job's folder: its tmp is also its /dev/shm)
        os.makedirs(os.path.join(folder, ".root"), exist_ok=True)  # (a mount point only, left empty)
        enter_job_root(os.path.join(folder, ".root"), folder, conf.readable)
        applied.append("own user, PID, mount, network and IPC namespaces, a root of read-only system folders and "
                       "its own folder")
    elif conf.user_namespace in ("root", "mount"):
        from .isolation import enter_job_mounts

        applied.append("own user, PID, mount, network and IPC namespaces, " + enter_job_mounts(conf.writable))
    elif conf.user_namespace:
        applied.append("own user, PID, network and IPC namespaces")
    os.setsid()
    os.closerange(max(conf.keep_fds) + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096)
    os.environ.update(conf.env)
    if "TMPDIR" in conf.env:
        import tempfile

        tempfile.tempdir = conf.env["TMPDIR"]  # the zygote may have cached the grader's
    os.chdir(conf.cwd)
    os.umask(0o077)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if conf.memory_mb:
        # TensorFlow already maps ~1.5 GB of address space and each thread it starts reserves
        # stacks and malloc arenas; the limit is what is mapped now + the budget + room for those.
        # The parent also watches the resident size and stops the process at the exact budget.
        budget = _virtual_memory_bytes() + (conf.memory_mb + 2048) * 2**20
        _limit(resource.RLIMIT_AS, budget)
        applied.append(f"address space <= {budget >> 20} MB")
    if conf.cpu_s:
        _limit(resource.RLIMIT_CPU, conf.cpu_s, conf.cpu_s + 5)
        applied.append(f"CPU <= {conf.cpu_s} s")
    if conf.file_mb:
        _limit(resource.RLIMIT_FSIZE, conf.file_mb * 2**20)
        applied.append(f"files <= {conf.file_mb} MB")
    if conf.uid is not None and really_root():
        for path in conf.writable:
            for root, dirs, files in os.walk(path):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, conf.uid, conf.uid)
        os.setgroups([])
        os.setgid(conf.uid)
        os.setuid(conf.uid)
        if conf.max_processes:
            _limit(resource.RLIMIT_NPROC, conf.max_processes)
        applied.append(f"own uid {conf.uid}")
    elif os.geteuid() == 0 or conf.user_namespace:
        # (uid 0 of a container's user namespace, or the nanny's user namespace, where the job has
        # every capability over what the namespace holds: none is needed to run a job)
        applied.append(_drop_capabilities())
    if conf.user_namespace and conf.max_processes:
        # counted per user namespace (Linux 5.14+): the job's own processes and threads, not the
        # grader's, which share its uid
        _limit(resource.RLIMIT_NPROC, conf.max_processes)
        applied.append(f"tasks <= {conf.max_processes}")
    # after the uid change, which clears it: die with the supervising process
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # no program it runs may gain privileges (uid 0 without capabilities would get them back
    # by exec'ing anything)
    if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        applied.append("no_new_privs failed")
    if conf.landlock:
        applied.append(_apply_landlock(conf.writable, conf.readable))
    if conf.seccomp:
        applied.append(_apply_seccomp())
    return applied
