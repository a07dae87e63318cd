"""A task given another task's future waits for it and receives its result.

Prefect 3 docs, how-to run-work-concurrently, "Passing futures between tasks"; concepts
/tasks, "State dependencies".
"""

from jupyter_flows import flow, task


@task
def cool_task():
    return "sup"


@task
def what_did_cool_task_say(what_it_said: str):
    return f"cool task said {what_it_said}"


@flow
def my_workflow():
    future = cool_task.submit()
    print(what_did_cool_task_say(future))


my_workflow()

# out: cool task said sup
