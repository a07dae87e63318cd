"""Notifications: latency from a run's state change to delivery, and the outbox's cost on
state updates (not a test; not part of `make bench`).

    python benchmarks/notifications.py            # 40 failing runs, 2,000 runs' states
    python benchmarks/notifications.py --quick    # 10 and 300

1. Latency: a team server (``jupyter_flows.server.standalone``, default settings: the
   delivery service looks at the outbox every 0.5 s) on a SQLite file, an SMTP server
   (aiosmtpd) and an HTTP webhook on loopback, one policy sending each Failed run to both.
   For each run: Pending, Running, then the clock starts just before ``POST …/state
   FAILED`` and stops when the message arrives at each receiver. p50 / p95 / max.
2. The outbox's cost: flow runs taken through Pending → Running → Completed by the one
   state-change path (``run_states.apply_states``, in process, on SQLite), with the outbox
   event written (as shipped) and with its write turned off; the median of 3 alternating
   rounds of each. Only Completed (and Failed, Crashed, TimedOut, Late) write an event.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from jupyter_flows.client import FlowsClient  # noqa: E402
from tests.flows_server import FlowsServer  # noqa: E402
from tests.receivers import smtp_server, webhook_server  # noqa: E402

CONTENT = {
    "tasks": [{"key": "main", "code_hash": "h"}],
    "edges": [],
    "parameter_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency(runs: int) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    server = FlowsServer(folder)
    server.start()
    try:
        with smtp_server() as mail, webhook_server() as hook:
            api = FlowsClient(server.url, server.api_key)
            flow = api.register_flow("bench-notify", CONTENT)
            deployment = api.create_deployment(flow.version.flow_id, "daily")
            api.create_notification_destination("mail", mail.url)
            api.create_notification_destination("hook", hook.url)
            api.create_notification_policy(
                name="failures",
                deployment_id=deployment.id,
                events=["Failed"],
                destinations=["mail", "hook"],
            )
            api.test_notification_destination("mail")  # the first SMTP send resolves names
            mail.received.clear()
            hook.received.clear()
            out: dict[str, list[float]] = {"email": [], "webhook": []}
            for i in range(runs):
                run = api.run_deployment(deployment.id, {"n": i})
                api.set_flow_run_state(run.id, "PENDING")
                api.set_flow_run_state(run.id, "RUNNING")
                started = time.time()
                api.set_flow_run_state(run.id, "FAILED", message="bench")
                mail.wait(i + 1)
                hook.wait(i + 1)
                out["email"].append(mail.received[i][0] - started)
                out["webhook"].append(hook.received[i][0] - started)
            return out
    finally:
        server.stop()


def _state_round(runs: int, with_outbox: bool) -> float:
    """State updates per second through apply_states, for ``runs`` runs × 3 states."""
    from jupyter_flows.engine.states import State, StateType
    from jupyter_flows.server.service import run_states
    from jupyter_flows.store import Database, flows
    from jupyter_flows.store import runs as store_runs

    folder = Path(tempfile.mkdtemp(prefix="bench-outbox-"))
    db = Database(f"sqlite:///{folder / 'flows.db'}")
    with db.transaction() as s:
        group = flows.get_or_create_flow_group(s, "default", "etl")
        made = [
            store_runs.create_flow_run(s, flow_group_id=group.id, state=StateType.SCHEDULED).id
            for _ in range(runs)
        ]
    patch: Any = (
        mock.patch.object(run_states, "_enqueue_events", lambda *a: None)
        if not with_outbox
        else mock.MagicMock()
    )
    with patch:
        started = time.perf_counter()
        for run_id in made:
            for state in (StateType.PENDING, StateType.RUNNING, StateType.COMPLETED):
                with db.transaction() as s:  # one request: one transaction per change
                    run = run_states.load_for_update(s, "flow_run", run_id)
                    run_states.apply_state(s, "flow_run", run, State(state))
        elapsed = time.perf_counter() - started
    db.dispose()
    return runs * 3 / elapsed


def outbox_cost(runs: int) -> tuple[float, float]:
    with_outbox, without = [], []
    for _ in range(3):
        without.append(_state_round(runs, False))
        with_outbox.append(_state_round(runs, True))
    return statistics.median(with_outbox), statistics.median(without)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs, state_runs = (10, 300) if args.quick else (40, 2000)
    measured = latency(runs)
    print(f"Latency, state change → delivery ({runs} failing runs, SQLite team server):")
    print("| receiver | p50 | p95 | max |")
    print("|---|---|---|---|")
    for receiver, values in measured.items():
        p50, p95 = _percentile(values, 0.5), _percentile(values, 0.95)
        print(f"| {receiver} | {p50:.3f} s | {p95:.3f} s | {max(values):.3f} s |")
    with_outbox, without = outbox_cost(state_runs)
    cost = (without - with_outbox) / without * 100
    print(f"\nState updates per second ({state_runs} runs × 3 states, in process, SQLite):")
    print("| outbox | updates/s |")
    print("|---|---|")
    print(f"| off | {without:,.0f} |")
    print(f"| on | {with_outbox:,.0f} |")
    print(f"\nThe outbox's cost: {cost:.1f}% (goal < 5%)")


if __name__ == "__main__":
    main()
