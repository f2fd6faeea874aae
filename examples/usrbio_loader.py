#!/usr/bin/env python3
"""usrbio_loader.py — a batch data loader over USRBIO: random samples of a directory.

    usrbio_loader.py DIR [--batch 32] [--sample-bytes 65536] [--batches 10] [--check]

Each file of DIR (on a c3fs mount) is a source; a sample is a random range of one file.
Each batch prepares --batch reads into one shared buffer, submits once, waits once; with
--check every sample is compared with an ordinary read of the same range.  Prints one line
per batch and a summary.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import c3fs_usrbio as ub  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sample-bytes", type=int, default=65536)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    mp = ub.extract_mount_point(a.dir)
    files = []
    for name in sorted(os.listdir(a.dir)):
        p = os.path.join(a.dir, name)
        if os.path.isfile(p) and os.path.getsize(p) > 0:
            fd = os.open(p, os.O_RDONLY)
            files.append((p, fd, ub.reg_fd(fd), os.path.getsize(p)))
    if not files:
        sys.exit("no files in %s" % a.dir)
    iov = ub.Iov(mp, a.batch * a.sample_bytes)
    ior = ub.Ior(mp, a.batch, True)
    buf = iov.view()
    total, bad, t0 = 0, 0, time.time()
    for b in range(a.batches):
        plan = []
        for i in range(a.batch):
            p, fd, rfd, size = rnd.choice(files)
            n = min(a.sample_bytes, size)
            off = rnd.randrange(0, size - n + 1)
            ior.prep(iov, True, i * a.sample_bytes, rfd, off, n, userdata=i + 1)
            plan.append((fd, off, n))
        ior.submit()
        done = []
        while len(done) < a.batch:
            done += ior.wait(a.batch - len(done), timeout=60)
        for index, result, ud in done:
            fd, off, n = plan[ud - 1]
            if result != n:
                bad += 1
                print("sample %d: result %d, want %d" % (ud - 1, result, n))
            elif a.check and bytes(buf[(ud - 1) * a.sample_bytes:][:n]) != os.pread(fd, n, off):
                bad += 1
                print("sample %d: bytes differ from a plain read" % (ud - 1))
            total += max(result, 0)
        print("batch %d: %d samples" % (b, len(done)))
    dt = time.time() - t0
    print("%d batches, %.1f MiB in %.3f s (%.1f MiB/s), %d bad" %
          (a.batches, total / 1048576, dt, total / 1048576 / max(dt, 1e-9), bad))
    del buf
    for p, fd, rfd, size in files:
        ub.dereg_fd(rfd)
        os.close(fd)
    ior.close()
    iov.close()
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
