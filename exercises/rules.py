"""The exercise's own rules, checked on the learner's source (its AST), never by running it.

A task declares them next to its cases (``exercises/tasks/chNN.py``)::

    q1 = chapter.task(..., forbid={"conv2d": "the task asks you to write the convolution"},
                      rules=[explicit_loops("two loops over the output positions")])

``forbid`` maps a name to the reason it may not be used: a name (``conv2d``) or an attribute
(``F.conv2d``, ``convlib.functional.conv2d``) anywhere in the learner's function, in the
learner's own helpers it calls, or in the module-level imports and assignments those use
(``from convlib.functional import conv2d as c``). Every task also forbids :data:`ALWAYS`: the
checker's own objects (``q1.reference``, ``solution``), PyTorch, and the escape hatches that would
hide a name from this check (``getattr``, ``eval``, ``__import__``, ``globals``, dunder
attributes, ...). Structural rules (:func:`explicit_loops`, :func:`no_loops`,
:func:`max_loop_depth`, :func:`uses`) look at the learner's function itself.

:class:`Program` is the learner's code: the code cells that define functions, parsed.
:func:`solution_views` and :func:`hints_seen` read the cells that ran.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

__all__ = ["ALWAYS", "Rule", "Program", "explicit_loops", "no_loops", "max_loop_depth", "uses",
           "no_keyword", "library",
           "rule_problems", "solution_views", "hints_seen", "answer_cells"]

_CHECKER = "the grader's own objects are not part of an answer"
_HATCH = "it can hide a name from the grader's rule check; write the code directly"
ALWAYS: dict[str, str] = {
    "reference": _CHECKER, "solution": _CHECKER, "solution_source": _CHECKER, "exercises": _CHECKER,
    "_cases": _CHECKER,
    "torch": "the exercises are written in NumPy; PyTorch does the work for you",
    "torchvision": "the exercises are written in NumPy; torchvision does the work for you",
    "scipy": "the exercises are written in NumPy; SciPy does the work for you",
    **{name: _HATCH for name in ("eval", "exec", "compile", "__import__", "importlib", "globals",
                                 "locals", "vars", "getattr", "setattr", "delattr", "sys", "inspect",
                                 "gc", "ctypes", "builtins", "open", "subprocess", "os", "pickle",
                                 "marshal", "breakpoint")},
}
_DUNDER_OK = {"__init__", "__call__", "__name__", "__len__", "__getitem__", "__repr__", "__doc__"}


@dataclass
class Rule:
    """A structural rule: ``test(function_node)`` returns a problem (text) or ``None``."""

    description: str
    test: Callable[[ast.AST, "Program"], str | None]


def _loops(node: ast.AST) -> list[ast.AST]:
    kinds = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
             ast.GeneratorExp)
    return [n for n in ast.walk(node) if isinstance(n, kinds)]


def _depth(node: ast.AST) -> int:
    here = 1 if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) else 0
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        here = len(node.generators)
    return here + max((_depth(c) for c in ast.iter_child_nodes(node)), default=0)


def explicit_loops(what: str) -> Rule:
    """The task asks for explicit Python loops (``what`` says over what)."""
    def test(fn, program):
        if not any(isinstance(n, (ast.For, ast.While)) for n in ast.walk(fn)):
            return f"the task asks for explicit loops ({what}); your function has no for or while loop"
        return None
    return Rule(f"explicit loops ({what})", test)


def no_loops(what: str) -> Rule:
    """No Python loop (``for``, ``while`` or a comprehension) in the function itself."""
    def test(fn, program):
        found = _loops(fn)
        if found:
            kind = {ast.For: "a for loop", ast.While: "a while loop"}.get(type(found[0]), "a comprehension")
            return f"the task asks for {what}; your function has {kind} (line {found[0].lineno} of its cell)"
        return None
    return Rule(f"no Python loop ({what})", test)


def max_loop_depth(depth: int, what: str) -> Rule:
    """At most ``depth`` nested loops (e.g. 2 for "loop over the kernel taps only")."""
    def test(fn, program):
        d = _depth(fn)
        if d > depth:
            return f"the task allows {what}: at most {depth} nested loops; yours nest {d} deep"
        return None
    return Rule(f"at most {depth} nested loops ({what})", test)


def uses(name: str, why: str) -> Rule:
    """The function (or a helper of the learner's it calls) calls the learner's own ``name``."""
    def test(fn, program):
        if name not in program.defs:
            return f"{why}: define {name} and call it (no {name} of yours was found)"
        if name not in program.called_functions(fn):
            return f"{why}: your function does not call your {name}"
        return None
    return Rule(f"uses your {name}", test)


def no_keyword(keyword: str, why: str) -> Rule:
    """No call in the function passes ``keyword=`` (e.g. ``groups=`` to a library convolution)."""
    def test(fn, program):
        for n in ast.walk(fn):
            if isinstance(n, ast.Call) and any(k.arg == keyword for k in n.keywords):
                return f"{why}: your function passes {keyword}= (line {n.lineno} of its cell)"
        return None
    return Rule(f"no {keyword}= argument", test)


def library(*names: str, what: str = "this") -> dict[str, str]:
    """``forbid`` entries for library functions that do what the task asks you to write."""
    return {n: f"the task asks you to write {what} yourself, and {n} does it for you" for n in names}


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _ipython_free(source: str) -> str:
    """Cell source with IPython magics and shell lines commented out, so that it parses."""
    return "\n".join(("# " + ln) if ln.lstrip().startswith(("%", "!")) else ln
                     for ln in source.splitlines())


def answer_cells(cells: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The code cells that define a function or a class at module level (also inside an if or
    try block; or try to: a cell with a syntax error that contains ``def``), in notebook order."""
    out = []
    for index, source in cells:
        tree = _parse(_ipython_free(source))
        if tree is None:
            if re.search(r"^\s*(def|class)\s", source, re.M):
                out.append((index, source))
        elif any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 for s in _module_level(tree.body)):
            out.append((index, source))
    return out


@dataclass
class Program:
    """The learner's answer cells, parsed: the functions they define and the module-level
    imports and assignments (the last definition of a name wins, as in a notebook)."""

    cells: list[tuple[int, str]]
    defs: dict[str, tuple[int, ast.AST]] = field(default_factory=dict)
    bindings: dict[str, tuple[int, ast.AST]] = field(default_factory=dict)

    def __post_init__(self):
        for index, source in self.cells:
            tree = _parse(_ipython_free(source))
            if tree is None:
                continue
            for stmt in _module_level(tree.body):
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.defs[stmt.name] = (index, stmt)
                    self.bindings.pop(stmt.name, None)
                for name in _bound_names(stmt):
                    self.bindings[name] = (index, stmt)
                    self.defs.pop(name, None)

    def called_functions(self, fn: ast.AST) -> set[str]:
        """The learner's functions reachable from ``fn`` by name."""
        seen: set[str] = set()
        todo = [fn]
        while todo:
            node = todo.pop()
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and n.id in self.defs and n.id not in seen:
                    seen.add(n.id)
                    todo.append(self.defs[n.id][1])
        return seen

    def definition(self, function: str) -> tuple[int, ast.AST] | None:
        """The statement that last bound ``function``: its ``def``, or an assignment."""
        return self.defs.get(function) or self.bindings.get(function)

    def forbidden_uses(self, function: str, forbid: Mapping[str, str]) -> list[str]:
        """``["uses conv2d (cell 3, line 5): reason", ...]`` for ``function`` and what it reaches."""
        if self.definition(function) is None:
            return []
        problems, seen_nodes, seen_names = [], set(), set()
        todo = [self.definition(function)]
        while todo:
            index, node = todo.pop()
            if id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            for name, line, is_name in _identifiers(node):
                if is_name and name in self.defs:
                    todo.append(self.defs[name])
                    continue  # the learner's own function of that name: look inside it instead
                if is_name and name in self.bindings:
                    todo.append(self.bindings[name])
                why = forbid.get(name) or (
                    _HATCH if name.startswith("__") and name.endswith("__") and name not in _DUNDER_OK else None)
                if why and name not in seen_names:
                    seen_names.add(name)
                    problems.append(f"uses {name} (cell {index}, line {line}): {why}")
        return problems


def _module_level(body: list[ast.stmt]):
    """The statements that run at module level, also inside if/try/with/for blocks."""
    for stmt in body:
        yield stmt
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for name in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(stmt, name, []) or [])
            for handler in getattr(stmt, "handlers", []) or []:
                yield from _module_level(handler.body)


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*"]
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def _identifiers(node: ast.AST):
    """(identifier, line, is a plain name) for every name, attribute, keyword argument and
    import path part under ``node``."""
    for n in ast.walk(node):
        line = getattr(n, "lineno", 0)
        if isinstance(n, ast.Name):
            yield n.id, line, True
        elif isinstance(n, ast.Attribute):
            yield n.attr, line, False
        elif isinstance(n, ast.keyword) and n.arg:
            yield n.arg, getattr(n.value, "lineno", 0), False
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for part in (n.module or "").split(".") if isinstance(n, ast.ImportFrom) else ():
                if part:
                    yield part, line, False
            for a in n.names:
                for part in a.name.split("."):
                    yield part, line, False
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("__") \
                and n.value.endswith("__"):
            yield n.value, line, False


def rule_problems(program: Program, function: str, forbid: Mapping[str, str],
                  rules: Iterable[Rule], allow: Iterable[str] = ()) -> list[str]:
    """Everything ``function`` does that its task does not allow (empty: nothing)."""
    found = program.definition(function)
    if found is None:  # defined by exec, globals(), ...: nothing the rules could read
        return [f"the grader cannot read how {function} is defined; define it with a def statement "
                "in its answer cell"]
    always = {k: v for k, v in ALWAYS.items() if k not in set(allow)}
    problems = program.forbidden_uses(function, {**always, **forbid})
    fn = found[1]
    for rule in rules:
        found = rule.test(fn, program)
        if found:
            problems.append(found)
    return problems


# ----- what the learner looked at, from the cells that ran -----------------------------------
def _calls_on(tree: ast.AST, attrs: set[str]):
    """(object name or None, attribute, call node or None) for every use of one of ``attrs``."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and n.attr in attrs:
            yield (n.value.id if isinstance(n.value, ast.Name) else None), n.attr
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in attrs:
            yield None, n.value


def solution_views(cells: Iterable[str], tasks: Iterable[str]) -> set[str]:
    """The tasks whose solution the executed ``cells`` asked for (``qN.solution()``,
    ``qN.solution_source()``, also through an alias); a use that names no task (a string, a
    loop over the tasks) or reads the solution notebooks marks every task."""
    tasks = list(tasks)
    seen: set[str] = set()
    for source in cells:
        tree = _parse(_ipython_free(source))
        if tree is None:
            if "solution" in source:
                return set(tasks)
            continue
        for obj, _ in _calls_on(tree, {"solution", "solution_source", "SOLUTIONS"}):
            if obj in tasks:
                seen.add(obj)
            else:
                return set(tasks)
        if re.search(r"solutions[/\\]|SOLUTIONS", source):
            return set(tasks)
    return seen


def hints_seen(cells: Iterable[str], tasks: Mapping[str, int]) -> dict[str, int]:
    """How many hints of each task the executed ``cells`` asked for (``tasks``: name -> count)."""
    seen = {t: 0 for t in tasks}
    for source in cells:
        tree = _parse(_ipython_free(source))
        if tree is None:
            continue
        for n in ast.walk(tree):
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "hint"
                    and isinstance(n.func.value, ast.Name) and n.func.value.id in tasks):
                name = n.func.value.id
                arg = n.args[0] if n.args else None
                number = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, int) else seen[name] + 1
                seen[name] = min(max(seen[name], number), tasks[name])
    return seen
