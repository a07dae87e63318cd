"""``log_prints`` on a flow is inherited by its tasks; a task opts out with
``log_prints=False``, and its prints print.

Prefect 3 docs, how-to add-logging, "Log with print statements".
"""

from jupyter_flows import flow, task


@task
def inherits():
    print("we're logging print statements from a task")


@task(log_prints=False)
def opts_out():
    print("not logging print statements in this task")


@flow(log_prints=True)
def my_flow():
    print("we're logging print statements from a flow")
    inherits()
    opts_out()


my_flow()

# out: not logging print statements in this task
# log: INFO we're logging print statements from a flow
# log: INFO we're logging print statements from a task
# no log: not logging print statements
