"""A/B of the collector's CPU per request: two source trees, alternated, same upstream.

    git archive HEAD src | tar -x -C /tmp/old
    .venv/bin/python benchmarks/proxy/ab.py --a /tmp/old/src --b src --rounds 3

Each round runs, for A then B (then B then A in the next round, to cancel
drift), one collector worker at each ``--rates`` and reads its CPU per request
(``/proc``, during ``wrk -t1 -c64`` for ``--seconds``) and req/s. The
collector process gets the tree on ``PYTHONPATH`` (ahead of the editable
install). Prints every measurement and the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--a", type=Path, required=True, help="src folder of A")
    parser.add_argument("--b", type=Path, required=True, help="src folder of B")
    parser.add_argument("--rates", default="0,1", help="sampling rates, comma separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    procs = bench.Processes()
    work = Path(tempfile.mkdtemp(prefix="driftscope-ab-"))
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{bench.REQUEST}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    seen: dict[tuple[str, float], list[tuple[float, float]]] = {}
    try:
        upstream, _ = bench.start_upstream(procs, work)
        for rnd in range(args.rounds):
            order = ["A", "B"] if rnd % 2 == 0 else ["B", "A"]
            for side in order:
                os.environ["PYTHONPATH"] = str(trees[side])
                for rate in rates:
                    tag = f"{side}-{rnd}-{rate:g}"
                    url, proc, _, _ = bench.start_collector(procs, work, upstream, rate, 1, tag)
                    bench.wrk(url, args.connections, 1, script)
                    before = bench.cpu_seconds(proc.pid)
                    out = bench.wrk(url, args.connections, args.seconds, script)
                    spent = bench.cpu_seconds(proc.pid) - before
                    procs.stop(proc)
                    cpu = spent / out["requests"] * 1e6 if out["requests"] else float("nan")
                    seen.setdefault((side, rate), []).append((cpu, out["rps"]))
                    print(
                        f"  {tag:<10} {out['rps']:>9.0f} req/s  {cpu:6.1f} us CPU/req"
                        f"  errors {out['errors']:.0f}",
                        flush=True,
                    )
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)  # the spools too
    print("\nmedians (us CPU/req, req/s):")
    for rate in rates:
        a = seen.get(("A", rate), [])
        b = seen.get(("B", rate), [])
        if not a or not b:
            continue
        ca, cb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
        ra, rb = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
        print(
            f"  rate {rate:g}: A {ca:.1f} us {ra:.0f} req/s | B {cb:.1f} us {rb:.0f} req/s"
            f" | B/A cpu {cb / ca:.3f}, req/s {rb / ra:.3f}"
        )
    for side in ("A", "B"):
        lo, hi = seen.get((side, min(rates)), []), seen.get((side, max(rates)), [])
        if lo and hi and len(rates) > 1:
            c0 = statistics.median(x[0] for x in lo)
            c1 = statistics.median(x[0] for x in hi)
            r0 = statistics.median(x[1] for x in lo)
            r1 = statistics.median(x[1] for x in hi)
            print(
                f"  {side}: cpu @{min(rates):g} / @{max(rates):g} = {c0 / c1:.3f},"
                f" req/s @{max(rates):g} / @{min(rates):g} = {r1 / r0:.3f}"
            )


if __name__ == "__main__":
    main()
