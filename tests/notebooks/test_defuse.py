"""One row per def/use rule: what a piece of code reads, defines and changes in place."""

from __future__ import annotations

import pytest

from jupyter_flows.notebooks.defuse import MUTATING_METHODS, analyze, is_state, transform

# (id, code, reads, defines, mutates)
RULES: list[tuple[str, str, set[str], set[str], set[str]]] = [
    # ---------------------------------------------------------------- definitions
    ("assign", "x = 1", set(), {"x"}, set()),
    ("assign-reads-value", "df = load(path)", {"load", "path"}, {"df"}, set()),
    ("tuple-unpacking", "a, (b, *c) = f()", {"f"}, {"a", "b", "c"}, set()),
    ("chained-assign", "a = b = 0", set(), {"a", "b"}, set()),
    ("annotated-assign", "x: int = 5", {"int"}, {"x"}, set()),
    ("annotation-only-binds-nothing", "x: int", {"int"}, set(), set()),
    ("import", "import os, numpy as np", set(), {"os", "np"}, set()),
    ("import-dotted", "import os.path", set(), {"os"}, set()),
    ("from-import", "from a.b import c as d, e", set(), {"d", "e"}, set()),
    ("function", "def f(a, b=k):\n    return a", {"k"}, {"f"}, set()),
    ("decorated-function", "@task\ndef f():\n    pass", {"task"}, {"f"}, set()),
    ("class", "class C(Base):\n    z = w", {"Base", "w"}, {"C"}, set()),
    (
        "for-target",
        "for i, x in enumerate(xs):\n    last = x",
        {"enumerate", "xs"},
        {"i", "x", "last"},
        set(),
    ),
    (
        "with-target",
        "with open(p) as fh:\n    data = fh.read()",
        {"open", "p"},
        {"fh", "data"},
        set(),
    ),
    (
        "except-target",
        "try:\n    run()\nexcept E as err:\n    msg = str(err)",
        {"run", "E", "str"},
        {"err", "msg"},
        set(),
    ),
    ("walrus", "if (n := len(a)) > 3:\n    pass", {"len", "a"}, {"n"}, set()),
    ("walrus-in-comprehension", "[y := v for v in vals]", {"vals"}, {"y"}, set()),
    ("augmented-assign", "total += 1", {"total"}, {"total"}, set()),
    ("del", "del x", {"x"}, {"x"}, set()),
    (
        "match-captures",
        "match cmd:\n    case Point(x=px):\n        pass\n    case {**rest}:\n        pass",
        {"cmd", "Point"},
        {"px", "rest"},
        set(),
    ),
    ("read-after-own-definition", "x = 1\ny = x + 1", set(), {"x", "y"}, set()),
    ("read-before-own-definition", "y = x + 1\nx = 2", {"x"}, {"x", "y"}, set()),
    # ---------------------------------------------------------------- scopes
    ("comprehension-variable-is-local", "[i * k for i in range(3)]", {"k", "range"}, set(), set()),
    ("dict-comprehension", "{k: v for k, v in pairs}", {"pairs"}, set(), set()),
    (
        "nested-comprehension",
        "[x for row in grid for x in row if x > t]",
        {"grid", "t"},
        set(),
        set(),
    ),
    ("generator-first-iter-outside", "g = (x for x in xs)", {"xs"}, {"g"}, set()),
    ("def-body-reads-are-deferred", "def f():\n    return threshold", set(), {"f"}, set()),
    (
        "def-body-read-counts-when-called",
        "def f():\n    return thr\ny = f()",
        {"thr"},
        {"f", "y"},
        set(),
    ),
    ("function-locals-stay-local", "def f(a):\n    b = a\n    return b + c", set(), {"f"}, set()),
    ("lambda-body-read-where-written", "key = lambda r: r[col]", {"col"}, {"key"}, set()),
    (
        "global-in-function-defines-when-called",
        "def reset():\n    global n\n    n = 0\nreset()",
        set(),
        {"reset", "n"},
        set(),
    ),
    (
        "class-method-reads-deferred",
        "class C:\n    def m(self):\n        return q",
        set(),
        {"C"},
        set(),
    ),
    (
        "class-instance-pulls-method-reads",
        "class C:\n    def m(self):\n        return q\nc = C()",
        {"q"},
        {"C", "c"},
        set(),
    ),
    (
        "recursive-function",
        "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\nfact(3)",
        set(),
        {"fact"},
        set(),
    ),
    ("module-level-global-is-a-no-op", "global x\nx = 1", set(), {"x"}, set()),
    # ---------------------------------------------------------------- in-place changes
    ("subscript-assign", "df['x'] = df.a * 2", {"df"}, set(), {"df"}),
    ("attribute-assign", "model.alpha = 0.1", {"model"}, set(), {"model"}),
    ("deep-target", "df.loc[mask, 'c'] = 0", {"df", "mask"}, set(), {"df"}),
    ("subscript-augassign", "counts[k] += 1", {"counts", "k"}, set(), {"counts"}),
    ("subscript-del", "del cache[key]", {"cache", "key"}, set(), {"cache"}),
    ("inplace-true", "df.dropna(inplace=True)", {"df"}, set(), {"df"}),
    ("inplace-false-is-a-read", "clean = df.dropna(inplace=False)", {"df"}, {"clean"}, set()),
    ("list-append", "lst.append(1)", {"lst"}, set(), {"lst"}),
    ("dict-update", "config.update(extra)", {"config", "extra"}, set(), {"config"}),
    ("set-add", "seen.add(item)", {"seen", "item"}, set(), {"seen"}),
    ("model-fit", "model.fit(X, y)", {"model", "X", "y"}, set(), {"model"}),
    ("fit-transform", "Z = scaler.fit_transform(X)", {"scaler", "X"}, {"Z"}, {"scaler"}),
    ("through-attributes", "self_.items[0].append(1)", {"self_"}, set(), {"self_"}),
    ("torch-inplace", "t.add_(1)", {"t"}, set(), {"t"}),
    ("setattr", "setattr(obj, 'a', 1)", {"obj", "setattr"}, set(), {"obj"}),
    ("shuffle", "random.shuffle(deck)", {"random", "deck"}, set(), {"deck"}),
    ("heappush", "heapq.heappush(heap, 3)", {"heapq", "heap"}, set(), {"heap"}),
    (
        "mutation-of-a-call-result-is-not-a-name",
        "get_model().fit(X)",
        {"get_model", "X"},
        set(),
        set(),
    ),
    ("mutate-after-own-definition", "res = []\nres.append(2)", set(), {"res"}, set()),
    (
        "function-mutating-a-global",
        "def log(v):\n    seen.append(v)\nlog(1)",
        {"seen"},
        {"log"},
        {"seen"},
    ),
    # ---------------------------------------------------------------- read-only calls
    ("head-is-read-only", "df.head()", {"df"}, set(), set()),
    ("describe-is-read-only", "stats = df.describe()", {"df"}, {"stats"}, set()),
    ("len-is-read-only", "n = len(df)", {"df", "len"}, {"n"}, set()),
    ("unknown-method-is-read-only", "df.plot(kind='bar')", {"df"}, set(), set()),
    ("dunder-is-not-inplace", "x.__len__()", {"x"}, set(), set()),
    # ---------------------------------------------------------------- IPython syntax
    ("line-magic", "%matplotlib inline\nimport json", set(), {"json"}, set()),
    ("time-runs-its-code", "%time z = w + 1", {"w"}, {"z"}, set()),
    ("timeit-is-its-own-namespace", "%timeit -n 1 q = p + 1", {"p"}, set(), set()),
    ("cell-magic-time", "%%time\nr = compute(v)", {"compute", "v"}, {"r"}, set()),
    (
        "capture-binds-output",
        "%%capture cap\nr = compute(v)",
        {"compute", "v"},
        {"cap", "r"},
        set(),
    ),
    ("bash-out", "%%bash --out o\necho $HOME", set(), {"o"}, set()),
    ("shell-expansion", "!echo {path} $out", {"path"}, set(), set()),  # $out: see below
    ("shell-assignment", "files = !ls {folder}", {"folder"}, {"files"}, set()),
    ("help", "df?", {"df"}, set(), set()),
    ("help-on-attribute", "df.head??", {"df"}, set(), set()),
    ("store-restore", "%store -r saved", set(), {"saved"}, set()),
    ("store-save", "%store result", {"result"}, set(), set()),
    ("writefile", "%%writefile out.txt\nhello {name}", set(), set(), set()),
    ("top-level-await", "data = await fetch()", {"fetch"}, {"data"}, set()),
    ("leading-indentation", "    x = 1", set(), {"x"}, set()),
]


@pytest.mark.parametrize(
    ("code", "reads", "defines", "mutates"),
    [pytest.param(*row[1:], id=row[0]) for row in RULES],
)
def test_rule(code: str, reads: set[str], defines: set[str], mutates: set[str]) -> None:
    facts = analyze(code)
    assert facts.error is None
    assert (names(facts.reads), names(facts.defines), names(facts.mutates)) == (
        reads,
        defines,
        mutates,
    )


def names(found: tuple[str, ...]) -> set[str]:
    """The Python names (state names such as ``file:x.csv`` have tests of their own)."""
    return {name for name in found if not is_state(name)}


def test_the_table_covers_every_mutating_method_family() -> None:
    for method in ("append", "update", "add", "fit", "fit_transform", "partial_fit", "sort"):
        assert method in MUTATING_METHODS
    for read_only in ("head", "describe", "plot", "copy", "mean", "to_csv"):
        assert read_only not in MUTATING_METHODS


def test_deferred_effects_of_functions_and_classes() -> None:
    facts = analyze(
        "def f(a):\n    global g\n    g = a\n    items.append(a)\n    return a * scale\n"
        "class C:\n    def m(self):\n        return q"
    )
    effects = facts.deferred_map
    assert effects["f"].reads == {"items", "scale"}
    assert effects["f"].defines == {"g"}
    assert effects["f"].mutates == {"items"}
    assert effects["C"].reads == {"q"}


def test_star_import_and_run_are_opaque() -> None:
    assert analyze("from pylab import *").opaque == ("from pylab import *",)
    assert analyze("%run helpers.py").opaque == ("%run helpers.py",)
    assert analyze("%store -r").opaque == ("%store -r",)


def test_values_that_will_not_pickle_are_noted() -> None:
    facts = analyze(
        "fh = open('x')\nrows = (r for r in data)\nimport threading\nlock = threading.Lock()\n"
        "with open('y') as other:\n    pass"
    )
    assert dict(facts.unpicklable) == {
        "fh": "an open file",
        "rows": "a generator",
        "lock": "a lock",
        "other": "an open file",
    }
    assert analyze("fh = open('x')\nfh = 1").unpicklable == ()


def test_syntax_errors_are_reported_not_raised() -> None:
    facts = analyze("def f(:\n    pass")
    assert facts.error is not None and "line 1" in facts.error
    assert facts.defines == () and facts.reads == ()


def test_deleted_names_are_listed() -> None:
    assert analyze("del a, b").deletes == ("a", "b")
    assert analyze("del a\na = 1").deletes == ()


def test_transform_is_ipythons() -> None:
    assert transform("!ls\n") == "get_ipython().system('ls')\n"
    assert transform("x = 1\n") == "x = 1\n"


# (id, code, state read, state defined, state changed): state outside Python names
STATE_RULES: list[tuple[str, str, set[str], set[str], set[str]]] = [
    (
        "to-csv-writes",
        "df.to_csv('out/a.csv', index=False)",
        {"dir:out"},
        {"file:out/a.csv"},
        set(),
    ),
    ("read-csv-reads", "pd.read_csv('data/a.csv')", {"file:data/a.csv"}, set(), set()),
    ("path-join", "pd.read_csv(os.path.join('data', 'a.csv'))", {"file:data/a.csv"}, set(), set()),
    ("pathlib-division", "p = Path('data') / 'a.csv'", {"file:data/a.csv"}, set(), set()),
    ("pathlib-read", "(Path('data') / 'a.csv').read_text()", {"file:data/a.csv"}, set(), set()),
    ("open-write", "open('a.txt', 'w')", set(), {"file:a.txt"}, set()),
    ("open-append", "open('a.txt', 'a')", {"file:a.txt"}, set(), {"file:a.txt"}),
    ("open-read", "open('a.txt')", {"file:a.txt"}, set(), set()),
    ("savefig", "plt.savefig('fig.png')", set(), {"file:fig.png"}, set()),
    ("np-save", "np.save('a.npy', x)", set(), {"file:a.npy"}, set()),
    ("joblib-dump", "joblib.dump(m, 'm.pkl')", set(), {"file:m.pkl"}, set()),
    ("torch-save", "torch.save(m.state_dict(), 'm.pt')", set(), {"file:m.pt"}, set()),
    (
        "shutil-copy",
        "shutil.copy('a.csv', 'b/a.csv')",
        {"file:a.csv", "dir:b"},
        {"file:b/a.csv"},
        set(),
    ),
    ("makedirs", "os.makedirs('out', exist_ok=True)", set(), {"file:out"}, set()),
    ("glob-reads-the-folder", "glob.glob('data/*.csv')", {"file:data"}, set(), set()),
    ("listdir-reads-a-folder", "os.listdir('data')", {"file:data"}, set(), set()),
    ("url-is-no-file", "pd.read_csv('https://example.org/a.csv')", set(), set(), set()),
    ("computed-path-is-not-followed", "df.to_csv(f'{d}/a.csv')", set(), set(), set()),
    ("shell-redirect", "!echo hi > out.txt", set(), {"file:out.txt"}, set()),
    ("shell-append", "!echo hi >> out.txt", {"file:out.txt"}, set(), {"file:out.txt"}),
    ("wget-output", "!wget -q -O data/a.zip URL", {"dir:data"}, {"file:data/a.zip"}, set()),
    ("unzip-to-folder", "!unzip -o a.zip -d data", {"file:a.zip"}, {"file:data"}, set()),
    ("unzip-here", "!unzip a.zip", {"file:a.zip"}, {"file:."}, set()),
    ("mkdir", "!mkdir -p out logs", set(), {"file:out", "file:logs"}, set()),
    ("git-clone", "!git clone --depth 1 https://h.org/a/tools.git", set(), {"file:tools"}, set()),
    ("git-clone-into", "!git clone https://h.org/a/tools.git lib", set(), {"file:lib"}, set()),
    ("cp", "!cp a.csv b.csv", {"file:a.csv"}, {"file:b.csv"}, set()),
    ("rm-is-a-new-version", "!rm a.csv", {"file:a.csv"}, {"file:a.csv"}, set()),
    (
        "shell-reads-path-words",
        "!python train.py --data d/x.csv",
        {"file:train.py", "file:d/x.csv"},
        set(),
        set(),
    ),
    ("writefile", "%%writefile out.txt\nhello", set(), {"file:out.txt"}, set()),
    (
        "writefile-append",
        "%%writefile -a log.txt\nhello",
        {"file:log.txt"},
        set(),
        {"file:log.txt"},
    ),
    (
        "import-reads-module-files",
        "import mod",
        {"module:mod", "file:mod.py", "file:mod/__init__.py"},
        set(),
        set(),
    ),
    (
        "pip-install",
        "%pip install -q scikit-learn==1.5 tabulate",
        set(),
        {"module:scikit_learn", "module:tabulate"},
        set(),
    ),
    ("shell-pip-install", "!pip install seaborn", set(), {"module:seaborn"}, set()),
    ("load-ext", "%load_ext line_profiler", set(), {"magic:lprun"}, set()),
    ("load-ext-unknown", "%load_ext something_new", set(), {"magic:*"}, set()),
    ("extension-magic", "%lprun -f f f(1)", {"magic:lprun"}, set(), set()),
    ("builtin-magic", "%matplotlib inline", set(), set(), set()),
    ("store", "%store x", set(), {"store:x"}, set()),
    ("store-restore", "%store -r x", {"store:x"}, set(), set()),
    ("store-delete", "%store -d x", {"store:x"}, {"store:x"}, set()),
    ("store-to-file", "%store x >x.txt", set(), {"file:x.txt"}, set()),
    ("run", "%run -i setup.py", {"file:setup.py"}, set(), set()),
    ("env-magic", "%env MODE=fast", set(), {"env:MODE"}, set()),
    ("env-read-magic", "%env MODE", {"env:MODE"}, set(), set()),
    ("environ-set", "os.environ['MODE'] = 'x'", set(), {"env:MODE"}, set()),
    (
        "environ-get",
        "os.environ['MODE']\nos.getenv('LEVEL')",
        {"env:MODE", "env:LEVEL"},
        set(),
        set(),
    ),
    ("shell-dollar-reads-env", "!echo $HOME", {"env:HOME"}, set(), set()),
    ("np-seed", "np.random.seed(0)", set(), {"random:numpy"}, set()),
    ("np-draw", "np.random.rand(3)", {"random:numpy"}, set(), {"random:numpy"}),
    ("random-seed-and-draw", "random.seed(1)\nrandom.random()", set(), {"random:random"}, set()),
    ("torch-layer-draws", "nn.Linear(3, 1)", {"random:torch"}, set(), {"random:torch"}),
    ("default-rng-is-no-draw", "np.random.default_rng(1)", set(), set(), set()),
]


@pytest.mark.parametrize(
    ("code", "reads", "defines", "mutates"),
    [pytest.param(*row[1:], id=row[0]) for row in STATE_RULES],
)
def test_state_rule(code: str, reads: set[str], defines: set[str], mutates: set[str]) -> None:
    facts = analyze(code)
    assert facts.error is None
    state = (
        {n for n in facts.reads if is_state(n) and not n.startswith("module:")}
        | (
            {n for n in facts.reads if n.startswith("module:")}
            if code.startswith("import")
            else set()
        ),
        {n for n in facts.defines if is_state(n)},
        {n for n in facts.mutates if is_state(n)},
    )
    assert state == (reads, defines, mutates)


# (id, code, reads, soft reads, mutates): names read inside strings, magics that run Python,
# changes through aliases, modes and ``out=``
MORE_RULES: list[tuple[str, str, set[str], set[str], set[str]]] = [
    ("query-at-names", "df.query('a > @lo and b < @hi')", {"df", "lo", "hi"}, set(), set()),
    ("query-bare-names-are-columns", "df.query('a > b')", {"df"}, set(), set()),
    ("df-eval", "df.eval('c = a + @k', inplace=True)", {"df", "k"}, set(), {"df"}),
    ("pd-eval", "pd.eval('x + y * 2')", {"pd", "x", "y"}, set(), set()),
    ("numexpr", "ne.evaluate('x * y')", {"ne", "x", "y"}, set(), set()),
    ("builtin-eval", "eval('a + 1')", {"eval", "a"}, set(), set()),
    ("builtin-exec", "exec('b = a')", {"exec", "a"}, set(), set()),
    (
        "duckdb-sql",
        "duckdb.sql('SELECT * FROM sales s JOIN stores t')",
        {"duckdb"},
        {"sales", "stores"},
        set(),
    ),
    ("sql-magic", "%%sql\nSELECT * FROM orders", set(), {"orders"}, set()),
    ("shell-dollar-is-soft", "!ls $folder", set(), {"folder"}, set()),
    ("lprun", "%lprun -f slow slow(n)", {"slow", "n"}, set(), set()),
    ("mprun", "%mprun -f slow slow(n)", {"slow", "n"}, set(), set()),
    ("memit", "%memit -r 2 f(x)", {"f", "x"}, set(), set()),
    ("cell-memit", "%%memit\ny = f(x)", {"f", "x"}, set(), set()),
    ("loop-alias", "for d in [a, b]:\n    d['x'] = 1", {"a", "b"}, set(), {"a", "b"}),
    (
        "tuple-loop-alias",
        "for name, d in [('a', a)]:\n    d.fillna(0, inplace=True)",
        {"a"},
        set(),
        {"a"},
    ),
    (
        "comprehension-alias",
        "[d.dropna(inplace=True) for d in (a, b)]",
        {"a", "b"},
        set(),
        {"a", "b"},
    ),
    ("assignment-alias", "c = a\nc.append(1)", {"a"}, set(), {"a"}),
    ("element-alias", "first = frames[0]\nfirst['x'] = 1", {"frames"}, set(), {"frames"}),
    ("copy-is-no-alias", "c = a.copy()\nc.append(1)", {"a"}, set(), set()),
    ("mask-is-no-alias", "sub = df[df.x > 0]\nsub['y'] = 1", {"df"}, set(), set()),
    ("local-function-changes-argument", "def f(df):\n    df['x'] = 1\nf(t)", {"t"}, set(), {"t"}),
    ("model-eval", "model.eval()", {"model"}, set(), {"model"}),
    (
        "module-train-with-arguments-is-no-mode",
        "b = xgb.train(params, dtrain)",
        {"xgb", "params", "dtrain"},
        set(),
        set(),
    ),
    ("out-keyword", "np.multiply(a, 2, out=a)", {"np", "a"}, set(), {"a"}),
    ("fill-diagonal", "np.fill_diagonal(m, 0)", {"np", "m"}, set(), {"m"}),
    ("module-setter", "pd.set_option('display.width', 120)", {"pd"}, set(), {"pd"}),
]


@pytest.mark.parametrize(
    ("code", "reads", "soft", "mutates"),
    [pytest.param(*row[1:], id=row[0]) for row in MORE_RULES],
)
def test_more_rules(code: str, reads: set[str], soft: set[str], mutates: set[str]) -> None:
    facts = analyze(code)
    assert facts.error is None
    assert (names(facts.reads), set(facts.soft_reads), names(facts.mutates)) == (
        reads,
        soft,
        mutates,
    )
