"""``timeout_seconds`` stops a flow that runs too long; the run ends TimedOut, a Failed
kind of state, and the caller gets a ``TimeoutError``.

Prefect 3 docs, how-to write-and-run, "Cancel a workflow if it runs for too long";
concepts/states, the state table (TimedOut is of type FAILED).
"""

import time

from jupyter_flows import flow
from jupyter_flows.exceptions import FlowRunTimeoutError


@flow(timeout_seconds=0.5, log_prints=True)
def show_timeouts():
    print("I will execute")
    time.sleep(2)
    print("I will not execute")


try:
    show_timeouts()
except FlowRunTimeoutError as error:
    state = error.flow_run_state
    print(isinstance(error, TimeoutError), state.name, state.is_failed())

# out: True TimedOut True
# log: INFO I will execute
# no log: I will not execute
