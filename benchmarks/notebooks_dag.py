"""DAG inference on a generated 1,000-cell notebook (goal: under 1 s). Not a test.

    python benchmarks/notebooks_dag.py [--cells 1000] [--repeat 3]

The notebook mixes what real ones hold: imports, a parameters cell, loads, parallel
branches of transforms, in-place changes (``x.append``, ``d[k] = …``), read-only calls,
helper functions that read globals, magics and shell lines, and markdown headings. Each
repeat uses fresh cell sources, so the analysis cache never answers for it.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

from jupyter_flows.notebooks import inspect_notebook
from jupyter_flows.notebooks.defuse import _analyze_cached

_ids = itertools.count()


def generate(cells: int, seed: int, salt: str = "") -> dict:
    """An nbformat-4 notebook of ``cells`` cells (about one in five markdown)."""
    rng = random.Random(seed)
    made: list[dict] = [
        _code("import json\nimport math\nimport statistics\nfrom collections import Counter"),
        _code("n = 100  # rows\nscale: float = 1.5\nlabel = 'run'", tags=["parameters"]),
    ]
    names: list[str] = ["n"]
    while len(made) < cells:
        i = len(made)
        choice = rng.random()
        if choice < 0.2:
            made.append(_markdown(f"## Step {i}\n\nWhat this part does."))
            continue
        source_name = rng.choice(names[-30:])
        if choice < 0.35:
            body = f"data_{i} = [x * scale for x in range(n + {i})]"
            names.append(f"data_{i}")
        elif choice < 0.5:
            values = f"{source_name} if isinstance({source_name}, list) else [1]"
            body = f"stats_{i} = {{'mean': statistics.mean({values}), 'i': {i}}}"
            names.append(f"stats_{i}")
        elif choice < 0.6:
            body = (
                f"def helper_{i}(v):\n    return v * scale + {i}\n\n"
                f"values_{i} = [helper_{i}(v) for v in range(10)]"
            )
            names.append(f"values_{i}")
        elif choice < 0.7:
            body = f"{source_name}.append({i}) if isinstance({source_name}, list) else None"
        elif choice < 0.78:
            body = f"%time total_{i} = sum(range({i}))\n!echo {{label}} {i}"
            names.append(f"total_{i}")
        elif choice < 0.86:
            body = f"counts_{i} = Counter(str({source_name}))\ncounts_{i}['extra'] += 1"
            names.append(f"counts_{i}")
        elif choice < 0.93:
            body = f"print(len({source_name}), json.dumps(str({source_name})[:20]))"
        else:
            body = f"merged_{i} = [{source_name}, {rng.choice(names[-30:])}]"
            names.append(f"merged_{i}")
        made.append(_code(f"# {salt} cell {i}\n{body}"))
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": made}


def _code(source: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "id": f"c{next(_ids)}",
        "metadata": {"tags": tags or []},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def _markdown(source: str) -> dict:
    return {
        "cell_type": "markdown",
        "id": f"m{next(_ids)}",
        "metadata": {},
        "source": source,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    warm_up = generate(20, seed=0, salt="warm-up")
    warm_up["cells"].append(_code("%time x = 1"))
    inspect_notebook(warm_up)  # imports pydantic, jsonschema and IPython's transformer
    print(f"first call (imports included), 20 cells: {time.perf_counter() - start:.3f} s")
    times = []
    for run in range(args.repeat):
        notebook = generate(args.cells, seed=run, salt=f"run {run}")
        _analyze_cached.cache_clear()
        start = time.perf_counter()
        spec = inspect_notebook(notebook)
        times.append(time.perf_counter() - start)
    print(
        f"{args.cells} cells → {len(spec.tasks)} tasks, {len(spec.edges)} edges, "
        f"{len(spec.warnings)} warnings"
    )
    print(
        f"DAG inference: best {min(times):.3f} s, worst {max(times):.3f} s over {args.repeat} runs"
    )
    print("goal: under 1 s —", "met" if max(times) < 1.0 else "NOT met")


if __name__ == "__main__":
    main()
