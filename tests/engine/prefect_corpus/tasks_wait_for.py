"""``wait_for`` makes a task wait for another it takes no data from; if that one fails,
the waiting task does not run.

Prefect 3 docs, concepts/tasks, "State dependencies" (explicit dependencies with
``wait_for``).
"""

import time

from jupyter_flows import flow, task

order = []


@task
def setup():
    time.sleep(0.2)
    order.append("setup")


@task
def work():
    order.append("work")
    return "done"


@task
def broken_setup():
    raise RuntimeError("no database")


@flow
def pipeline():
    ready = setup.submit()
    result = work.submit(wait_for=[ready]).result()
    refused = work.submit(wait_for=[broken_setup.submit()])
    refused.wait()
    return result, refused.state.name


print(pipeline(), order)

# out: ('done', 'NotReady') ['setup', 'work']
