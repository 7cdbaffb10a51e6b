"""The explorer's live path: how long one slider move takes on the server, and how many it serves at once.

    python bench/explore.py [--reps hog,alexnet64:conv3,alexnet64:fc7] [--requests 200] [--clients 8]
                            [--seconds 10] [-o out/bench_explore.json]

Starts ``preimage explore`` as a subprocess on a free port of 127.0.0.1 (so the clients' threads here do not
share its interpreter), then for each representation:

- **one client**: ``--requests`` live views of one sample photo, the dropout slider stepping through
  0.05 .. 0.95 (the code is cached, as when a slider moves; each request decodes and PNG-encodes anew). The
  server reports its own time per request: ``decode_png_ms`` (decoder forward pass + PNG encoding, what the
  issue bounds at 30 ms median), ``server_ms`` (all of the view: code edit, decode, PNG, distance) and the
  client's round trip.
- **8 clients**: ``--clients`` threads, each with its own keep-alive connection, for ``--seconds``: requests
  per second and the round trip's percentiles.
- **beside a job**: the one-client measurement again while a texture job optimises in the background queue.

The JSON says whether the machine was quiet (1-minute load average below a quarter of its cores before and
after); on a busy machine the numbers are upper bounds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """One keep-alive HTTP connection to the explorer."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def view(self, **params: Any) -> dict[str, Any]:
        status, info = self.request("GET", "/api/render?" + urlencode(params))
        if status != 200:
            raise RuntimeError(f"render {params} -> {status}: {info}")
        return dict(info)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
        "min": round(ordered[0], 2),
        "n": len(ordered),
    }


def slider_values(n: int) -> list[float]:
    steps = [round(0.05 * k, 2) for k in range(1, 20)]
    return [steps[i % len(steps)] for i in range(n)]


def one_client(port: int, rep: str, n: int) -> dict[str, Any]:
    client = Client(port)
    client.view(image="sample:chelsea", rep=rep)  # warm: load the decoder, encode and cache the code
    decode_png, server, round_trip = [], [], []
    for p in slider_values(n):
        start = time.perf_counter()
        info = client.view(image="sample:chelsea", rep=rep, dropout=p)
        round_trip.append((time.perf_counter() - start) * 1e3)
        decode_png.append(info["ms"]["decode"] + info["ms"]["png"])
        server.append(info["ms"]["total"])
    return {
        "decode_png_ms": percentiles(decode_png),
        "server_ms": percentiles(server),
        "round_trip_ms": percentiles(round_trip),
    }


def many_clients(port: int, rep: str, clients: int, seconds: float) -> dict[str, Any]:
    Client(port).view(image="sample:chelsea", rep=rep)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    server: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    stop = threading.Event()

    def run(i: int) -> None:
        client = Client(port)
        values = slider_values(1000)[i:]
        barrier.wait()
        k = 0
        while not stop.is_set():
            start = time.perf_counter()
            info = client.view(image="sample:chelsea", rep=rep, dropout=values[k % len(values)])
            latencies[i].append((time.perf_counter() - start) * 1e3)
            server[i].append(info["ms"]["decode"] + info["ms"]["png"])
            k += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(flat),
        "requests_per_s": round(len(flat) / elapsed, 1),
        "round_trip_ms": percentiles(flat),
        "decode_png_ms": percentiles([x for s in server for x in s]),
    }


def beside_a_job(port: int, rep: str, n: int) -> dict[str, Any]:
    client = Client(port)
    texture = {"kind": "texture", "image": "sample:chelsea", "layer": "alexnet64:conv3", "channel": 5, "steps": 1000}
    status, job = client.request("POST", "/api/jobs", texture)
    if status != 202:
        raise RuntimeError(f"texture job refused: {job}")
    while client.request("GET", "/api/jobs")[1]["jobs"][-1]["status"] == "queued":
        time.sleep(0.05)
    result = one_client(port, rep, n)
    jobs = {j["id"]: j for j in client.request("GET", "/api/jobs")[1]["jobs"]}
    result["job_status_after"] = jobs[job["id"]]["status"]
    result["job_steps_meanwhile"] = jobs[job["id"]]["step"]
    client.request("DELETE", f"/api/jobs/{job['id']}")
    return result


def load() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", default="hog,alexnet64:conv3,alexnet64:fc7")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("-o", "--output", default=None)
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    load_before = load()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "preimage.cli", "explore", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if Client(port).request("GET", "/api/meta")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the explorer did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
        results: dict[str, Any] = {}
        for rep in args.reps.split(","):
            results[rep] = {
                "one_client": one_client(port, rep, args.requests),
                f"{args.clients}_clients": many_clients(port, rep, args.clients, args.seconds),
            }
            print(f"{rep}: {json.dumps(results[rep])}", file=sys.stderr)
        first = args.reps.split(",")[0]
        results[first]["one_client_beside_a_texture_job"] = beside_a_job(port, first, args.requests)
    finally:
        server.terminate()
        server.wait(10)
    load_after = load()
    import torch

    report = {
        "bench": "explore",
        "image_size": 64,
        "what": "server-side time of one live view (decoder forward + PNG encode), slider moving, code cached",
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_1min_before": load_before,
        "load_1min_after": load_after,
        "quiet": load_before < cores / 4 and load_after < cores / 4,
        "results": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
