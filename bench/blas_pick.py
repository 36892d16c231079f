#!/usr/bin/env python3
"""Drive bench/blas_pick.c: build one binary per library, time every shape in
its own process for each (library, OMP_NUM_THREADS, OPENBLAS_CORETYPE), and
print a GFLOP/s table.

Noise control (the box has 2 cores and may be shared): before each process
wait until the machine is idle, and afterwards compare system-wide busy CPU
time (/proc/stat) with the child's own CPU time; if something else used more
than 5% of the wall time, throw the measurement away and rerun it. Each cell
is the best of ROUNDS clean process-level medians.

Every measurement is appended to DIR/results.log as it is made, and the
table is built from the whole log, so an interrupted run loses nothing and a
rerun adds rounds (--report prints the table from the log only; delete the
log to start over).

usage: bench/blas_pick.py [--rounds N] [--quick] [--out DIR] [--report]
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "blas_pick.c")
SHAPES = [(4096, 4096, 4096), (1024, 1024, 1024), (256, 256, 256),
          (64, 128, 5408), (64, 5408, 128), (5408, 128, 64),
          (43264, 32, 9), (32, 9, 43264), (43264, 9, 32), (64, 10, 128)]
CNN = SHAPES[3:]
HZ = os.sysconf("SC_CLK_TCK")


def sh(cmd):
    return subprocess.check_output(cmd, shell=True, text=True).strip()


def build(out):
    os.makedirs(out, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    flags = "-O2 -std=c11 -Wall -Wextra -fopenmp"
    ob_cflags = sh("pkg-config --cflags openblas")
    ob_libs = sh("pkg-config --libs openblas")
    ob_dir = sh("pkg-config --variable=libdir openblas").rstrip("/")
    cmds = [
        f"{cc} {flags} -DUSE_DNNL {SRC} -o {out}/blas_pick_dnnl -ldnnl -lm",
        f"{cc} {flags} -DUSE_OPENBLAS {ob_cflags} {SRC} -o {out}/blas_pick_openblas"
        f" {ob_libs} -Wl,-rpath,{ob_dir} -lm",
    ]
    for c in cmds:
        print("+", c, flush=True)
        subprocess.check_call(c, shell=True)


def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def wait_idle(max_wait=300, window=1.0):
    t_end = time.time() + max_wait
    while time.time() < t_end:
        b0 = busy_jiffies()
        time.sleep(window)
        if (busy_jiffies() - b0) / HZ < 0.03 * window * os.cpu_count():
            return
    print("warning: machine never went idle", file=sys.stderr)


def run_clean(argv, env, tries=6):
    """Run argv until a run does not overlap foreign load (at most tries).
    Returns (stdouts of all runs, clean?); callers keep the best numbers,
    since foreign load can only slow a run down."""
    outs = []
    for _ in range(tries):
        wait_idle()
        b0, t0 = busy_jiffies(), time.time()
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - t0
        if status != 0:
            raise RuntimeError(f"{argv} failed: {status}")
        outs.append(out)
        other = (busy_jiffies() - b0) / HZ - (ru.ru_utime + ru.ru_stime)
        if other < 0.05 * wall + 0.02:
            return outs, True
        print(f"  ({' '.join(argv[1:])}: foreign load {other:.2f}s cpu in "
              f"{wall:.2f}s; rerun)", file=sys.stderr, flush=True)
    return outs, False


CONFIGS = [(lib, core, t) for t in (1, 2)
           for lib, core in (("dnnl", ""), ("openblas", ""),
                             ("openblas", "Haswell"))]


def name(cfg):
    lib, core, t = cfg
    return ("dnnl" if lib == "dnnl" else "ob" + ("H" if core else "")) + str(t)


def measure(a, log):
    shapes = SHAPES[1:] if a.quick else SHAPES
    for rnd in range(a.rounds):
        for cfg in CONFIGS:
            lib, core, t = cfg
            env = dict(os.environ, OMP_NUM_THREADS=str(t))
            env.pop("OPENBLAS_CORETYPE", None)
            if core:
                env["OPENBLAS_CORETYPE"] = core
            for s in shapes:
                outs, ok = run_clean([f"{a.out}/blas_pick_{lib}", "bench",
                                      *map(str, s)], env)
                with open(log, "a") as f:
                    for i, out in enumerate(outs):
                        clean = ok and i == len(outs) - 1
                        for line in out.splitlines():
                            f.write(f"{name(cfg)} clean={int(clean)} {line}\n")
        print(f"round {rnd + 1}/{a.rounds} done", file=sys.stderr, flush=True)


def report(log):
    res = {}  # (name, shape, op) -> (best gflops, its ms)
    clean = {}  # (name, shape) -> had at least one clean run
    for line in open(log):
        w = line.split()
        kv = dict(x.split("=", 1) for x in w[1:2] + w[3:])
        s = (int(kv["M"]), int(kv["N"]), int(kv["K"]))
        key = (w[0], s, kv["op"])
        g, ms = float(kv["gflops"]), float(kv["ms"])
        if key not in res or g > res[key][0]:
            res[key] = (g, ms)
        clean[(w[0], s)] = clean.get((w[0], s), False) or kv["clean"] == "1"
    names = [name(c) for c in CONFIGS]
    shapes = [s for s in SHAPES if (names[0], s, "NN") in res]
    print("GFLOP/s, best process median; ob=OpenBLAS autodetect, "
          "obH=OPENBLAS_CORETYPE=Haswell; suffix=threads")
    print("%-16s %-2s " % ("M,N,K", "op") + " ".join("%6s " % n for n in names))
    for s in shapes:
        for op in ("NN", "NT", "TN"):
            print("%-16s %-2s " % (",".join(map(str, s)), op) + " ".join(
                "%6.1f%s" % (res[(n, s, op)][0], " " if clean[(n, s)] else "?")
                if (n, s, op) in res else "     - " for n in names))
    cnn = [s for s in CNN if s in shapes]
    print("%-19s " % "CNN shapes sum ms*" + " ".join(
        "%6.3f " % (sum(res[(n, s, op)][1] for s in cnn
                        for op in ("NN", "NT", "TN")) / 3)
        if all((n, s, "NN") in res for s in cnn) else "     - " for n in names))
    print("* sum over the CNN shapes of per-call ms, averaged over NN/NT/TN")
    print("? = every run of that cell overlapped foreign CPU load")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip 4096^3")
    ap.add_argument("--out", default="/tmp/blas_pick")
    ap.add_argument("--report", action="store_true", help="table from log only")
    a = ap.parse_args()
    log = os.path.join(a.out, "results.log")
    if not a.report:
        build(a.out)
        measure(a, log)
    report(log)


if __name__ == "__main__":
    main()
