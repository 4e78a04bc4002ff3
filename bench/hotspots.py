"""Where our server spends its time under load: py-spy samples every worker, summed by function.

py-spy is not a dependency: `pip install py-spy` (or set BENCH_PY_SPY to its path).
"""
import collections
import os
import re
import shutil
import subprocess

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy():
    found = os.environ.get("BENCH_PY_SPY") or shutil.which("py-spy")
    if not found:
        raise SystemExit("--profile needs py-spy: pip install py-spy (or set BENCH_PY_SPY)")
    return found


def record(pid, seconds, out_path, gil=False):
    """Sample `pid` and its worker processes into a collapsed-stack file: every active thread
    (time spent, waits on the database included), or with `gil` only those running Python."""
    subprocess.run([py_spy(), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format", "raw",
                    "--rate", "250", "--duration", str(seconds), "--output", out_path] + (["--gil"] if gil else []),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame):
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def summarize(raw_path, top=15):
    """Markdown rows: the functions with the most samples on their own (self) and beneath them
    (inclusive), as shares of every sample taken."""
    own, beneath, total = collections.Counter(), collections.Counter(), 0
    with open(raw_path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_short(f) for f in stack.split(";")]
            # process/thread labels and the plumbing every stack shares say nothing about costs
            frames = [f for f in frames if not f.startswith(("process ", "thread ", "<module> "))
                      and "(threading.py)" not in f and "(contextlib.py)" not in f]
            if not frames:
                continue
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                beneath[frame] += n
    if not total:
        return ["(no samples)"]
    rows = [f"{total:,} samples.", "", "| self % | function |", "|---|---|"]
    rows += [f"| {n * 100 / total:.1f} | `{f}` |" for f, n in own.most_common(top)]
    rows += ["", "| inclusive % | function |", "|---|---|"]
    rows += [f"| {n * 100 / total:.1f} | `{f}` |" for f, n in beneath.most_common(top + 10)]
    return rows
