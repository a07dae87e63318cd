"""A flow can end in a custom named state, such as a Completed state named Skipped.

Prefect 3 docs, concepts/flows, "Custom named states".
"""

from jupyter_flows import flow
from jupyter_flows.states import Completed


@flow
def my_flow(work_to_do: bool):
    if not work_to_do:
        return Completed(message="No work to do", name="Skipped")
    return Completed(message="Work was done")


for work in (False, True):
    state = my_flow(work_to_do=work, return_state=True)
    print(state.name, state.type.value, state.message)

# out: Skipped COMPLETED No work to do
# out: Completed COMPLETED Work was done
# log: INFO Finished in state Skipped: No work to do
