#!/usr/bin/env python3
"""Writes the environment and processes collectors' fixture trees
(tests/inventory/collect_sys_procs_test.cpp):

  procs/          a small machine: init, a kernel thread, sshd, shells on pts/3, pts/300
                  and tty1, a daemon on ttyS0 whose uid has no passwd line, a zombie;
                  the collecting process's environment with secrets in it
  procs_broken/   its broken twin: hostile comm values (')' and ') (' inside), truncated
                  and non-numeric stat lines, a stat naming another pid, huge and
                  non-UTF-8 command lines, processes that vanished half-read, a bad
                  btime, no /etc/passwd, an environ with odd entries and no final NUL

The files under proc/ follow proc(5) for Linux 6.x. Re-run after a change and commit
the output: `python3 tests/data/inventory/make_proc_fixtures.py`.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def put(root, rel, data):
    path = os.path.join(HERE, root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def link(root, rel, target):
    path = os.path.join(HERE, root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def tty(major, minor):
    """tty_nr as the kernel prints it: new_encode_dev()."""
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def stat_line(pid, comm, state="S", ppid=1, tty_nr=0, utime=0, stime=0, starttime=0,
              vsize=0, rss=0):
    # pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    # cmajflt utime stime cutime cstime priority nice num_threads itrealvalue
    # starttime vsize rss rsslim ... (52 fields in all on 6.x)
    fields = [state, ppid, pid, pid, tty_nr, -1, 4194560, 1200, 0, 3, 0, utime, stime,
              0, 0, 20, 0, 1, 0, starttime, vsize, rss, 18446744073709551615]
    fields += [0] * (52 - 2 - len(fields))
    return f"{pid} ({comm}) " + " ".join(str(f) for f in fields) + "\n"


def status(name, uid, rss_kib=None):
    text = f"Name:\t{name}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t1\nPid:\t1\n"
    text += f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t0\t0\t0\t0\n"
    if rss_kib is not None:
        text += f"VmPeak:\t  999999 kB\nVmSize:\t  999999 kB\nVmRSS:\t{rss_kib:8d} kB\n"
    return text + "Threads:\t1\n"


def process(root, pid, comm, uid=0, cmdline=b"", exe=None, rss_kib=None, stat=None, **kw):
    d = f"proc/{pid}/"
    kw.setdefault("rss", (rss_kib or 0) // 4)  # in 4 KiB pages, as VmRSS
    if isinstance(comm, bytes):
        put(root, d + "stat", b"%d (" % pid + comm + b") " +
            stat_line(pid, "x", **kw).split(") ", 1)[1].encode())
        name = comm.decode("latin-1")
    else:
        put(root, d + "stat", stat if stat is not None else stat_line(pid, comm, **kw))
        name = comm
    put(root, d + "status", status(name, uid, rss_kib))
    put(root, d + "cmdline", cmdline)
    if exe:
        link(root, d + "exe", exe)


def good():
    root = "procs"
    shutil.rmtree(os.path.join(HERE, root), ignore_errors=True)
    put(root, "proc/stat", "cpu  100 0 50 1000 0 0 0 0 0 0\nbtime 1717236000\nprocesses 42\n")
    put(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
        "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
        "toor:x:0:0:second root:/root:/bin/sh\n")
    put(root, "proc/self/environ",
        b"HOME=/root\0PATH=/usr/sbin:/usr/bin\0LANG=C.UTF-8\0DB_PASSWORD=hunter2\0"
        b"GitHub_Token=ghp_abc\0SSH_AUTH_SOCK=/run/ssh.sock\0"
        b"http_proxy=http://proxy:pw@10.0.0.1:3128\0no_proxy=localhost,.corp\0"
        b"EMPTY=\0WINPATH=C:\\temp\0EQUALS=a=b\0")
    # 1: init, started 0.12 s after boot, 1.5 s of user and 2.5 s of system time.
    process(root, 1, "systemd", cmdline=b"/sbin/init\0splash\0", exe="/usr/lib/systemd/systemd",
            rss_kib=12800, ppid=0, utime=150, stime=250, starttime=12, vsize=170000384)
    # 2: a kernel thread: no command line, no memory, no executable.
    process(root, 2, "kthreadd", ppid=0, starttime=12)
    process(root, 812, "sshd", cmdline=b"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups\0",
            exe="/usr/sbin/sshd", rss_kib=9216, utime=3, stime=4, starttime=500, vsize=15474688)
    process(root, 4242, "bash", uid=1000, cmdline=b"-bash\0", exe="/usr/bin/bash", rss_kib=5120,
            ppid=812, tty_nr=tty(136, 3), utime=7, starttime=360000, vsize=8962048)
    process(root, 4300, "tmux: server", uid=1000, cmdline=b"tmux\0new\0-s\0work\0",
            rss_kib=4096, ppid=4242, tty_nr=tty(4, 1), starttime=360100, vsize=10000000)
    process(root, 4301, "vim", uid=1000, cmdline=b"vim\0notes.txt\0", rss_kib=8192, ppid=4300,
            tty_nr=tty(136, 300), starttime=360200, vsize=20000000)
    process(root, 5000, "getty", uid=1001, cmdline=b"/sbin/agetty\0-L\0ttyS0\0", rss_kib=1024,
            tty_nr=tty(4, 64), starttime=600, vsize=5000000)
    process(root, 6000, "defunct", uid=1000, state="Z", ppid=4242, starttime=370000)
    put(root, "proc/sys/kernel/pid_max", "4194304\n")  # not a process folder


def broken():
    root = "procs_broken"
    shutil.rmtree(os.path.join(HERE, root), ignore_errors=True)
    put(root, "proc/stat", "cpu  1 2 3\nbtime soon\n")
    # No /etc/passwd: users are numbers.
    put(root, "proc/self/environ",
        b"LATIN=caf\xe9\0JUNK\0=novalue\0A=first\0A=second\0N\xffX=1\0"
        b"BIG=" + b"x" * 5000 + b"\0CTRL=a\nb\0TRAILING=no final NUL")
    process(root, 100, b"a) (b", cmdline=b"/bin/a\0")
    process(root, 101, b") R 1 2 3", ppid=7, cmdline=b"/bin/b\0")
    process(root, 102, "trunc", stat="102 (trunc) S 1 102 102 0\n")
    process(root, 103, "nonnum", stat=stat_line(103, "nonnum").replace(" S 1 ", " S x ", 1))
    process(root, 104, "long", cmdline=b"/usr/bin/long\0" + b"--arg=" + b"y" * 10000 + b"\0")
    process(root, 105, "latin", cmdline=b"/opt/caf\xe9/run\0--name\0a\nb\0")
    process(root, 106, "nostatus")
    os.remove(os.path.join(HERE, root, "proc/106/status"))
    process(root, 107, "nocmdline")
    os.remove(os.path.join(HERE, root, "proc/107/cmdline"))
    process(root, 108, "other", stat=stat_line(999, "other"))
    process(root, 109, "baduid")
    put(root, "proc/109/status", "Name:\tbaduid\nUid:\tzero\tzero\n")
    process(root, 110, "bytes", cmdline=b"\xff" * 5000)
    process(root, 111, "", cmdline=b"/bin/noname\0")
    process(root, 112, "huge", starttime=18446744073709551615, utime=18446744073709551615,
            stime=5, cmdline=b"/bin/huge\0")
    process(root, 113, "noparen", stat="113 (noparen S 1 2 3\n")
    process(root, 114, "exact", cmdline=b"z" * 4096 + b"\0")
    process(root, 115, "padded", cmdline=b"nginx: worker process\0\0\0\0")
    put(root, "proc/abc/stat", "1 (abc) S 0\n")  # not a pid folder


good()
broken()
