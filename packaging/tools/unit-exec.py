#!/usr/bin/python3
"""Runs a command the way systemd would run a service's ExecStart=, without systemd.

scripts/test-install.sh uses it on machines where systemd is not PID 1 (containers, CI) to
check that the installed kefu.service works as written: it reads the unit file, then

  * creates StateDirectory= (chmod + recursive chown to User=, as systemd does) and
    ConfigurationDirectory= (only when missing; left as it is otherwise);
  * builds the environment from scratch like systemd: PATH, HOME, USER, LOGNAME, SHELL,
    STATE_DIRECTORY, CONFIGURATION_DIRECTORY, Environment=, EnvironmentFile=, and
    NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID when given (nothing else is inherited,
    so no stray KEFU_* reaches kefu);
  * in a private mount namespace (PrivateMounts=): ProtectSystem=strict (every mount read-only, then the
    state directory and ReadWritePaths= writable again), ProtectHome=yes (/home, /root,
    /run/user inaccessible), PrivateTmp=yes (fresh /tmp and /var/tmp),
    ProtectKernelTunables= and ProtectControlGroups= (read-only /proc/sys, /sys);
  * LimitNOFILE= (capped at this machine's hard limit when root may not raise it: said so),
    UMask=, User=/Group= with the user's supplementary groups, WorkingDirectory=;
  * NoNewPrivileges=, and a seccomp filter built from SystemCallFilter= (the groups as
    `systemd-analyze syscall-filter` expands them, allow-list then deny-list as systemd
    applies them), SystemCallErrorNumber=, SystemCallArchitectures=native,
    MemoryDenyWriteExecute=, RestrictAddressFamilies= and RestrictRealtime=; needs
    python3-seccomp (Debian);
  * then executes ExecStart= (or the command given after --).

Directives it does not emulate are listed on stderr. Usage:

  unit-exec.py [--notify-socket PATH] [--watchdog-usec N] UNIT_FILE [-- COMMAND ARGS...]
"""

import argparse
import ctypes
import errno
import grp
import os
import pwd
import resource
import shlex
import socket
import subprocess
import sys

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

# Directives this script applies (or that have no effect on one process started by hand).
HANDLED = {
    "Type", "NotifyAccess", "ExecStart", "User", "Group", "StateDirectory",
    "StateDirectoryMode", "ConfigurationDirectory", "ConfigurationDirectoryMode",
    "WorkingDirectory", "UMask", "LimitNOFILE", "Environment", "EnvironmentFile",
    "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateMounts",
    "ReadWritePaths",
    "ProtectKernelTunables", "ProtectControlGroups", "SystemCallFilter",
    "SystemCallErrorNumber", "SystemCallArchitectures", "MemoryDenyWriteExecute",
    "RestrictAddressFamilies", "RestrictRealtime", "CapabilityBoundingSet",
    "AmbientCapabilities",
    # Only meaningful to the service manager (restart policy, timeouts, watchdog timing).
    "ExecReload", "Restart", "RestartSec", "TimeoutStartSec", "TimeoutStopSec", "WatchdogSec",
}


def log(msg):
    print(f"unit-exec: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(126)


def parse_unit(path):
    """{section: [(key, value), ...]} with continuation lines joined."""
    sections, current, pending = {}, None, ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                line = pending + " " + line.lstrip()
                pending = ""
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            if stripped.endswith("\\"):
                pending = stripped[:-1].rstrip()
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                current = stripped[1:-1]
                sections.setdefault(current, [])
                continue
            key, sep, value = stripped.partition("=")
            if not sep or current is None:
                die(f"cannot parse line in {path}: {raw!r}")
            sections[current].append((key.strip(), value.strip()))
    return sections


def values(service, key):
    """Every value of a list-type directive; an empty assignment resets the list."""
    out = []
    for k, v in service:
        if k == key:
            out = [] if v == "" else out + [v]
    return out


def value(service, key, default=None):
    vs = values(service, key)
    return vs[-1] if vs else default


def boolean(v):
    return v is not None and v.lower() in ("1", "yes", "true", "on")


def expand_specifiers(s, unit_name, home):
    table = {"%": "%", "n": unit_name, "N": unit_name.rsplit(".", 1)[0],
             "p": unit_name.rsplit(".", 1)[0], "S": "/var/lib", "E": "/etc",
             "C": "/var/cache", "L": "/var/log", "t": "/run", "T": "/tmp", "V": "/var/tmp",
             "h": home}
    out, i = [], 0
    while i < len(s):
        if s[i] == "%" and i + 1 < len(s):
            spec = s[i + 1]
            if spec not in table:
                die(f"specifier %{spec} not supported by this emulation: {s!r}")
            out.append(table[spec])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def libc():
    lib = ctypes.CDLL(None, use_errno=True)
    lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                          ctypes.c_ulong, ctypes.c_void_p]
    return lib


def run(*cmd):
    subprocess.run(cmd, check=True)


def mount_points():
    """Mount points from /proc/self/mountinfo, shallowest first (octal escapes decoded)."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            mp = line.split()[4]
            mp = mp.encode().decode("unicode_escape")
            points.append(mp)
    return sorted(set(points), key=lambda p: p.count("/"))


def sandbox_mounts(service, state_dirs):
    protect_system = (value(service, "ProtectSystem") or "no").lower()
    protect_home = (value(service, "ProtectHome") or "no").lower()
    private_tmp = boolean(value(service, "PrivateTmp"))
    tunables = boolean(value(service, "ProtectKernelTunables"))
    cgroups = boolean(value(service, "ProtectControlGroups"))
    rw_paths = [p.lstrip("-") for v in values(service, "ReadWritePaths") for p in v.split()]
    if protect_system not in ("strict", "no", "false"):
        die(f"ProtectSystem={protect_system} is not emulated (only strict)")
    private_mounts = boolean(value(service, "PrivateMounts"))
    if not (protect_system == "strict" or protect_home not in ("no", "false") or private_tmp
            or tunables or cgroups or private_mounts):
        return
    lc = libc()
    if lc.unshare(CLONE_NEWNS) != 0:
        die(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}")
    if lc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        die(f"making / private: {os.strerror(ctypes.get_errno())}")
    if private_tmp:
        for d in ("/tmp", "/var/tmp"):
            run("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", d)
        log("PrivateTmp=yes: fresh /tmp and /var/tmp")
    if protect_home in ("yes", "true", "read-only", "tmpfs"):
        for d in ("/home", "/root", "/run/user"):
            if os.path.isdir(d):
                if protect_home == "tmpfs":
                    run("mount", "-t", "tmpfs", "-o", "mode=0755,ro", "tmpfs", d)
                elif protect_home == "read-only":
                    run("mount", "--bind", d, d)
                    run("mount", "-o", "remount,bind,ro", d)
                else:  # yes: an empty directory nobody may enter, as systemd's "inaccessible"
                    run("mount", "-t", "tmpfs", "-o", "mode=000,ro", "tmpfs", d)
        log(f"ProtectHome={protect_home}: /home, /root, /run/user")
    if protect_system == "strict":
        keep_rw = ("/dev", "/proc", "/sys")
        skip = ("/proc/", "/sys/", "/dev/")
        for mp in mount_points():
            if mp in keep_rw or mp.startswith(skip):
                continue
            if mp in ("/tmp", "/var/tmp") and private_tmp:
                continue
            subprocess.run(["mount", "-o", "remount,bind,ro", mp], check=False,
                           stderr=subprocess.DEVNULL)
        writable = state_dirs + rw_paths
        for d in writable:
            if os.path.exists(d):
                run("mount", "--bind", d, d)
                run("mount", "-o", "remount,bind,rw", d)
        log("ProtectSystem=strict: everything read-only but " + (", ".join(writable) or "nothing"))
    if tunables:
        run("mount", "--bind", "/proc/sys", "/proc/sys")
        run("mount", "-o", "remount,bind,ro", "/proc/sys")
        for mp in mount_points():
            if mp == "/sys" or mp.startswith("/sys/"):
                subprocess.run(["mount", "-o", "remount,bind,ro", mp], check=False,
                               stderr=subprocess.DEVNULL)
        log("ProtectKernelTunables=yes: /proc/sys and /sys read-only")
    elif cgroups and os.path.isdir("/sys/fs/cgroup"):
        run("mount", "--bind", "/sys/fs/cgroup", "/sys/fs/cgroup")
        run("mount", "-o", "remount,bind,ro", "/sys/fs/cgroup")
        log("ProtectControlGroups=yes: /sys/fs/cgroup read-only")


def syscall_set(entries):
    """Expands @groups with `systemd-analyze syscall-filter` (as this systemd knows them)."""
    names = set()
    for e in entries:
        e = e.split(":")[0]  # name:errno form
        if e.startswith("@"):
            out = subprocess.run(["systemd-analyze", "syscall-filter", e], check=True,
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                line = line.strip()
                if not line or line.startswith("#") or line == e:
                    continue
                if line.startswith("@"):
                    names |= syscall_set([line])
                else:
                    names.add(line)
        else:
            names.add(e)
    return names


def add(f, action, name, *conditions):
    """f.add_rule(), where a rule with the filter's default action is a no-op, not an error."""
    try:
        f.add_rule(action, name, *conditions)
    except RuntimeError as e:
        if "errno = -13" not in str(e):  # EACCES: the action equals the default action
            raise


def seccomp_filter(service):
    """The unit's SystemCallFilter= & co as one libseccomp filter (not loaded yet)."""
    import seccomp  # python3-seccomp

    allow, deny, have_allow = set(), set(), False
    for v in values(service, "SystemCallFilter"):
        if v.startswith("~"):
            deny |= syscall_set(v[1:].split())
        else:
            allow |= syscall_set(v.split())
            have_allow = True
    errno_name = value(service, "SystemCallErrorNumber")
    err = getattr(errno, errno_name) if errno_name else None
    refuse = seccomp.ERRNO(err) if err is not None else seccomp.KILL_PROCESS

    def resolve(name):
        """Known to this kernel architecture (libseccomp answers -1 for unknown names)."""
        try:
            return seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) != -1
        except (ValueError, RuntimeError):
            return False

    if have_allow:
        f = seccomp.SyscallFilter(defaction=refuse)
        allowed = sorted(n for n in allow - deny if resolve(n))
        special = {"mmap", "mprotect", "pkey_mprotect", "shmat", "socket",
                   "sched_setscheduler", "sched_setparam", "sched_setattr"}
        for name in allowed:
            if name not in special:
                add(f, seccomp.ALLOW, name)
    else:
        f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        allowed = None
        for name in sorted(deny):
            if resolve(name):
                add(f, refuse, name)

    def permitted(name):
        return allowed is None or name in allowed

    # MemoryDenyWriteExecute=: no writable+executable mappings, no making memory executable.
    mdwx = boolean(value(service, "MemoryDenyWriteExecute"))
    PROT_WRITE, PROT_EXEC = 0x2, 0x4
    for name in ("mmap", "mprotect", "pkey_mprotect"):
        if not permitted(name) or not resolve(name):
            continue
        if not mdwx:
            if allowed is not None:
                add(f, seccomp.ALLOW, name)
            continue
        if name == "mmap":
            add(f, seccomp.ERRNO(errno.EPERM), name,
                       seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC,
                                   PROT_WRITE | PROT_EXEC))
            if allowed is not None:
                add(f, seccomp.ALLOW, name,
                           seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC, 0))
                add(f, seccomp.ALLOW, name,
                           seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE))
                add(f, seccomp.ALLOW, name,
                           seccomp.Arg(2, seccomp.MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_EXEC))
        else:
            add(f, seccomp.ERRNO(errno.EPERM), name,
                       seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, PROT_EXEC))
            if allowed is not None:
                add(f, seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, PROT_EXEC, 0))
    SHM_EXEC = 0o100000
    if permitted("shmat") and resolve("shmat"):
        if mdwx:
            add(f, seccomp.ERRNO(errno.EPERM), "shmat",
                       seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
            if allowed is not None:
                add(f, seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, 0))
        elif allowed is not None:
            add(f, seccomp.ALLOW, "shmat")

    # RestrictAddressFamilies=: socket() with another family fails with EAFNOSUPPORT.
    families = " ".join(values(service, "RestrictAddressFamilies")).split()
    if permitted("socket"):
        if families and not families[0].startswith("~"):
            nums = sorted({int(getattr(socket, fam)) for fam in families})
            if allowed is None:
                # allow-by-default: refuse each family not listed, up to AF_MAX
                for fam in range(0, 64):
                    if fam not in nums:
                        add(f, seccomp.ERRNO(errno.EAFNOSUPPORT), "socket",
                                   seccomp.Arg(0, seccomp.EQ, fam))
            else:
                for fam in nums:
                    add(f, seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, fam))
                for fam in range(0, 64):
                    if fam not in nums:
                        add(f, seccomp.ERRNO(errno.EAFNOSUPPORT), "socket",
                                   seccomp.Arg(0, seccomp.EQ, fam))
        elif families:
            die("RestrictAddressFamilies=~… (a deny list) is not emulated")
        elif allowed is not None:
            add(f, seccomp.ALLOW, "socket")

    # RestrictRealtime=: no real-time scheduling policies (SCHED_FIFO=1, SCHED_RR=2, DEADLINE=6).
    rt = boolean(value(service, "RestrictRealtime"))
    for name in ("sched_setscheduler",):
        if permitted(name) and resolve(name):
            if rt:
                for pol in (1, 2, 6):
                    add(f, seccomp.ERRNO(errno.EPERM), name,
                               seccomp.Arg(1, seccomp.MASKED_EQ, 0xff, pol))
            if allowed is not None:
                if rt:
                    for pol in (0, 3, 5):  # SCHED_OTHER, SCHED_BATCH, SCHED_IDLE
                        add(f, seccomp.ALLOW, name,
                                   seccomp.Arg(1, seccomp.MASKED_EQ, 0xff, pol))
                else:
                    add(f, seccomp.ALLOW, name)
    for name in ("sched_setparam", "sched_setattr"):
        if allowed is not None and permitted(name) and resolve(name):
            add(f, seccomp.ALLOW, name)

    arches = value(service, "SystemCallArchitectures")
    if arches and arches != "native":
        die(f"SystemCallArchitectures={arches} is not emulated (only native)")
    summary = (f"{len(allowed)} system calls allowed" if allowed is not None
               else f"{len(deny)} system calls refused")
    log(f"SystemCallFilter: {summary}, others "
        + (f"fail with {errno_name}" if err is not None else "kill the process")
        + ("; MemoryDenyWriteExecute" if mdwx else "")
        + (f"; RestrictAddressFamilies={' '.join(families)}" if families else "")
        + ("; RestrictRealtime" if rt else ""))
    return f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--notify-socket")
    ap.add_argument("--watchdog-usec", type=int)
    ap.add_argument("unit")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if os.geteuid() != 0:
        die("must run as root (it switches to the unit's User=)")
    unit_name = os.path.basename(args.unit)
    sections = parse_unit(args.unit)
    service = sections.get("Service") or die(f"{args.unit} has no [Service] section")

    unknown = sorted({k for k, _ in service} - HANDLED)
    if unknown:
        log("not emulated here (systemd applies them): " + ", ".join(unknown))

    user = value(service, "User", "root")
    pw = pwd.getpwnam(user)
    group = value(service, "Group")
    gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
    home = pw.pw_dir

    # ExecStart= (or the command given), with systemd's prefixes and specifiers.
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if args.command:
        argv = args.command
    else:
        execs = values(service, "ExecStart")
        if len(execs) != 1:
            die(f"expected one ExecStart=, found {len(execs)}")
        line = execs[0].lstrip("@-:+!")
        argv = [expand_specifiers(a, unit_name, home) for a in shlex.split(line)]
    if not os.path.isabs(argv[0]):
        die(f"ExecStart= must name an absolute path: {argv[0]}")

    # Directories, as systemd creates them before ExecStart=.
    state_dirs = []
    for name in " ".join(values(service, "StateDirectory")).split():
        d = os.path.join("/var/lib", name)
        mode = int(value(service, "StateDirectoryMode", "0755"), 8)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, mode)
        for root, dirs, files in os.walk(d):
            for p in [root] + [os.path.join(root, n) for n in dirs + files]:
                st = os.lstat(p)
                if st.st_uid != pw.pw_uid or st.st_gid != gid:
                    os.lchown(p, pw.pw_uid, gid)
        state_dirs.append(d)
    config_dirs = []
    for name in " ".join(values(service, "ConfigurationDirectory")).split():
        d = os.path.join("/etc", name)
        mode = int(value(service, "ConfigurationDirectoryMode", "0755"), 8)
        if not os.path.isdir(d):
            os.makedirs(d)
            os.chmod(d, mode)
        elif os.stat(d).st_mode & 0o7777 != mode:
            log(f"warning (as systemd's): ConfigurationDirectory {d} exists with mode "
                f"{oct(os.stat(d).st_mode & 0o7777)}, the unit says {oct(mode)}")
        config_dirs.append(d)

    # The environment, built from nothing as systemd does.
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": home, "USER": user, "LOGNAME": user, "SHELL": pw.pw_shell,
    }
    if state_dirs:
        env["STATE_DIRECTORY"] = ":".join(state_dirs)
    if config_dirs:
        env["CONFIGURATION_DIRECTORY"] = ":".join(config_dirs)
    for ef in values(service, "EnvironmentFile"):
        optional, path = ef.startswith("-"), ef.lstrip("-")
        if not os.path.exists(path):
            if optional:
                continue
            die(f"EnvironmentFile={path} is missing")
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith(("#", ";")) and "=" in line:
                    k, _, v = line.partition("=")
                    env[k.strip()] = " ".join(shlex.split(v)) if v.strip() else ""
    for assignment_line in values(service, "Environment"):
        for assignment in shlex.split(assignment_line):
            k, _, v = assignment.partition("=")
            env[k] = expand_specifiers(v, unit_name, home)
    if args.notify_socket:
        env["NOTIFY_SOCKET"] = args.notify_socket
    if args.watchdog_usec:
        env["WATCHDOG_USEC"] = str(args.watchdog_usec)
        env["WATCHDOG_PID"] = str(os.getpid())  # this process becomes the service (exec)

    # (A notify socket stays connectable on a read-only mount: sockets are not files.)
    sandbox_mounts(service, state_dirs)

    nofile = value(service, "LimitNOFILE")
    if nofile:
        soft, _, hard = nofile.partition(":")
        want = (int(soft), int(hard or soft))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, want)
            log(f"LimitNOFILE={nofile}")
        except (ValueError, OSError):
            cur_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (cur_hard, cur_hard))
            log(f"LimitNOFILE={nofile} cannot be applied on this machine (root may not raise "
                f"the hard limit above {cur_hard}): using {cur_hard}")

    umask = value(service, "UMask")
    if umask:
        os.umask(int(umask, 8))

    filt = None
    if values(service, "SystemCallFilter") or boolean(value(service, "MemoryDenyWriteExecute")) \
            or values(service, "RestrictAddressFamilies"):
        filt = seccomp_filter(service)

    os.initgroups(user, gid)
    os.setgid(gid)
    os.setuid(pw.pw_uid)
    wd = value(service, "WorkingDirectory")
    if wd:
        optional, wd = wd.startswith("-"), wd.lstrip("-")
        wd = home if wd == "~" else expand_specifiers(wd, unit_name, home)
        try:
            os.chdir(wd)
        except OSError as e:
            if not optional:
                die(f"WorkingDirectory={wd}: {e}")

    if boolean(value(service, "NoNewPrivileges")) or filt is not None:
        PR_SET_NO_NEW_PRIVS = 38
        if libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            die("prctl(PR_SET_NO_NEW_PRIVS) failed")
    log(f"exec as {user}:{grp.getgrgid(gid).gr_name} in {os.getcwd()}: {shlex.join(argv)}")
    if filt is not None:
        filt.load()
    os.execve(argv[0], argv, env)


if __name__ == "__main__":
    main()
