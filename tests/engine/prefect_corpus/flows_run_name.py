"""``flow_run_name`` and ``task_run_name`` name runs from a template of their parameters,
or from a function.

Prefect 3 docs, how-to write-and-run, "Flow configuration" and "Task configuration".
"""

import datetime

from jupyter_flows import flow, get_run_context, task


@task(name="My Example Task", task_run_name="hello-{name}-on-{date:%A}")
def my_task(name, date):
    return get_run_context().task_run.name


def generate_task_name():
    return "a-lovely-day"


@task(task_run_name=generate_task_name)
def other_task(name):
    return get_run_context().task_run.name


@flow(flow_run_name="report-for-{day}")
def my_flow(day: str):
    thursday = datetime.datetime(2024, 6, 6, tzinfo=datetime.timezone.utc)
    return get_run_context().flow_run.name, my_task("marvin", thursday), other_task("x")


print(my_flow("monday"))

# out: ('report-for-monday', 'hello-marvin-on-Thursday', 'a-lovely-day')
