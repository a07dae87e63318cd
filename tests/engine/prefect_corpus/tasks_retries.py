"""Task retries: a number, delays per retry (a list, ``exponential_backoff``), jitter, and
``retry_condition_fn`` deciding from the failed state whether to retry.

Prefect 3 docs, how-to retries ("Retry parts of a workflow", "Retry with configurable
delay", "Retry with a custom condition", "Add jitter to retry delays").
"""

from jupyter_flows import flow, task
from jupyter_flows.tasks import exponential_backoff

calls = {"flaky": 0, "listed": 0, "forbidden": 0}


class HTTPStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"status {status}")
        self.status = status


@task(retries=4, retry_delay_seconds=exponential_backoff(backoff_factor=0.01))
def mercurial_task() -> str:
    calls["flaky"] += 1
    if calls["flaky"] < 3:
        raise ConnectionError("try again")
    return "fine"


@task(retries=2, retry_delay_seconds=[0.01, 0.02], retry_jitter_factor=0.5)
def melancholic_task():
    calls["listed"] += 1
    raise Exception("We used to see each other so much more often")


def retry_handler(task, task_run, state) -> bool:
    try:
        state.result()
    except HTTPStatusError as exc:
        return exc.status not in (401, 404)
    return True


@task(retries=3, retry_condition_fn=retry_handler)
def api_call_task():
    calls["forbidden"] += 1
    raise HTTPStatusError(404)


@flow
def my_workflow():
    return (
        mercurial_task(),
        melancholic_task(return_state=True).name,
        api_call_task(return_state=True).name,
    )


print(my_workflow(), calls)
print(exponential_backoff(backoff_factor=2)(4))

# out: ('fine', 'Failed', 'Failed') {'flaky': 3, 'listed': 3, 'forbidden': 1}
# out: [2, 4, 8, 16]
# log: WARNING attempt 1 of 5 failed (ConnectionError: try again)
