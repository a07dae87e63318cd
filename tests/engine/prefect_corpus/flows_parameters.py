"""Flow parameters are validated and converted with their type hints before the run.

Prefect 3 docs, concepts/flows, "Specify flow parameters": type hints convert inputs
(pydantic models included); a run given invalid parameters goes from Pending to Failed
without ever Running.
"""

import pydantic

from jupyter_flows import flow
from jupyter_flows.exceptions import ParameterTypeError


class Model(pydantic.BaseModel):
    a: int
    b: float


@flow
def typed(x: int, model: Model) -> str:
    return f"{x!r} {model!r}"


print(typed("5", {"a": "1", "b": 2}))

try:
    typed("five", {"a": 1, "b": 2})
except ParameterTypeError as error:
    state = error.flow_run_state
    print(type(error).__name__, state.name)

# out: 5 Model(a=1, b=2.0)
# out: ParameterTypeError Failed
# log: ERROR parameter 'x' expects int
