"""One test per pattern the DAG follows across cells: aliases, functions that change their
parameters, seeded generators, files, magics, evaluated strings; and the edge kinds."""

from __future__ import annotations

import pytest

from jupyter_flows.notebooks import FlowSpec, analyze, inspect_notebook
from tests.notebooks.test_dag import nb

Dependency = tuple[int, int, str]


def data(spec: FlowSpec) -> set[Dependency]:
    """(source cell, target cell, name or state) of every data edge."""
    index = {t.key: t.cell_indices[0] for t in spec.tasks}
    return {
        (index[e.source], index[e.target], name)
        for e in spec.edges
        if e.kind == "data"
        for name in [*e.names, *e.state]
    }


def order(spec: FlowSpec) -> set[tuple[int, int]]:
    index = {t.key: t.cell_indices[0] for t in spec.tasks}
    return {(index[e.source], index[e.target]) for e in spec.edges if e.kind == "order"}


CASES: list[tuple[str, tuple[str, ...], set[Dependency], set[Dependency]]] = [
    # (id, cells, dependencies that must be there, dependencies that must not)
    # ---------------------------------------------------------------- aliases
    (
        "loop-over-a-list-literal-changes-both",
        ("a = load()\nb = load()", "for d in [a, b]:\n    d['x'] = 1", "a.x", "b.x"),
        {(1, 2, "a"), (1, 3, "b")},
        {(0, 2, "a"), (0, 3, "b")},
    ),
    (
        "list-built-in-one-cell-iterated-in-another",
        ("a = load()\nb = load()", "frames = [a, b]", "for f in frames:\n    f.x = 1", "b.x"),
        {(1, 2, "frames"), (0, 2, "a"), (0, 2, "b"), (2, 3, "b")},
        {(0, 3, "b")},
    ),
    (
        "a-rebound-name-is-no-longer-in-the-list",
        ("a = load()", "frames = [a]", "a = other()", "for f in frames:\n    f.x = 1", "a.x"),
        {(2, 4, "a")},
        {(3, 4, "a")},
    ),
    (
        "reading-the-list-sees-a-change-made-to-its-member",
        ("a = load()", "frames = [a]", "a['x'] = 1", "n = len(frames)"),
        {(1, 3, "frames"), (2, 3, "a")},
        set(),
    ),
    (
        "dict-values-and-items",
        (
            "a = load()",
            "d = {'a': a}",
            "for k, v in d.items():\n    v.fillna(0, inplace=True)",
            "a",
        ),
        {(2, 3, "a")},
        set(),
    ),
    (
        "a-view-changes-its-array",
        ("import numpy as np\ng = np.zeros(3)", "row = g[0:2]\nrow[:] = 1", "g.sum()"),
        {(1, 2, "g")},
        set(),
    ),
    (
        "an-optimizer-holds-the-model",
        ("m = Net()", "opt = SGD(m.parameters())", "opt.step()", "m"),
        {(2, 3, "m")},
        set(),
    ),
    # ---------------------------------------------------------------- functions
    (
        "a-function-that-changes-its-parameter",
        ("def add(df):\n    df['y'] = 1", "t = load()", "add(t)", "t.y"),
        {(2, 3, "t"), (1, 2, "t"), (0, 2, "add")},
        {(1, 3, "t")},
    ),
    (
        "through-a-loop-variable",
        (
            "def add(df):\n    df['y'] = 1",
            "a = load()",
            "fs = [a]",
            "for f in fs:\n    add(f)",
            "a",
        ),
        {(3, 4, "a")},
        set(),
    ),
    (
        "a-function-that-only-reads-its-parameter",
        ("def show(df):\n    print(df.head())", "t = load()", "show(t)", "t"),
        {(1, 3, "t")},
        {(2, 3, "t")},
    ),
    (
        "model-train-and-eval",
        ("m = Net()", "m.eval()", "m"),
        {(1, 2, "m")},
        set(),
    ),
    # ---------------------------------------------------------------- random state
    (
        "a-seeded-generator-drawn-from",
        (
            "import numpy as np",
            "rng = np.random.default_rng(0)",
            "a = rng.normal()",
            "b = rng.normal()",
        ),
        {(2, 3, "rng")},
        {(1, 3, "rng")},
    ),
    (
        "an-unseeded-generator-is-no-chain",
        (
            "import numpy as np",
            "rng = np.random.default_rng()",
            "a = rng.normal()",
            "b = rng.normal()",
        ),
        {(1, 3, "rng")},
        {(2, 3, "rng")},
    ),
    (
        "a-generator-given-to-a-library-or-a-function",
        (
            "r = RandomState(1)",
            "split(x, random_state=r)",
            "def f(g):\n    return g.uniform()",
            "f(r)",
            "r",
        ),
        {(1, 3, "r"), (3, 4, "r")},
        set(),
    ),
    (
        "global-state-after-a-seed",
        ("import numpy as np", "np.random.seed(1)", "a = np.random.rand()", "b = np.random.rand()"),
        {(1, 2, "random:numpy"), (2, 3, "random:numpy")},
        set(),
    ),
    (
        "global-state-without-a-seed-is-no-chain",
        ("import random", "a = random.random()", "b = random.random()"),
        set(),
        {(1, 2, "random:random")},
    ),
    (
        "torch-layers-draw-from-the-seeded-generator",
        ("import torch\nimport torch.nn as nn", "torch.manual_seed(0)", "m = nn.Linear(2, 1)"),
        {(1, 2, "random:torch")},
        set(),
    ),
    # ---------------------------------------------------------------- evaluated strings
    (
        "query-reads-at-names",
        ("df = load()", "limit = 3", "df.query('a > @limit and b < c')"),
        {(1, 2, "limit"), (0, 2, "df")},
        set(),
    ),
    (
        "pd-eval-reads-every-name",
        ("import pandas as pd", "a = 1\nb = 2", "pd.eval('a + b')"),
        {(1, 2, "a"), (1, 2, "b")},
        set(),
    ),
    (
        "df-eval-with-inplace",
        ("df = load()", "k = 2", "df.eval('c = a * @k', inplace=True)", "df.c"),
        {(1, 2, "k"), (2, 3, "df")},
        set(),
    ),
    (
        "sql-names-frames-in-scope",
        ("import duckdb", "sales = load()", "duckdb.sql('SELECT * FROM sales JOIN regions')"),
        {(1, 2, "sales")},
        set(),
    ),
    # ---------------------------------------------------------------- magics
    (
        "lprun-reads-its-function-and-the-extension",
        ("%load_ext line_profiler", "def f(x):\n    return x", "%lprun -f f f(1)"),
        {(0, 2, "magic:lprun"), (1, 2, "f")},
        set(),
    ),
    (
        "memit-runs-its-statement",
        ("%load_ext memory_profiler", "data = list(range(9))", "%memit total = sum(data)", "total"),
        {(0, 2, "magic:memit"), (1, 2, "data"), (2, 3, "total")},
        set(),
    ),
    (
        "an-unknown-extension-provides-unknown-magics",
        ("%load_ext fancy_ext", "%fancy now"),
        {(0, 1, "magic:*")},
        set(),
    ),
    (
        "writefile-then-import",
        ("%%file mod.py\nX = 1", "import mod", "mod.X"),
        {(0, 1, "file:mod.py"), (1, 2, "mod")},
        set(),
    ),
    (
        "a-script-written-then-run-writes-its-files",
        (
            "%%writefile job.py\nopen('out.txt', 'w').write('x')",
            "!python job.py",
            "print(open('out.txt').read())",
        ),
        {(0, 1, "file:job.py"), (1, 2, "file:out.txt")},
        set(),
    ),
    (
        "store-and-restore",
        ("x = 1", "%store x", "%store -r x", "y = x"),
        {(0, 1, "x"), (1, 2, "store:x"), (2, 3, "x")},
        set(),
    ),
    (
        "run-reads-the-script-it-runs",
        ("%%writefile setup.py\nA = 1", "%run setup.py", "print(A)"),
        {(0, 1, "file:setup.py"), (1, 2, "A")},
        set(),
    ),
    (
        "shell-expands-names-and-reads-files",
        ("n = 3", "df.to_csv('d.csv')", "!head -n $n d.csv"),
        {(0, 2, "n"), (1, 2, "file:d.csv")},
        set(),
    ),
    (
        "pip-install-then-import",
        ("%pip install -q tabulate", "from tabulate import tabulate"),
        {(0, 1, "module:tabulate")},
        set(),
    ),
    (
        "environment-set-then-read",
        ("import os", "%env MODE=fast", "mode = os.environ['MODE']", "!echo $MODE"),
        {(1, 2, "env:MODE"), (1, 3, "env:MODE")},
        set(),
    ),
    # ---------------------------------------------------------------- files
    (
        "a-file-written-then-read",
        (
            "import pandas as pd",
            "df = pd.DataFrame()\ndf.to_csv('out/a.csv')",
            "pd.read_csv('out/a.csv')",
        ),
        {(1, 2, "file:out/a.csv")},
        set(),
    ),
    (
        "a-folder-made-then-written-into-then-listed",
        (
            "!mkdir -p out",
            "open('out/a.txt', 'w').write('a')",
            "import os\nos.listdir('out/')",
        ),
        {(0, 1, "file:out"), (0, 2, "file:out"), (1, 2, "file:out/a.txt")},
        set(),
    ),
    (
        "an-archive-unpacked-into-a-folder-then-read",
        ("!unzip -o data.zip -d data", "import pandas as pd\npd.read_csv('data/train.csv')"),
        {(0, 1, "file:data")},
        set(),
    ),
    (
        "appending-to-a-file",
        (
            "open('log.txt', 'w').write('a')",
            "open('log.txt', 'a').write('b')",
            "open('log.txt').read()",
        ),
        {(0, 1, "file:log.txt"), (1, 2, "file:log.txt")},
        {(0, 2, "file:log.txt")},
    ),
    (
        "np-save-and-load",
        ("import numpy as np", "np.save('a.npy', np.ones(3))", "np.load('a.npy')"),
        {(1, 2, "file:a.npy")},
        set(),
    ),
    (
        "joblib-dump-and-load",
        ("import joblib", "joblib.dump(model, 'm.joblib')", "joblib.load('m.joblib')"),
        {(1, 2, "file:m.joblib")},
        set(),
    ),
    (
        "a-computed-path-is-not-followed",
        ("name = 'a.csv'", "df.to_csv(name)", "pd.read_csv('a.csv')"),
        set(),
        {(1, 2, "file:a.csv")},
    ),
    # ---------------------------------------------------------------- precision
    (
        "a-module-function-named-like-a-changing-method",
        ("import numpy as np", "x = np.sort([3, 1])", "y = np.append([1], 2)", "z = np.ones(2)"),
        {(0, 3, "np")},
        {(1, 3, "np"), (2, 3, "np")},
    ),
    (
        "out-changes-the-array-it-names",
        ("import numpy as np\na = np.ones(3)", "np.clip(a, 0, 0.5, out=a)", "a.sum()"),
        {(1, 2, "a")},
        {(0, 2, "a")},
    ),
]


@pytest.mark.parametrize(
    ("cells", "present", "absent"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_pattern(cells: tuple[str, ...], present: set[Dependency], absent: set[Dependency]) -> None:
    found = data(inspect_notebook(nb(*cells)))
    assert present <= found, f"missing {present - found}; found {found}"
    assert not absent & found, f"unexpected {absent & found}"


def test_a_change_in_place_waits_for_readers_as_an_ordering_edge() -> None:
    spec = inspect_notebook(nb("xs = []", "n = len(xs)", "xs.append(1)"))
    assert order(spec) == {(1, 2)}
    edge = next(e for e in spec.edges if e.kind == "order")
    assert edge.names == [] and edge.state == [] and edge.mutated == ["xs"]
    assert (1, 2) not in {(s, t) for s, t, _ in data(spec)}  # the data flow has no such edge


def test_a_file_rewritten_waits_for_its_readers_and_writer() -> None:
    spec = inspect_notebook(
        nb("open('a.txt', 'w').write('1')", "open('a.txt').read()", "open('a.txt', 'w').write('2')")
    )
    assert order(spec) == {(0, 2), (1, 2)}


def test_flow_after_edges_have_their_own_kind() -> None:
    spec = inspect_notebook(nb("a = 1", ("b = 2", ["flow:after=cell-0"])))
    assert [(e.kind, e.after) for e in spec.edges] == [("after", True)]


def test_state_is_reported_apart_from_the_values_that_flow() -> None:
    spec = inspect_notebook(nb("df.to_csv('a.csv')", "import pandas as pd\npd.read_csv('a.csv')"))
    (edge,) = spec.edges
    assert edge.names == [] and edge.state == ["file:a.csv"] and edge.kind == "data"
    assert spec.tasks[1].reads == []  # task reads list Python names only


def test_state_reads_no_cell_writes_are_silent() -> None:
    spec = inspect_notebook(nb("import pandas as pd", "pd.read_csv('input.csv')", "!echo $HOME"))
    assert spec.warnings == []


def test_facts_of_one_cell() -> None:
    facts = analyze("for d in [a, b]:\n    d['x'] = 1\nframes = [a, c]\nrng = default_rng(3)")
    assert set(facts.mutates) == {"a", "b"}
    assert dict(facts.aliases)["frames"] == ("a", "c")
    assert facts.generators == ("rng",)
    facts = analyze("f(x, key=[y, z])\ny2 = 1")
    assert facts.calls == (("f", ((0, ("x",)), ("key", ("y", "z")))),)
    assert analyze("rng.normal()").draws == ("rng",)
    assert analyze("import numpy as np\nfrom a import b as c").modules == ("c", "np")
