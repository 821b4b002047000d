"""Proxy benchmark: straight vs nginx (the peer) vs the driftscope collector, side by side.

    .venv/bin/python benchmarks/proxy/run.py            # 10 s per measurement
    .venv/bin/python benchmarks/proxy/run.py --quick    # 3 s per measurement (a smoke run)

Needs ``nginx`` and ``wrk`` (Debian packages). When they are missing and this
runs as root, it runs ``apt-get install -y nginx wrk`` and nothing else
(``--no-install`` refuses). Everything listens on free loopback ports; every
process it starts is stopped by its pid.

Paths: straight to the upstream (nginx answering a fixed OIP v2 response);
through nginx as a plain keep-alive reverse proxy (1 worker); through the
collector (``ProxyApp`` under uvicorn, uvloop + httptools, no access log) with
1 worker at 0 %, 10 % and 100 % sampling and with 2 workers at 10 % and 100 %.
Throughput: ``wrk -t1 -c64``. Latency: ``wrk -t1 -c1``, p50 / p99 minus the
straight path's. After each collector run, the workers are stopped with
SIGTERM (they drain into the spool) and the spool records are counted with
``SpoolReader``: sampled must equal stored.

Writes ``benchmarks/results/proxy.json`` and ``benchmarks/results/proxy.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from driftscope.capture.spool import SpoolReader

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
MODEL = "bench"
INFER = f"/v2/models/{MODEL}/infer"
RESPONSE = (
    '{"model_name":"bench","model_version":"1","outputs":[{"name":"predict","datatype":"INT64",'
    '"shape":[1,1],"data":[1]},{"name":"predict_proba","datatype":"FP64","shape":[1,2],'
    '"data":[0.2,0.8]}]}'
)
REQUEST = (
    '{"inputs":[{"name":"input-0","datatype":"FP64","shape":[1,4],"data":[0.1,1.5,-0.3,2.25]}]}'
)
TARGETS = {
    "throughput_10pct_vs_nginx": 0.25,
    "throughput_100pct_vs_0pct": 0.9,
    "added_p50_ms_max": 0.3,
    "added_p99_ms_max": 3.0,
    "two_workers_vs_one": 1.7,
}


@dataclass
class Run:
    name: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    cpu_us_per_request: float | None = None  # the proxy's own CPU (throughput run)
    added_p50_ms: float | None = None
    added_p99_ms: float | None = None
    sampled: int | None = None
    stored: int | None = None
    requests_seen: int | None = None
    workers: dict[str, int] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_tools(install: bool) -> None:
    missing = [t for t in ("nginx", "wrk") if shutil.which(t) is None]
    if not missing:
        return
    if not install or os.geteuid() != 0:
        sys.exit(f"missing {', '.join(missing)}: run `apt-get install -y nginx wrk` as root")
    print("installing nginx and wrk (apt-get install -y nginx wrk)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "nginx", "wrk"], check=True, env=env)


def wait_ready(url: str, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready at {url}")


class Processes:
    """Every process started here, stopped by pid."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.procs.append(proc)
        return proc

    def stop(
        self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 30
    ) -> int:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)


def nginx_conf(work: Path, name: str, port: int, body: str) -> Path:
    prefix = work / name
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  keepalive_requests 1000000;
  {body.replace("PORT", str(port))}
}}
"""
    )
    return conf


def start_upstream(procs: Processes, work: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    body = f"""
  server {{
    listen 127.0.0.1:PORT;
    location / {{
      default_type application/json;
      return 200 '{RESPONSE}';
    }}
  }}"""
    conf = nginx_conf(work, "upstream", port, body)
    proc = procs.start(["nginx", "-c", str(conf), "-p", str(conf.parent)], work / "upstream.log")
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + f"/v2/models/{MODEL}/ready", "nginx upstream")
    return url, proc


def start_peer(procs: Processes, work: Path, upstream: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    body = f"""
  upstream up {{ server {upstream.removeprefix("http://")}; keepalive 128; }}
  server {{
    listen 127.0.0.1:PORT;
    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}"""
    conf = nginx_conf(work, "peer", port, body)
    proc = procs.start(["nginx", "-c", str(conf), "-p", str(conf.parent)], work / "peer.log")
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + f"/v2/models/{MODEL}/ready", "nginx peer")
    return url, proc


def start_collector(
    procs: Processes, work: Path, upstream: str, rate: float, workers: int, tag: str
) -> tuple[str, subprocess.Popen[bytes], Path, Path]:
    port = free_port()
    spool, stats = work / tag / "spool", work / tag / "stats"
    env = {
        **os.environ,
        "BENCH_UPSTREAM": upstream,
        "BENCH_RATE": str(rate),
        "BENCH_SPOOL": str(spool),
        "BENCH_STATS": str(stats),
    }
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        "--factory",
        "collector_app:create",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-server-header",
        "--no-proxy-headers",
        "--no-date-header",
        "--log-level",
        "warning",
    ]
    proc = procs.start(args, work / f"{tag}.log", env=env)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + f"/v2/models/{MODEL}/ready", f"collector {tag}")
    return url, proc, spool, stats


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, connections: int, seconds: float, script: Path) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    out = subprocess.run(args + [url + INFER], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = dict(re.findall(r"^\s+(50|99)\.000%\s+(\S+)", out, re.M))
    if not pct:
        pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    done = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p50_ms": _ms(pct["50"]),
        "p99_ms": _ms(pct["99"]),
        "errors": errors,
        "requests": int(done.group(1)) if done else 0,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its direct children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(
    name: str, url: str, args: argparse.Namespace, script: Path, pid: int | None = None
) -> Run:
    wrk(url, args.connections, 1, script)  # warm-up: pools, caches
    before = cpu_seconds(pid) if pid else 0.0
    tput = wrk(url, args.connections, args.seconds, script)
    spent = cpu_seconds(pid) - before if pid else 0.0
    lat = wrk(url, 1, args.seconds, script)
    run = Run(name, rps=tput["rps"], p50_ms=lat["p50_ms"], p99_ms=lat["p99_ms"])
    run.errors = int(tput["errors"] + lat["errors"])
    if pid and tput["requests"]:
        run.cpu_us_per_request = round(spent / tput["requests"] * 1e6, 1)
    print(
        f"  {name:<22} {run.rps:>9.0f} req/s   p50 {run.p50_ms:.3f} ms   p99 {run.p99_ms:.3f} ms"
        + (f"   {run.cpu_us_per_request} us CPU/req" if run.cpu_us_per_request else ""),
        flush=True,
    )
    return run


def count_stored(spool: Path) -> int:
    reader = SpoolReader(spool)
    return sum(len(reader.read(seg)) for seg in reader.ready_segments())


def collector_run(
    procs: Processes,
    work: Path,
    upstream: str,
    rate: float,
    workers: int,
    args: argparse.Namespace,
    script: Path,
) -> Run:
    tag = f"collector-{workers}w-{round(rate * 100)}pct"
    url, proc, spool, stats = start_collector(procs, work, upstream, rate, workers, tag)
    run = measure(tag, url, args, script, proc.pid)
    code = procs.stop(proc)  # SIGTERM: each worker drains its queue into the spool
    if code not in (0, -signal.SIGTERM):  # uvicorn re-raises SIGTERM after a clean exit
        print(f"  warning: {tag} exited with {code}", flush=True)
    files = sorted(stats.glob("*.json"))
    counts = [orjson.loads(f.read_bytes()) for f in files]
    run.sampled = sum(c["sampled"] for c in counts)
    run.requests_seen = sum(c["requests"] for c in counts)
    run.stored = count_stored(spool)
    run.workers = {"reported": len(counts), "dropped": sum(c["dropped"] for c in counts)}
    print(
        f"      sampled {run.sampled} / {run.requests_seen} requests, stored {run.stored}",
        flush=True,
    )
    shutil.rmtree(spool, ignore_errors=True)
    return run


def ratios(runs: dict[str, Run]) -> dict[str, float | None]:
    def r(a: str, b: str) -> float | None:
        if a in runs and b in runs and runs[b].rps:
            return round(runs[a].rps / runs[b].rps, 3)
        return None

    def cpu(a: str, b: str) -> float | None:
        ca = runs[a].cpu_us_per_request if a in runs else None
        cb = runs[b].cpu_us_per_request if b in runs else None
        return round(cb / ca, 3) if ca and cb else None

    return {
        "throughput_10pct_vs_nginx": r("collector-1w-10pct", "nginx"),
        "throughput_0pct_vs_nginx": r("collector-1w-0pct", "nginx"),
        "throughput_100pct_vs_0pct": r("collector-1w-100pct", "collector-1w-0pct"),
        # the same from the proxy's CPU per request: steadier on a shared machine
        "cpu_per_request_0pct_over_100pct": cpu("collector-1w-100pct", "collector-1w-0pct"),
        "two_workers_vs_one_10pct": r("collector-2w-10pct", "collector-1w-10pct"),
        "two_workers_vs_one_100pct": r("collector-2w-100pct", "collector-1w-100pct"),
        "nginx_vs_straight": r("nginx", "straight"),
    }


def markdown(runs: dict[str, Run], rat: dict[str, float | None], meta: dict[str, object]) -> str:
    lines = [
        "# Proxy benchmark",
        "",
        f"`{meta['command']}` on {meta['machine']} ({meta['cpus']} CPUs), "
        f"{meta['seconds']} s per measurement, wrk -t1 -c{meta['connections']} / -c1.",
        "",
        "| path | req/s | p50 ms (c=1) | p99 ms (c=1) | added p50 ms | added p99 ms "
        "| proxy CPU us/req | sampled | stored |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs.values():

        def f(v: float | None, fmt: str = ".3f") -> str:
            return "" if v is None else format(v, fmt)

        lines.append(
            f"| {run.name} | {run.rps:.0f} | {run.p50_ms:.3f} | {run.p99_ms:.3f} "
            f"| {f(run.added_p50_ms)} | {f(run.added_p99_ms)} "
            f"| {f(run.cpu_us_per_request, '.1f')} "
            f"| {'' if run.sampled is None else run.sampled} "
            f"| {'' if run.stored is None else run.stored} |"
        )
    lines += ["", "| ratio | value | target |", "|---|---:|---:|"]
    goals = {
        "throughput_10pct_vs_nginx": ">= 0.25",
        "throughput_100pct_vs_0pct": ">= 0.9",
        "two_workers_vs_one_10pct": ">= 1.7",
        "two_workers_vs_one_100pct": ">= 1.7",
    }
    for key, value in rat.items():
        lines.append(f"| {key} | {'' if value is None else value} | {goals.get(key, '')} |")
    lines += ["", "Added latency target: p50 <= 0.3 ms, p99 <= 3 ms over the straight path."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-install", action="store_true", help="never run apt-get")
    parser.add_argument("--only-one-worker", action="store_true", help="skip the 2-worker runs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 3.0
    ensure_tools(not args.no_install)
    load_before = os.getloadavg()

    procs = Processes()
    work = Path(tempfile.mkdtemp(prefix="driftscope-bench-"))
    os.chmod(work, 0o755)
    script = work / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{REQUEST}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    runs: dict[str, Run] = {}
    try:
        upstream, _ = start_upstream(procs, work)
        runs["straight"] = measure("straight", upstream, args, script)
        peer, peer_proc = start_peer(procs, work, upstream)
        runs["nginx"] = measure("nginx", peer, args, script)
        procs.stop(peer_proc, signal.SIGQUIT)
        configs = [(0.0, 1), (0.1, 1), (1.0, 1)]
        if not args.only_one_worker:
            configs += [(0.1, 2), (1.0, 2)]
        for rate, workers in configs:
            run = collector_run(procs, work, upstream, rate, workers, args, script)
            runs[run.name] = run
    finally:
        procs.stop_all()
    base = runs["straight"]
    for run in runs.values():
        if run.name != "straight":
            run.added_p50_ms = round(run.p50_ms - base.p50_ms, 4)
            run.added_p99_ms = round(run.p99_ms - base.p99_ms, 4)
    rat = ratios(runs)
    meta: dict[str, object] = {
        "command": "python benchmarks/proxy/run.py" + (" --quick" if args.quick else ""),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "seconds": args.seconds,
        "connections": args.connections,
        "load_before": load_before,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "meta": meta,
        "runs": {k: asdict(v) for k, v in runs.items()},
        "ratios": rat,
        "targets": TARGETS,
        "sampled_equals_stored": all(
            r.sampled == r.stored for r in runs.values() if r.sampled is not None
        ),
    }
    (args.out / "proxy.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    (args.out / "proxy.md").write_text(markdown(runs, rat, meta))
    print(markdown(runs, rat, meta))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
