"""A state has a type and a name; some names are flavours of a type (Cached is a
COMPLETED, Late a SCHEDULED, TimedOut a failure). Final states are terminal.

Prefect 3 docs, concepts/states, "State types" (the table).
"""

from jupyter_flows.states import (
    Cached,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Late,
    Pending,
    Running,
    Scheduled,
    TimedOut,
)

for make in (Scheduled, Late, Pending, Running, Completed, Cached, Failed, Cancelled, Crashed):
    state = make()
    print(state.name, state.type.value, state.is_final())

timed_out = TimedOut()
print(timed_out.name, timed_out.is_failed(), timed_out.is_final())

# differs: Prefect gives TimedOut the type FAILED; here it keeps a type of its own,
# differs: TIMED_OUT, which the server and UI group by, and is_failed() is True for it.
# differs: Prefect's Retrying (a RUNNING retry attempt) is here a RETRYING state between
# differs: attempts, which goes back to Running.
# out: Scheduled SCHEDULED False
# out: Late SCHEDULED False
# out: Pending PENDING False
# out: Running RUNNING False
# out: Completed COMPLETED True
# out: Cached COMPLETED True
# out: Failed FAILED True
# out: Cancelled CANCELLED True
# out: Crashed CRASHED True
# out: TimedOut True True
