"""State a cell reaches outside Python names: files, random generators, modules, evaluated
strings. Pure helpers for :mod:`defuse`, which turns what they find into *state names*.

A state name has a kind before a colon, so it can never be a Python name:

- ``file:out/data.csv``: a file or folder at a literal path. A cell that writes it defines
  it (``df.to_csv("out/data.csv")``, ``open(p, "w")``, ``%%writefile``, ``!wget -O …``);
  appending changes it; any later literal path equal to it, or below a folder written,
  reads it (``pd.read_csv("out/data.csv")``, ``import mod`` for ``mod.py``, ``!python x.py``).
- ``random:numpy``, ``random:random``, ``random:torch``: a library's global random state.
  Seeding defines it; drawing from it (``np.random.rand()``) changes it, once seeded.
- ``magic:lprun``: a magic an extension provides (``%load_ext line_profiler``).
- ``store:x``: a value ``%store`` keeps between sessions. ``env:NAME``: an environment
  variable. ``module:pkg``: a package ``%pip install`` makes importable.

Reads of state names are soft: a read that no earlier cell writes is no edge and no
warning (the file was there before the notebook ran).
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterable, Iterator


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


FILE = "file:"
DIR = "dir:"
"""Read by a write into a folder: the folder must exist (``file:`` of it, or above)."""
RANDOM = "random:"
MAGIC = "magic:"
STORE = "store:"
ENV = "env:"
MODULE = "module:"
ANY_MAGIC = MAGIC + "*"
"""Defined by ``%load_ext`` of an extension whose magics are not known."""


def is_state(name: str) -> bool:
    """A state name (``file:…``, ``random:…``…), not a Python name."""
    return ":" in name


def state_kind(name: str) -> str:
    return name.partition(":")[0]


# ------------------------------------------------------------------ file paths


def normal_path(text: str) -> str | None:
    """``text`` as a relative or absolute path, normalised; None when it is no path."""
    text = text.strip()
    if not text or "://" in text or "\n" in text or len(text) > 300:
        return None
    if text.startswith("~"):
        return None  # the home folder is outside the notebook's files
    cut = re.search(r"[*?\[]", text)  # a glob reads the folder it lists
    if cut:
        text = text[: cut.start()].rpartition("/")[0] or "."
    path = posixpath.normpath(text.replace("\\", "/"))
    return path if path not in ("", "..") else None


_PATHLIKE = re.compile(r"^[\w\-.~/ ]+$")
_HAS_EXTENSION = re.compile(r"\.[A-Za-z][\w]{0,7}$")


def looks_like_path(text: str) -> bool:
    """Worth matching against the files earlier cells wrote: ``a/b``, ``x.csv``."""
    return bool(_PATHLIKE.match(text)) and ("/" in text or bool(_HAS_EXTENSION.search(text)))


def folder(path: str) -> str | None:
    """The folder a path is written into, when it is not the notebook's own."""
    parent = posixpath.dirname(path)
    return parent if parent not in ("", ".", "/") else None


def ancestors(path: str) -> Iterator[str]:
    """``a/b/c.csv`` → ``a/b``, ``a``, ``.``: the folders a write could have made it in."""
    while True:
        parent = posixpath.dirname(path)
        if parent in ("", path):
            if path not in (".", "/"):
                yield "."
            return
        yield parent
        path = parent


# Calls whose first argument is a path even when it does not look like one (a folder).
PATH_READERS = word_set(
    "listdir scandir walk glob iglob exists isfile isdir getsize stat rmtree load loadtxt "
    "genfromtxt imread open_dataset"
)


def read_candidates(node: ast.Call) -> Iterator[str]:
    """The literal paths a call may read: any that looks like one, and the first argument
    of the calls in :data:`PATH_READERS` (and ``read_*``)."""
    name = call_name(node) or ""
    takes_path = name in PATH_READERS or name.startswith("read_")
    for number, arg in enumerate([*node.args, *(k.value for k in node.keywords)]):
        text = _literal_text(arg)
        if text is None:
            continue
        path = normal_path(text)
        if path is not None and (looks_like_path(text) or (takes_path and number == 0)):
            yield path


# Calls that only build a path (what uses the path reads it).
PATH_BUILDERS = word_set("Path PurePath PosixPath join")


def built_path(node: ast.expr) -> str | None:
    """``Path("data/a.csv")`` or ``os.path.join("data", "a.csv")`` that looks like a file."""
    if isinstance(node, (ast.Call, ast.BinOp)) and not isinstance(node, ast.Constant):
        if isinstance(node, ast.Call) and call_name(node) not in PATH_BUILDERS:
            return None
        text = _literal_text(node)
        if text is not None and looks_like_path(text):
            return normal_path(text)
    return None


def path_literal(node: ast.expr | None) -> str | None:
    """The path a literal expression names: ``"a.csv"``, ``Path("d") / "a.csv"``,
    ``os.path.join("d", "a.csv")``, ``f"d/a.csv"`` (no placeholders)."""
    text = _literal_text(node)
    return normal_path(text) if text is not None else None


def _literal_text(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [_literal_text(v) for v in node.values]
        return "".join(p for p in parts if p is not None) if None not in parts else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _literal_text(node.left), _literal_text(node.right)
        return f"{left}/{right}" if left is not None and right is not None else None
    if isinstance(node, ast.Call):
        name = call_name(node)
        if name in ("Path", "PurePath", "PosixPath", "join") and node.args and not node.keywords:
            parts = [_literal_text(a) for a in node.args]
            if None not in parts:
                return "/".join(str(p) for p in parts)
    return None


def call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def dotted(node: ast.expr) -> str | None:
    """``np.random.seed`` for that attribute chain; None when it starts elsewhere."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


# Methods and functions that write a file named by their first argument (or ``path=``…).
_WRITE_METHODS = word_set(
    "to_csv to_parquet to_excel to_json to_pickle to_feather to_hdf to_stata to_html to_latex "
    "to_markdown to_xml to_orc to_netcdf to_zarr to_file to_sql_file savefig save save_model "
    "save_weights save_pretrained write_image write_html write_csv write_parquet write_json "
    "write_ipc write_excel write_ndjson sink_csv sink_parquet savez savez_compressed savetxt "
    "imwrite imsave savemat dump_model export_graphviz tofile to_filename export"
)
# Functions whose path is their second argument (``joblib.dump(obj, "m.pkl")``).
_WRITE_SECOND = word_set("dump urlretrieve download_url")
_WRITE_SECOND_DOTTED = word_set("torch.save joblib.dump pickle.dump")
_PATH_KEYWORDS = (
    "path",
    "path_or_buf",
    "fname",
    "filepath",
    "filepath_or_buffer",
    "filename",
    "file",
    "excel_writer",
    "buf",
    "f",
    "file_name",
    "save_directory",
    "out_file",
    "dst",
)
_PATH_METHODS_WRITE = word_set("write_text write_bytes touch mkdir")
_PATH_METHODS_READ = word_set("read_text read_bytes open exists iterdir glob rglob")
_OPENERS = word_set("open File ZipFile TarFile ExcelWriter HDFStore Dataset")


def file_effects(node: ast.Call) -> tuple[list[str], list[str], list[str]]:
    """What the call does to files with literal paths: (written, appended to, read)."""
    name = call_name(node)
    written: list[str] = []
    appended: list[str] = []
    read: list[str] = []
    if name is None:
        return written, appended, read
    func = node.func
    receiver_path = path_literal(func.value) if isinstance(func, ast.Attribute) else None
    keyword: dict[str, ast.expr] = {k.arg: k.value for k in node.keywords if k.arg}
    if receiver_path is not None and name in _PATH_METHODS_WRITE:
        written.append(receiver_path)
    elif receiver_path is not None and name == "open":
        _open_mode(_mode(node, 0, keyword), receiver_path, written, appended, read)
    elif receiver_path is not None and name in _PATH_METHODS_READ:
        read.append(receiver_path)
    elif name in _OPENERS:
        path = path_literal(node.args[0]) if node.args else path_literal(keyword.get("file"))
        if path is not None:
            default = "a" if name == "HDFStore" else ("w" if name == "ExcelWriter" else "r")
            _open_mode(_mode(node, 1, keyword) or default, path, written, appended, read)
    elif name in ("makedirs", "mkdir"):
        path = path_literal(node.args[0]) if node.args else None
        if path is not None:
            written.append(path)
    elif name in ("copy", "copy2", "copyfile", "copytree", "move", "rename", "replace"):
        if len(node.args) >= 2:
            source, target = path_literal(node.args[0]), path_literal(node.args[1])
            if target is not None:
                written.append(target)
            if source is not None:
                read.append(source)
    elif name in ("extractall", "unpack_archive"):
        where = node.args[-1] if node.args and name == "extractall" else keyword.get("path")
        if name == "unpack_archive" and len(node.args) >= 2:
            where = node.args[1]
        written.append(path_literal(where) or ".")
    elif name in _WRITE_SECOND or dotted(node.func) in _WRITE_SECOND_DOTTED:
        given = node.args[1] if len(node.args) >= 2 else None
        for key in _PATH_KEYWORDS:
            given = given or keyword.get(key)
        path = path_literal(given)
        if path is not None:
            written.append(path)
    elif name in _WRITE_METHODS or name.startswith(("to_", "save", "write_")):
        given = node.args[0] if node.args else None
        for key in _PATH_KEYWORDS:
            given = given or keyword.get(key)
        path = path_literal(given)
        if path is not None and (name in _WRITE_METHODS or looks_like_path(path)):
            written.append(path)
    return written, appended, read


def _mode(node: ast.Call, position: int, keyword: dict[str, ast.expr]) -> str | None:
    value = node.args[position] if len(node.args) > position else keyword.get("mode")
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _open_mode(
    mode: str | None, path: str, written: list[str], appended: list[str], read: list[str]
) -> None:
    mode = mode or "r"
    if "a" in mode or "+" in mode:
        appended.append(path)
    elif "w" in mode or "x" in mode:
        written.append(path)
    else:
        read.append(path)


# ------------------------------------------------------------------ shell commands


_REDIRECT = re.compile(r"^(\d?>>?|&>)(.*)$")


def shell_effects(command: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """A shell line's effects on files and packages: (written, appended, read, installed).

    Redirections (``> f``, ``>> f``), output options (``-o``, ``-O``, ``--output``),
    ``mkdir``, ``touch``, ``cp``/``mv`` targets, ``unzip [-d dir]``, ``tar -x [-C dir]``,
    ``wget`` and ``git clone`` write; every other word that looks like a path is read;
    ``pip install`` / ``conda install`` make packages importable.
    """
    written: list[str] = []
    appended: list[str] = []
    read: list[str] = []
    installed: list[str] = []
    for words in _commands(command):
        _one_command(words, written, appended, read, installed)
    return written, appended, read, installed


def _commands(command: str) -> Iterator[list[str]]:
    import shlex

    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        tokens = command.split()
    words: list[str] = []
    for token in tokens:
        if token and set(token) <= set(";&|"):
            if words:
                yield words
            words = []
        else:
            words.append(token)
    if words:
        yield words


# The options that name what a program writes (a file, or the folder it writes into).
_OUTPUT_OPTIONS = {
    "wget": {"-O", "--output-document", "-P", "--directory-prefix"},
    "curl": {"-o", "--output", "--output-dir"},
    "unzip": {"-d"},
    "tar": {"-C", "--directory"},
    "kaggle": {"-p", "--path"},
}
_INSTALLERS = {"pip", "pip3", "conda", "mamba", "micromamba", "uv"}


def _one_command(
    words: list[str],
    written: list[str],
    appended: list[str],
    read: list[str],
    installed: list[str],
) -> None:
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]  # VAR=value before the command
    if not words:
        return
    program = posixpath.basename(words[0])
    args = words[1:]
    if program in ("python", "python3") and args[:2] == ["-m", "pip"]:
        program, args = "pip", args[2:]
    if program in _INSTALLERS or (program == "uv" and args[:1] == ["pip"]):
        rest = args[1:] if args[:1] == ["pip"] else args
        if rest[:1] in (["install"], ["add"]):
            installed.extend(_packages(rest[1:]))
        return
    targets: list[str] = []
    skip = False
    for number, word in enumerate(args):
        if skip:
            skip = False
            continue
        redirect = _REDIRECT.match(word)
        if redirect:
            target = redirect.group(2) or (args[number + 1] if number + 1 < len(args) else "")
            skip = not redirect.group(2)
            path = normal_path(target)
            if path is not None and path != "/dev/null":
                (appended if ">>" in redirect.group(1) else written).append(path)
            continue
        if word in _OUTPUT_OPTIONS.get(program, ()) and number + 1 < len(args):
            path = normal_path(args[number + 1])
            if path is not None:
                written.append(path)
            skip = True
            continue
        if word.startswith("--output=") or word.startswith("--output-document="):
            path = normal_path(word.partition("=")[2])
            if path is not None:
                written.append(path)
            continue
        if word.startswith("-"):
            continue
        targets.append(word)
    if program in ("mkdir", "touch"):
        written.extend(p for p in map(normal_path, targets) if p)
    elif program in ("rm", "rmdir"):  # removing a file is its new version, as ``del x``
        removed = [p for p in map(normal_path, targets) if p]
        read.extend(removed)
        written.extend(removed)
    elif program in ("cp", "mv", "rsync", "ln") and len(targets) >= 2:
        read.extend(p for p in map(normal_path, targets[:-1]) if p)
        target = normal_path(targets[-1])
        if target:
            written.append(target)
    elif program == "unzip" and targets:
        read.extend(p for p in map(normal_path, targets[:1]) if p)
        if "-d" not in args:
            written.append(".")
    elif program == "tar" and any("x" in w for w in args if w.startswith("-") or w == args[0]):
        read.extend(p for p in map(normal_path, targets) if p and looks_like_path(p))
        if "-C" not in args:
            written.append(".")
    elif program in ("wget", "curl") and targets:
        has_output = any(w in _OUTPUT_OPTIONS[program] or w.startswith("--output") for w in args)
        if program == "wget" and not has_output or program == "curl" and "-O" in args:
            for url in targets:
                name = posixpath.basename(url.split("?")[0].rstrip("/"))
                path = normal_path(name) if name else None
                if path:
                    written.append(path)
    elif program == "git" and targets[:1] == ["clone"] and len(targets) >= 2:
        urls = [t for t in targets if "://" in t or "@" in t]
        last = targets[-1]
        if urls and last != urls[-1]:
            where = last  # git clone URL folder
        else:
            where = posixpath.basename((urls or targets)[-1].rstrip("/")).removesuffix(".git")
        path = normal_path(where)
        if path:
            written.append(path)
    else:
        read.extend(p for p in map(normal_path, targets) if p and looks_like_path(p))


def _packages(words: Iterable[str]) -> Iterator[str]:
    for word in words:
        if word.startswith("-") or "/" in word or word.startswith("."):
            continue
        name = re.split(r"[\[<>=!~;@ ]", word, maxsplit=1)[0]
        if name:
            yield module_name(name)


def module_name(package: str) -> str:
    """The import name a package most likely has: ``scikit-learn`` → ``scikit_learn``."""
    return package.lower().replace("-", "_").replace(".", "_")


def module_files(module: str) -> list[str]:
    """The files ``import a.b`` could load from the notebook's folder."""
    path = module.replace(".", "/")
    return [f"{path}.py", f"{path}/__init__.py"]


# ------------------------------------------------------------------ random state


# ``np.random.default_rng(42)`` and friends: objects whose draws change their state.
_GENERATORS = word_set(
    "default_rng RandomState Generator Random SystemRandom PCG64 MT19937 Philox "
    "check_random_state manual_seed PRNGKey"
)
# Global random state: what seeds it, and the modules whose functions draw from it.
_SEEDERS = {
    "np.random.seed": "numpy",
    "numpy.random.seed": "numpy",
    "random.seed": "random",
    "torch.manual_seed": "torch",
    "torch.random.manual_seed": "torch",
    "tf.random.set_seed": "tensorflow",
    "tensorflow.random.set_seed": "tensorflow",
}
_DRAWING_MODULES = {
    "np.random": "numpy",
    "numpy.random": "numpy",
    "random": "random",
    "tf.random": "tensorflow",
    "tensorflow.random": "tensorflow",
}
_NOT_DRAWS = word_set(
    "seed get_state set_state default_rng RandomState Generator SeedSequence getstate "
    "setstate Random SystemRandom PCG64 MT19937 Philox BitGenerator set_seed"
)
# Layers whose weights are initialised from the global torch generator when made.
_TORCH_LAYERS = word_set(
    "Linear Bilinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d "
    "Embedding EmbeddingBag RNN LSTM GRU MultiheadAttention Transformer TransformerEncoderLayer "
    "TransformerDecoderLayer LazyLinear"
)
_TORCH_DRAWS = word_set(
    "rand randn randint randperm normal bernoulli multinomial poisson rand_like "
    "randn_like randint_like"
)
# Methods that draw from a generator object (NumPy Generator / RandomState, random.Random).
GENERATOR_DRAWS = word_set(
    "random integers normal uniform choice shuffle permutation permuted standard_normal "
    "exponential binomial poisson beta gamma lognormal multivariate_normal dirichlet "
    "rand randn randint random_sample sample gauss randrange getrandbits triangular "
    "bytes geometric laplace logistic negative_binomial standard_t chisquare vonmises "
    "weibull pareto power rayleigh zipf hypergeometric multinomial standard_exponential "
    "standard_gamma choices betavariate expovariate gammavariate lognormvariate "
    "normalvariate paretovariate weibullvariate spawn"
)
# Keyword arguments through which a library draws from a generator it is given.
GENERATOR_KEYWORDS = word_set("random_state rng generator seed random")


def seeded_generator(node: ast.expr) -> bool:
    """``np.random.default_rng(42)``, ``random.Random(0)``: a generator with a seed."""
    if not isinstance(node, ast.Call):
        return False
    name = call_name(node)
    if name not in _GENERATORS:
        return False
    return bool(node.args) or any(k.arg in ("seed", "x") for k in node.keywords)


def global_random(node: ast.Call) -> tuple[str | None, str | None]:
    """(seeded, drawn): the global random state a call seeds, or draws from."""
    chain = dotted(node.func)
    if chain is None:
        return None, None
    if chain in _SEEDERS:
        return _SEEDERS[chain], None
    module, _, function = chain.rpartition(".")
    if function in _NOT_DRAWS:
        return None, None
    if module in _DRAWING_MODULES:
        return None, _DRAWING_MODULES[module]
    if module == "torch" and function in _TORCH_DRAWS:
        return None, "torch"
    if module in ("nn", "torch.nn") and function in _TORCH_LAYERS:
        return None, "torch"
    if function == "shuffle" and module in ("np.random", "numpy.random", "random"):
        return None, _DRAWING_MODULES[module]
    return None, None


# ------------------------------------------------------------------ evaluated strings


_AT_NAME = re.compile(r"@([A-Za-z_]\w*)")
_SQL_WORD = re.compile(r"\b(?:from|join|into|table|update)\s+([A-Za-z_]\w*)", re.IGNORECASE)
# Methods and functions that evaluate a string: (strict names, soft names) it reads.
_QUERY_METHODS = word_set("query eval")
_EVAL_FUNCTIONS = word_set("pd.eval pandas.eval numexpr.evaluate ne.evaluate")
_SQL_CALLS = word_set(
    "duckdb.sql duckdb.query duckdb.execute duckdb.query_df ps.sqldf sqldf pysqldf"
)


def evaluated_names(node: ast.Call) -> tuple[set[str], set[str]]:
    """Names a call reads from inside a string it evaluates: (strict, soft).

    ``df.query("a > @limit")`` and ``df.eval(…)`` read the ``@`` names (bare names are
    columns); ``pd.eval("a + b")`` and ``numexpr.evaluate`` read every name; SQL run by
    DuckDB or pandasql on data frames in scope reads the tables it names, if they exist.
    """
    if not node.args:
        return set(), set()
    text = node.args[0]
    if not (isinstance(text, ast.Constant) and isinstance(text.value, str)):
        return set(), set()
    chain = dotted(node.func) or ""
    code = text.value
    if chain in _EVAL_FUNCTIONS or (chain == "eval" and isinstance(node.func, ast.Name)):
        return _expression_names(code.replace("@", "")), set()
    if chain in _SQL_CALLS or chain.endswith(".sql") and chain.split(".")[0] in ("duckdb", "con"):
        return set(), set(_SQL_WORD.findall(code))
    if isinstance(node.func, ast.Attribute) and node.func.attr in _QUERY_METHODS:
        return set(_AT_NAME.findall(code)), set()
    return set(), set()


def sql_tables(text: str) -> set[str]:
    """Tables a SQL text names (``FROM df``, ``JOIN other``): maybe data frames in scope."""
    return set(_SQL_WORD.findall(text))


def _expression_names(code: str) -> set[str]:
    names: set[str] = set()
    for line in code.splitlines() or [code]:
        target, equals, value = line.partition("=")
        piece = value if equals and "==" not in line and target.strip().isidentifier() else line
        try:
            tree = ast.parse(piece.strip(), mode="eval")
        except SyntaxError:
            continue
        names.update(
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        )
    return names


def exec_code(node: ast.Call) -> str | None:
    """The literal code of ``exec("…")`` (run in the cell's namespace)."""
    if (
        isinstance(node.func, ast.Name)
        and node.func.id == "exec"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


# ------------------------------------------------------------------ module and env state


# Calls that change a library's global settings, seen by every later cell that uses it.
MODULE_SETTERS = word_set(
    "set_option reset_option set_theme set_style set_context set_palette set_printoptions "
    "rc rcdefaults"
)


def environment_key(node: ast.expr) -> str | None:
    """``NAME`` for ``os.environ["NAME"]``."""
    if (
        isinstance(node, ast.Subscript)
        and dotted(node.value) in ("os.environ", "environ")
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    return None


def environment_call(node: ast.Call) -> tuple[str | None, str | None]:
    """(set, read): the environment variable ``os.environ.setdefault/…`` or ``getenv`` use."""
    chain = dotted(node.func) or ""
    first = node.args[0] if node.args else None
    key = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    if key is None:
        return None, None
    if chain in ("os.getenv", "getenv", "os.environ.get", "environ.get"):
        return None, key
    if chain in ("os.putenv", "os.environ.setdefault", "environ.setdefault"):
        return key, None
    return None, None
