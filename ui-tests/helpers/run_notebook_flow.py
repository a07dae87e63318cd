"""Run a small notebook as a flow on the kernel engine and report it to the UI tests' server.

Usage: ``python run_notebook_flow.py API_URL``. Prints ``{"flow_run_id", "artifact_id"}``:
the run and its executed-notebook artifact (the blob lands in JUPYTER_FLOWS_STORAGE_URL,
which playwright.config.js gives the server and this process alike).
"""

import json
import os
import sys

os.environ["JUPYTER_FLOWS_API_URL"] = sys.argv[1]

from jupyter_flows.engine.reporter import current_reporter  # noqa: E402
from jupyter_flows.notebooks.engines.run import run_notebook_flow  # noqa: E402

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "id": "params",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": "n = 6",
        },
        {
            "cell_type": "code",
            "id": "answer",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "print('the answer is', n * 7)",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

result = run_notebook_flow(None, NOTEBOOK, engine="kernel", flow_name="ui-report")
result.raise_for_state()
current_reporter().flush()  # the artifact is on the server before we answer
notebooks = [a for a in result.artifacts if a.type == "notebook"]
print(json.dumps({"flow_run_id": result.flow_run_id, "artifact_id": notebooks[0].id}))
