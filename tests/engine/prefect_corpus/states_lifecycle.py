"""A task run goes Pending, Running, Completed; with a retry, Running again after the
failed attempt; a cached one goes from Pending to Completed (Cached).

Prefect 3 docs, concepts/tasks, "The life of a task run"; concepts/states, "State
transitions".
"""

from jupyter_flows import flow, task
from jupyter_flows.engine.reporter import MemoryReporter, use_reporter

attempts = []


@task(retries=1)
def once_flaky():
    attempts.append(1)
    if len(attempts) == 1:
        raise ConnectionError("first attempt fails")
    return "ok"


@task(persist_result=True)
def cached(x: int):
    return x


@flow
def lifecycle():
    once_flaky()
    cached(1)
    cached(1)


with use_reporter(MemoryReporter()) as reporter:
    lifecycle()

for run in reporter.task_runs:
    print(run.name, reporter.states_of(run.id))
print(reporter.states_of(reporter.flow_runs[0].id))

# differs: the states are read from a MemoryReporter, this project's window on them (Prefect
# differs: shows them in its UI); a retry's waiting state is named Retrying here.
# out: once_flaky-0 ['Pending', 'Running', 'Retrying', 'Running', 'Completed']
# out: cached-0 ['Pending', 'Running', 'Completed']
# out: cached-1 ['Pending', 'Cached']
# out: ['Pending', 'Running', 'Completed']
