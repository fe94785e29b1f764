"""The sentences a report computes: where the time between Locust's view and the service's
handler goes, and how busy the machine was with other work."""

from __future__ import annotations

from typing import Any

BUSY_OTHERS = 0.05  # other processes above this share of the CPUs: say so


def machine_note(machine: dict[str, Any]) -> str:
    note = (
        f"{machine['cores']} cores ({machine['cpu']}), Python {machine['python']}, Linux "
        f"{machine['kernel']}. During the run its own processes (Locust, and the server and "
        f"emulator when started here) used {machine['run_cpu_share']:.0%} of the CPUs and "
        f"other processes {machine['others_cpu_share']:.0%} (load average "
        f"{machine['load_before'][0]:.2f} before, {machine['load_after'][0]:.2f} after)"
    )
    if machine["others_cpu_share"] > BUSY_OTHERS:
        note += (
            "; **other processes shared the CPU during this run**: on an idle machine the "
            "figures would be higher"
        )
    return note + "."


def counts_text(locust: int, server: int) -> str:
    if locust == server:
        return f"Both count {locust:,} requests."
    if server > locust:
        return (
            f"The service counted {server - locust:,} more than Locust ({server:,} against "
            f"{locust:,}): requests in flight when Locust stopped its users reach the handler "
            "but are never recorded by Locust, and any other client of the service adds to them."
        )
    return (
        f"Locust counted {locust - server:,} more than the service ({locust:,} against "
        f"{server:,}): requests that failed before reaching the handler (connection errors, "
        "timeouts, a front end's answer) exist only on Locust's side."
    )


def queueing_text(rps: float, busy: float, in_flight: float, workers: int) -> str:
    """``busy``: the server's CPU seconds per second (or, unknown, req/s x handler mean)."""
    text = (
        f"- **Queueing.** A worker process runs one request at a time on its event loop. At "
        f"{rps:,.0f} req/s the server was busy {busy:.2f} CPU-seconds per second "
        f"({workers} worker(s) here), while {in_flight:.1f} requests were in flight on "
        "average (req/s x Locust mean, Little's law): those not being worked on waited in "
        "the socket backlog or in uvicorn for the event loop"
    )
    if busy < 0.5 * workers:
        return text + (
            ", but the handlers were idle most of the time, so waiting for another handler "
            "explains little here; the rest of the list does."
        )
    return text + ", which is where most of the gap goes under this load."


def outside_text(cpu: float | None, handler: dict[str, Any]) -> str:
    text = (
        "- **The server outside the handler.** Reading and parsing HTTP, routing, the "
        "middlewares and writing the answer (uvicorn, Starlette, functions-framework) are "
        "not in the histogram"
    )
    if not cpu or not handler["requests"]:
        return text + "."
    per_request = cpu * 1000 / handler["requests"]
    return text + (
        f": the server's processes used {per_request:.3f} ms of CPU per request "
        f"(`process_cpu_seconds_total`), {per_request - handler['mean']:.3f} ms of it "
        "outside the handler, which also bounds what one worker can answer: "
        f"{1000 / per_request:,.0f} req/s per core."
    )


def crosscheck_text(summary: dict[str, Any]) -> str:
    """Why Locust's latencies are above the handler's, with this run's numbers."""
    both = summary["crosscheck"][-1]
    client, handler = both["locust"], both["server"]
    if not client["mean"] or handler["mean"] is None:
        return counts_text(client["requests"], handler["requests"])
    gap = client["mean"] - handler["mean"]
    rps = summary["rps"] or 0.0
    cpu, seconds = summary.get("server_cpu_seconds"), summary.get("seconds")
    busy = cpu / seconds if cpu and seconds else rps * handler["mean"] / 1000
    in_flight = rps * client["mean"] / 1000
    workers = summary.get("server_workers") or 1
    lines = [
        f"Locust saw a mean of {client['mean']:.2f} ms per request, the handler "
        f"{handler['mean']:.3f} ms: {gap:.2f} ms ({gap / client['mean']:.0%}) of what a "
        "client waits passes outside the handler's clock. Where it goes:",
        "",
        queueing_text(rps, busy, in_flight, workers),
        outside_text(summary.get("server_cpu_seconds"), handler),
        "- **The network and the load generator.** Loopback here (the Internet and Google's "
        "front end for Cloud Run); and Locust's own process: when it is short of CPU, an "
        "answer waits for its event loop before Locust stops the clock.",
        "- **Resolution.** Locust rounds to whole milliseconds (10 ms above 100 ms); the "
        "histogram's buckets run from 50 µs to 10 s and a quantile is interpolated inside "
        "its bucket, so the handler's p95/p99 are estimates within their bucket's bounds.",
        "",
        counts_text(int(client["requests"]), int(handler["requests"])),
    ]
    return "\n".join(lines)


def server_ms_per_request(summary: dict[str, Any]) -> float | None:
    """The server's CPU milliseconds per request it answered during the run."""
    cpu = summary.get("server_cpu_seconds")
    answered = summary["crosscheck"][-1]["server"]["requests"] if summary["crosscheck"] else 0
    return cpu * 1000 / answered if cpu and answered else None


def comparison_text(main: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """How the compared runs (e.g. more Locust processes) did against the main run."""
    lines = []
    base = main["capacity"]
    for run in others:
        cap = run["capacity"]
        if not (cap["rps"] and base["rps"]):
            continue
        gain = cap["rps"] / base["rps"] - 1
        lines.append(
            f"With {run['mode']}, capacity was {cap['users']} users at {cap['rps']:,.0f} req/s "
            f"(peak {cap['peak_rps']:,.0f}), against {base['users']} users at "
            f"{base['rps']:,.0f} req/s (peak {base['peak_rps']:,.0f}) with {main['mode']}: "
            f"{gain:+.0%}."
        )
        if abs(gain) < 0.15:
            lines.append(
                "More Locust processes did not buy more throughput: here the load generator "
                "and the server share the same 2 cores (with whatever else runs), so a second "
                "Locust process takes CPU from the server instead of adding load."
            )
    ms = server_ms_per_request(main)
    if ms:
        workers = main.get("server_workers") or 1
        lines.append(
            f"The service spent {ms:.3f} ms of CPU per request, so one core serves at most "
            f"~{1000 / ms:,.0f} req/s of this mix: the ceiling of the local server "
            f"(WORKERS={workers}) whatever drives it. On Cloud Run, or with the load generator "
            "on other machines, that ceiling is per instance and per vCPU."
        )
    return " ".join(lines)
