"""An example flow: run it with `python etl_flow.py`, or import it in a notebook."""

from __future__ import annotations

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.tasks import exponential_backoff


@task(retries=2, retry_delay_seconds=exponential_backoff(0.5))
def extract(n: int) -> list[dict[str, float]]:
    return [{"id": i, "value": i * 1.5} for i in range(n)]


@task
def transform(row: dict[str, float]) -> dict[str, float]:
    return {**row, "value": row["value"] ** 2}


@task
def load(rows: list[dict[str, float]]) -> float:
    total = sum(row["value"] for row in rows)
    get_run_logger().info("loaded %d rows, total %.1f", len(rows), total)
    return total


@flow(log_prints=True)
def etl(n: int = 10) -> float:
    rows = extract(n)
    transformed = transform.map(rows)
    total = load(transformed.result())
    print(f"done: {total:.1f}")
    return total


if __name__ == "__main__":
    etl()
