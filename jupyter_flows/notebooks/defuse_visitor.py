"""The :mod:`ast` visitor behind :func:`defuse.analyze`: statements in execution order,
each name told to the current scope (:mod:`defuse_scopes`), calls judged for changes in
place, files, random draws and evaluated strings (:mod:`defuse_state`), and IPython's
magics handed to :mod:`defuse_magics`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from jupyter_flows.notebooks import defuse_magics, defuse_state
from jupyter_flows.notebooks.defuse_scopes import (
    Argument,
    Effects,
    FunctionScope,
    LocalScope,
    ModuleScope,
    Scope,
)
from jupyter_flows.notebooks.defuse_state import (
    DIR,
    ENV,
    FILE,
    MODULE,
    RANDOM,
    is_state,
    word_set,
)

MUTATING_METHODS = word_set(
    # list, deque, dict, set, bytearray
    "append appendleft extend extendleft insert remove pop popleft popitem clear sort reverse "
    "rotate update setdefault add discard difference_update intersection_update "
    "symmetric_difference_update "
    # numpy arrays
    "fill resize itemset "
    # scikit-learn style estimators
    "fit fit_transform fit_predict partial_fit set_params "
    # PyTorch modules and optimisers
    "step zero_grad backward load_state_dict "
    # files and csv writers
    "write writelines writerow writerows close"
)
"""Method names whose call changes the object it is called on."""

MUTATING_FUNCTIONS = word_set(
    "setattr delattr shuffle heappush heappop heapify heappushpop heapreplace copyto "
    "fill_diagonal put place putmask"
)
"""Functions (plain or module attributes) that change their first argument in place."""

# Calls that return something sharing the objects of their arguments (``enumerate(frames)``).
_PASS_THROUGH = word_set("enumerate zip reversed iter list tuple sorted filter chain")
_VIEW_METHODS = word_set("values items keys")
# ``model.train()``, ``model.eval()``: a mode switched on the object (PyTorch, Keras).
_MODE_METHODS = word_set("train eval")
# Arguments that hand an object's parts to a new one: ``SGD(model.parameters())``.
_PART_METHODS = word_set("parameters named_parameters")
# Things that cannot be pickled, so cannot travel between tasks run in different processes.
_UNPICKLABLE_CALLS = {
    "open": "an open file",
    "connect": "a connection",
    "socket": "a socket",
    "Lock": "a lock",
    "RLock": "a lock",
    "Condition": "a condition variable",
    "Semaphore": "a semaphore",
    "Event": "an event",
    "Thread": "a thread",
    "Popen": "a process",
    "TemporaryFile": "an open file",
    "NamedTemporaryFile": "an open file",
}


def parse_cell(code: str) -> ast.Module:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # IPython's top-level await
    tree: ast.Module = compile(code, "<cell>", "exec", flags=flags, dont_inherit=True)
    return tree


# ------------------------------------------------------------------ the visitor


class Visitor(ast.NodeVisitor):
    """Visits statements in execution order, telling its scope about every name."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def visit_body(self, body: Iterable[ast.AST]) -> None:
        for node in body:
            self.visit(node)

    # ---------------------------------------------------------------- targets

    def bind_target(self, target: ast.expr, sources: set[str] | None = None) -> None:
        """Bind ``target``; ``sources``: the names whose objects the value may hold."""
        if isinstance(target, ast.Name):
            self.scope.bind(target.id)
            if sources:
                self.scope.alias(target.id, sources)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, sources)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, sources)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            key = defuse_state.environment_key(target)
            if key is not None:
                self._visit_chain(target)
                root = _root_name(target)
                if root is not None:
                    self.scope.read(root)
                self.scope.bind(ENV + key)  # os.environ["KEY"] = …
                return
            self.mutate_target(target)
        else:
            self.visit(target)

    def mutate_target(self, target: ast.Attribute | ast.Subscript) -> None:
        """``a.b[k] = …``: read what the target's expression needs, change its root."""
        self._visit_chain(target)
        root = _root_name(target)
        if root is not None:
            self.scope.mutate(root)

    def _visit_chain(self, node: ast.expr) -> None:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)
            node = node.value
        if not isinstance(node, ast.Name):
            self.visit(node)

    # ---------------------------------------------------------------- statements

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind_value(target, node.value)
        built = defuse_state.built_path(node.value)
        if built is not None:
            self.scope.read(FILE + built)  # data = Path("data/a.csv"): the file it names
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            what = _unpicklable(node.value)
            if what:
                self.scope.note_value(name, what)
            if defuse_state.seeded_generator(node.value):
                self.scope.generator(name)

    def _bind_value(self, target: ast.expr, value: ast.expr) -> None:
        """``a, b = x, y`` pairs each target with its value; otherwise all with all."""
        if (
            isinstance(target, (ast.Tuple, ast.List))
            and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, ast.Starred) for e in [*target.elts, *value.elts])
        ):
            for element, part in zip(target.elts, value.elts, strict=True):
                self._bind_value(element, part)
            return
        self.bind_target(target, _alias_sources(value))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is None:
            if not isinstance(node.target, ast.Name):
                self._visit_chain(node.target)
            return  # ``x: int`` alone binds nothing
        self.visit(node.value)
        self._bind_value(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.scope.read(node.target.id)
            self.scope.bind(node.target.id)
        else:
            self.bind_target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._delete(target)

    def _delete(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.scope.delete(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._delete(element)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.mutate_target(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(alias.name)
            name = alias.asname or alias.name.split(".")[0]
            self.scope.bind(name)
            self.scope.module(name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self._imported(node.module)
        for alias in node.names:
            if alias.name == "*":
                self.scope.opaque(f"from {'.' * node.level}{node.module or ''} import *")
            else:
                self.scope.bind(alias.asname or alias.name)
                self.scope.module(alias.asname or alias.name)

    def _imported(self, module: str) -> None:
        """An import reads the module file a cell wrote, or the package it installed."""
        top = module.split(".")[0]
        self.scope.read(MODULE + defuse_state.module_name(top))
        for path in defuse_state.module_files(module):
            self.scope.read(FILE + path)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, _alias_sources(node.iter))
        self.visit_body(node.body)
        self.visit_body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars)
                what = _unpicklable(item.context_expr)
                if what and isinstance(item.optional_vars, ast.Name):
                    self.scope.note_value(item.optional_vars.id, what)
        self.visit_body(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.scope.bind(node.name)
        self.visit_body(node.body)

    def visit_Global(self, node: ast.Global) -> None:
        """At a cell's top level ``global x`` changes nothing (see FunctionScope for defs)."""

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        pass

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.scope.bind_walrus(node.target.id)

    def visit_match_case(self, node: ast.match_case) -> None:
        self.visit(node.pattern)
        if node.guard is not None:
            self.visit(node.guard)
        self.visit_body(node.body)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.scope.bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.scope.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.scope.bind(node.rest)

    # ---------------------------------------------------------------- functions and classes

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_signature(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        effects = function_effects(node)
        self.scope.bind(node.name)
        if isinstance(self.scope, FunctionScope):
            self.scope.merge(effects)  # a nested def: its effects are its parent's
        else:
            self.scope.defer(node.name, effects)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """A lambda's body counts as read where it is written (it is usually called there)."""
        self._visit_signature(node.args)
        effects = function_effects(node)
        for name in sorted(effects.reads):
            self.scope.read(name)
        for name in sorted(effects.soft_reads):
            self.scope.soft(name)
        for name in sorted(effects.draws):
            self.scope.draw(name)
        for name in sorted(effects.mutates):
            self.scope.mutate(name, by_method=name in effects.method_only)

    def _visit_signature(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        body = LocalScope(self.scope)
        Visitor(body).visit_body(node.body)
        merged = Effects(
            frozenset().union(*(e.reads for e in body.methods)),
            frozenset().union(*(e.defines for e in body.methods)),
            frozenset().union(*(e.mutates for e in body.methods)),
            frozenset().union(*(e.soft_reads for e in body.methods)),
            frozenset().union(*(e.draws for e in body.methods)),
        )
        self.scope.bind(node.name)
        if isinstance(self.scope, FunctionScope):
            self.scope.merge(merged)
        else:
            self.scope.defer(node.name, merged)

    # ---------------------------------------------------------------- comprehensions

    def _comprehension(self, generators: list[ast.comprehension], *parts: ast.expr) -> None:
        self.visit(generators[0].iter)  # the first iterable is evaluated outside
        inner = Visitor(LocalScope(self.scope, walrus_escapes=True))
        for number, generator in enumerate(generators):
            if number:
                inner.visit(generator.iter)
            inner.bind_target(generator.target, _alias_sources(generator.iter))
            for condition in generator.ifs:
                inner.visit(condition)
        for part in parts:
            inner.visit(part)

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node.generators, node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node.generators, node.key, node.value)

    # ---------------------------------------------------------------- expressions

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.scope.read(node.id)
        elif isinstance(node.ctx, ast.Del):
            self.scope.delete(node.id)
        else:  # a Store our statement handlers did not route (new syntax): still a binding
            self.scope.bind(node.id)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        key = defuse_state.environment_key(node)
        if key is not None and isinstance(node.ctx, ast.Load):
            self.scope.read(ENV + key)  # os.environ["KEY"]
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if self._ipython_call(node):
            return
        code = defuse_state.exec_code(node)
        if code is not None:
            self.generic_visit(node)
            self.python(code, isolated=False)  # exec("x = 1") runs in this namespace
            return
        self.generic_visit(node)
        self._in_place(node)
        self._files(node)
        self._random(node)
        strict, soft = defuse_state.evaluated_names(node)
        for name in sorted(strict):
            self.scope.read(name)
        for name in sorted(soft):
            self.scope.soft(name)
        setting, reading = defuse_state.environment_call(node)
        if setting:
            self.scope.bind(ENV + setting)
        if reading:
            self.scope.read(ENV + reading)
        if isinstance(node.func, ast.Name):
            arguments: list[Argument] = []
            for position, arg in enumerate(node.args):
                names = _alias_sources(arg.value if isinstance(arg, ast.Starred) else arg)
                if names:
                    arguments.append((position, tuple(sorted(names))))
            for keyword in node.keywords:
                names = _alias_sources(keyword.value)
                if keyword.arg and names:
                    arguments.append((keyword.arg, tuple(sorted(names))))
            self.scope.call(node.func.id, arguments)

    def _in_place(self, node: ast.Call) -> None:
        func = node.func
        inplace = any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        for keyword in node.keywords:
            if keyword.arg == "out":  # np.clip(a, 0, 1, out=a)
                for target in _alias_sources(keyword.value):
                    self.scope.mutate(target)
        mode = (
            isinstance(func, ast.Attribute)
            and func.attr in _MODE_METHODS
            and not node.args
            and not node.keywords
        )
        if isinstance(func, ast.Attribute) and (
            inplace
            or mode
            or func.attr in MUTATING_METHODS
            or _torch_inplace(func.attr)
            or func.attr in defuse_state.MODULE_SETTERS
            or (func.attr == "use" and (defuse_state.dotted(func) or "").endswith("style.use"))
        ):
            root = _root_name(func.value)
            if root is not None:
                direct = isinstance(func.value, ast.Name)
                by_method = direct and func.attr not in defuse_state.MODULE_SETTERS
                self.scope.mutate(root, by_method=by_method)
        elif name in MUTATING_FUNCTIONS and node.args:
            root = _root_name(node.args[0])
            if root is not None:
                self.scope.mutate(root)

    def _files(self, node: ast.Call) -> None:
        if defuse_state.call_name(node) in defuse_state.PATH_BUILDERS:
            return  # a part of a path: what uses the whole path reads it
        written, appended, read = defuse_state.file_effects(node)
        for path in read:
            self.scope.read(FILE + path)
        touched = set(written) | set(appended) | set(read)
        for literal in defuse_state.read_candidates(node):
            if literal not in touched:
                self.scope.read(FILE + literal)  # a literal path: the file an earlier cell wrote
        for path in appended:
            self.scope.mutate(FILE + path)
        for path in written:
            self.scope.bind(FILE + path)
        for path in [*appended, *written]:
            parent = defuse_state.folder(path)
            if parent is not None:
                self.scope.read(DIR + parent)  # the folder it is written into must exist

    def _random(self, node: ast.Call) -> None:
        seeded, drawn = defuse_state.global_random(node)
        if seeded:
            self.scope.bind(RANDOM + seeded)
        elif drawn:
            self.scope.mutate(RANDOM + drawn)
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in defuse_state.GENERATOR_DRAWS
            and isinstance(func.value, ast.Name)
        ):
            self.scope.draw(func.value.id)
        for keyword in node.keywords:
            if keyword.arg in defuse_state.GENERATOR_KEYWORDS and isinstance(
                keyword.value, ast.Name
            ):
                self.scope.draw(keyword.value.id)

    # ---------------------------------------------------------------- IPython

    def _ipython_call(self, node: ast.Call) -> bool:
        """``get_ipython().run_line_magic('time', 'x = 1')`` and friends, as IPython wrote them."""
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            return False
        args = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
        if func.attr in ("system", "getoutput") and args:
            defuse_magics.shell(self.scope, args[0])
        elif func.attr == "run_line_magic" and len(args) == 2:
            defuse_magics.line_magic(self, *args)
        elif func.attr == "run_cell_magic" and len(args) == 3:
            defuse_magics.cell_magic(self, *args)
        else:
            return False
        return True

    def script_effects(self, code: str) -> Effects:
        """What running (or importing) a Python file with ``code`` does outside its own
        names: the files it reads and writes, the state it uses."""
        try:
            tree = parse_cell(code)
        except SyntaxError:
            return Effects()
        scope = ModuleScope()
        Visitor(scope).visit_body(tree.body)
        facts = scope.result()
        return Effects(
            reads=frozenset(n for n in facts.reads if is_state(n) and not n.startswith(MODULE)),
            defines=frozenset(n for n in facts.defines if is_state(n)),
            mutates=frozenset(n for n in facts.mutates if is_state(n)),
        )

    def python(self, code: str, *, isolated: bool) -> None:
        """Python a magic runs: in this namespace, or (``isolated``) in one of its own."""
        try:
            tree = parse_cell(code)
        except SyntaxError:
            return
        scope = LocalScope(self.scope) if isolated else self.scope
        Visitor(scope).visit_body(tree.body)


# ------------------------------------------------------------------ helpers


def function_effects(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Effects:
    """What calling the function reads, defines (``global``) and mutates of the globals."""
    local, declared = _locals_of(node)
    args = node.args
    params = [a.arg for a in [*args.posonlyargs, *args.args]]
    scope = FunctionScope(local, declared, params)
    for arg in args.kwonlyargs:
        scope.params.setdefault(arg.arg, -1)
    visitor = Visitor(scope)
    if isinstance(node, ast.Lambda):
        visitor.visit(node.body)
    else:
        visitor.visit_body(node.body)
    return scope.effects()


def _locals_of(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
) -> tuple[set[str], set[str]]:
    """Python's rule: a name bound anywhere in the body is local, unless declared global."""
    args = node.args
    local = {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        if a is not None
    }
    declared: set[str] = set()
    stack: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    while stack:
        item = stack.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local.add(item.name)
            continue  # its body is another scope
        if isinstance(item, ast.Lambda):
            continue
        if isinstance(item, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            local.update(n.target.id for n in ast.walk(item) if isinstance(n, ast.NamedExpr))
            continue
        if isinstance(item, ast.Name) and not isinstance(item.ctx, ast.Load):
            local.add(item.id)
        elif isinstance(item, ast.NamedExpr):
            local.add(item.target.id)
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            local.update((a.asname or a.name.split(".")[0]) for a in item.names if a.name != "*")
        elif isinstance(item, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and item.name:
            local.add(item.name)
        elif isinstance(item, ast.MatchMapping) and item.rest:
            local.add(item.rest)
        elif isinstance(item, (ast.Global, ast.Nonlocal)):
            declared.update(item.names)
        stack.extend(ast.iter_child_nodes(item))
    return local - declared, declared


def _alias_sources(node: ast.expr | None) -> set[str]:
    """The names whose objects ``node``'s value may hold or be: ``[a, b]`` → a, b.

    Containers of names, an element or slice of a name (``frames[0]``, ``a[::2]``, a NumPy
    view), ``enumerate``/``zip``/``list``… of them, ``d.values()``, ``x if c else y``.
    """
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return set().union(
            *(_alias_sources(e.value if isinstance(e, ast.Starred) else e) for e in node.elts)
        )
    if isinstance(node, ast.Dict):
        return set().union(*(_alias_sources(v) for v in node.values))
    if isinstance(node, ast.Subscript) and _is_view_index(node.slice):
        return _alias_sources(node.value)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in _PASS_THROUGH:
            return set().union(*(_alias_sources(a) for a in node.args))
        if isinstance(func, ast.Attribute) and func.attr in _VIEW_METHODS and not node.args:
            return _alias_sources(func.value)
        parts = set()  # torch.optim.SGD(model.parameters()) holds the model's tensors
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if (
                isinstance(arg, ast.Call)
                and isinstance(arg.func, ast.Attribute)
                and arg.func.attr in _PART_METHODS
                and isinstance(arg.func.value, ast.Name)
            ):
                parts.add(arg.func.value.id)
        return parts
    if isinstance(node, ast.IfExp):
        return _alias_sources(node.body) | _alias_sources(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_alias_sources(v) for v in node.values))
    if isinstance(node, ast.NamedExpr):
        return _alias_sources(node.value)
    return set()


def _is_view_index(index: ast.expr) -> bool:
    if isinstance(index, (ast.Constant, ast.Slice)):
        return True
    if isinstance(index, ast.Tuple):
        return all(isinstance(e, (ast.Constant, ast.Slice)) for e in index.elts)
    return isinstance(index, ast.UnaryOp) and isinstance(index.operand, ast.Constant)


def _root_name(node: ast.expr) -> str | None:
    """``a`` for ``a``, ``a.b``, ``a[0].c``; None when the chain starts elsewhere (a call)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _torch_inplace(method: str) -> bool:
    return len(method) > 1 and method.endswith("_") and not method.endswith("__")


def _unpicklable(value: ast.expr) -> str | None:
    if isinstance(value, ast.GeneratorExp):
        return "a generator"
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return _UNPICKLABLE_CALLS.get(name)
    return None
