#!/usr/bin/env python3
"""Run one command and measure it: wall time, peak RssAnon, peak RSS.

Usage: bench-measure.py [--stdout FILE] [--interval S] [--trace FILE] -- CMD [ARG...]

Prints one line of JSON on its own stdout:
  {"wall": seconds, "cpu": user+system seconds, "rc": exit code, "rss_anon_kb": peak sampled RssAnon,
   "hwm_kb": peak VmHWM seen in /proc, "maxrss_kb": ru_maxrss from wait4}

RssAnon (anonymous resident memory: heap and stacks, not the pages of a mapped
file) is sampled from /proc/PID/status every --interval seconds (5 ms by
default), so a very short spike between two samples can be missed. VmHWM and
ru_maxrss are the kernel's exact peak of the whole RSS (file pages included).
The command's stdout goes to --stdout (default /dev/null); its stderr is kept
and shown if it fails. --trace FILE writes every sample as a line
"<seconds since start> <RssAnon kB> <RssFile kB>", to see what holds memory when.
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    argv = sys.argv[1:]
    stdout_path = "/dev/null"
    interval = 0.005
    trace_path = None
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--stdout":
            stdout_path = argv.pop(0)
        elif opt == "--interval":
            interval = float(argv.pop(0))
        elif opt == "--trace":
            trace_path = argv.pop(0)
        else:
            sys.exit(f"bench-measure: unknown option {opt}")
    if not argv or argv[0] != "--" or len(argv) < 2:
        sys.exit("usage: bench-measure.py [--stdout FILE] [--interval S] [--trace FILE] -- CMD [ARG...]")
    cmd = argv[1:]

    rss_anon = 0
    hwm = 0
    trace = open(trace_path, "w") if trace_path else None
    if trace:
        trace.write("# seconds RssAnon_kB RssFile_kB\n")
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        status_path = f"/proc/{proc.pid}/status"
        while True:
            anon_now = file_now = None
            try:
                with open(status_path, "rb") as f:
                    for line in f:
                        if line.startswith(b"RssAnon:"):
                            anon_now = int(line.split()[1])
                            rss_anon = max(rss_anon, anon_now)
                        elif line.startswith(b"RssFile:"):
                            file_now = int(line.split()[1])
                        elif line.startswith(b"VmHWM:"):
                            hwm = max(hwm, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
            if trace and anon_now is not None:
                trace.write(f"{time.perf_counter() - t0:.3f} {anon_now} {file_now or 0}\n")
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            time.sleep(interval)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        rc = proc.returncode
        if rc != 0:
            err.seek(0)
            sys.stderr.write(err.read()[-4000:].decode("utf-8", "replace"))
    if trace:
        trace.close()
    print(
        json.dumps(
            {
                "wall": round(wall, 3),
                "cpu": round(usage.ru_utime + usage.ru_stime, 3),
                "rc": rc,
                "rss_anon_kb": rss_anon,
                "hwm_kb": hwm,
                "maxrss_kb": usage.ru_maxrss,
            }
        )
    )


if __name__ == "__main__":
    main()
