"""Calling a task runs it at once, blocking, and returns its result; it needs no flow.
With ``log_prints=True`` its prints are log lines.

Prefect 3 docs, concepts/tasks (the opening example, and "Calling a task directly").
"""

from jupyter_flows import task


@task
def add_integers(a: int, b: int) -> int:
    return a + b


@task(log_prints=True)
def explain_tasks():
    print("run any python code here!")


print(add_integers(1, 2))
explain_tasks()

# out: 3
# log: INFO run any python code here!
