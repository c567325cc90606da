"""docs/tour.md and docs/gradients.md stay true to the code.

* tour.md: its ten stops come in reading order, each names its files, a
  first thing to read and its idea; every path it mentions exists, every
  ``file::name`` reference is defined in that file (found by parsing the
  file), every ``minidl.x.y`` name imports, and every other identifier in
  backticks occurs in the package's source.
* gradients.md: every ``Function`` subclass of the package (found by
  importing every module and walking ``Function.__subclasses__()``) has a
  row under its own file's heading, no row names a class that does not
  exist, every row names a test, and every test named exists (collected by
  ``pytest --collect-only``).

The checking helpers are themselves tested on small wrong inputs, so that
these tests can fail.
"""
import ast
import builtins
import importlib
import keyword
import os
import pkgutil
import re
import subprocess
import sys

import minidl
from minidl.autograd.function import Function

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOUR = os.path.join(ROOT, "docs", "tour.md")
GRADIENTS = os.path.join(ROOT, "docs", "gradients.md")

STOPS = ["Tensor", "Autograd", "Ops", "nn", "optim", "data", "models",
         "convert", "fine-tune", "attention", "peft"]

PATH = re.compile(r"^(?:minidl|examples|tests|docs|benchmarks)/[\w./-]*$")
REFERENCE = re.compile(r"^((?:minidl|examples|tests|benchmarks)/[\w/.-]+\.py)"
                       r"::([A-Za-z_][\w.]*)$")
IDENTIFIER = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*(?:\(\))?$")
TEST_ID = re.compile(r"tests/[\w/]+\.py::\w+(?:\[[\w.-]+\])?")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def code_spans(text):
    """The contents of the `inline code` spans of Markdown text (fenced
    blocks left out)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.findall(r"`([^`\n]+)`", text)


# -- resolving names ----------------------------------------------------------

def _names_in(body):
    """{name: node} of the classes, functions and assigned names of a body."""
    names = {}
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
    return names


def is_defined(path, qualname):
    """True when `qualname` ("name" or "Class.method") is defined in the
    Python file `path` (relative to the repository root)."""
    full = os.path.join(ROOT, path)
    if not os.path.isfile(full):
        return False
    body = ast.parse(read(full)).body
    parts = qualname.split(".")
    for position, part in enumerate(parts):
        node = _names_in(body).get(part)
        if node is None:
            return False
        if position < len(parts) - 1:
            if not isinstance(node, ast.ClassDef):
                return False
            body = node.body
    return True


def imports(dotted):
    """True when `dotted` ("minidl.nn.functional.conv2d") is a module or an
    attribute reachable from one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(value, name):
                return False
            value = getattr(value, name)
        return True
    return False


def package_words():
    """Every identifier-like word in the package's source files."""
    words = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "minidl")):
        for name in files:
            if name.endswith(".py"):
                words.update(re.findall(r"[A-Za-z_]\w*",
                                        read(os.path.join(folder, name))))
    return words


def tour_problems(text, words):
    """What in a tour text does not match the code (empty when all is well)."""
    problems = []
    for span in code_spans(text):
        span = span.strip()
        reference = REFERENCE.match(span)
        if reference:
            path, qualname = reference.groups()
            if not is_defined(path, qualname):
                problems.append("{}: {} is not defined in {}".format(
                    span, qualname, path))
        elif PATH.match(span):
            if not os.path.exists(os.path.join(ROOT, span)):
                problems.append("{}: no such file or folder".format(span))
        elif IDENTIFIER.match(span):
            name = span[:-2] if span.endswith("()") else span
            if name.startswith("minidl."):
                if not imports(name):
                    problems.append("{}: does not import".format(span))
            elif not (keyword.iskeyword(name) or hasattr(builtins, name)
                      or name.split(".")[-1] in words):
                problems.append("{}: not a name found in minidl/".format(span))
    return problems


# -- the tour -----------------------------------------------------------------

def tour_stops(text):
    """[(title, section text)] of the numbered stops (## 1. ... )."""
    parts = re.split(r"^## (\d+)\. (.+)$", text, flags=re.M)
    return [(parts[i + 1].strip(), parts[i + 2])
            for i in range(1, len(parts) - 1, 3)]


def test_the_tour_has_its_nine_stops_in_reading_order():
    titles = [title for title, _ in tour_stops(read(TOUR))]
    assert len(titles) == len(STOPS), titles
    for stop, title in zip(STOPS, titles):
        assert title.startswith(stop + ":"), (stop, title)


def test_each_stop_names_files_a_first_read_and_its_idea():
    for title, section in tour_stops(read(TOUR)):
        assert "**Files:**" in section and "**The idea:**" in section, title
        first = section.split("**Read first:**")
        assert len(first) == 2, title
        paragraph = first[1].split("\n\n")[0]
        assert any(REFERENCE.match(span) for span in code_spans(paragraph)), \
            "{}: 'Read first' names no file::name".format(title)


def test_every_path_and_name_in_the_tour_exists():
    problems = tour_problems(read(TOUR), package_words())
    assert not problems, "\n".join(problems)


def test_the_tour_lists_every_numbered_example():
    examples = sorted(name for name in os.listdir(os.path.join(ROOT, "examples"))
                      if re.match(r"\d\d_.*\.py$", name))
    assert len(examples) == 9
    text = read(TOUR)
    for name in examples:
        assert "examples/" + name in text, name


def test_the_tour_checks_can_fail():
    words = {"Tensor", "grad"}
    bad = ("`minidl/tensor.py::Tensor.no_such_method` `minidl/no_such.py` "
           "`minidl/tensor.py::no_such_function` `minidl.no_such_module` "
           "`no_such_name` `minidl/tensor.py::Tensor.backward` `x.grad`")
    problems = tour_problems(bad, words)
    assert len(problems) == 5, problems
    assert not tour_stops("# no stops here\n")


# -- the gradient table -------------------------------------------------------

def all_functions():
    """{(file, class name)} of every public Function subclass in minidl."""
    for module in pkgutil.walk_packages(minidl.__path__, "minidl."):
        try:
            importlib.import_module(module.name)
        except ImportError:
            if "cuda" not in module.name:  # only GPU kernels may need CuPy
                raise
    found, stack = set(), [Function]
    while stack:
        for subclass in stack.pop().__subclasses__():
            stack.append(subclass)
            if subclass.__module__.startswith("minidl.") and \
                    not subclass.__name__.startswith("_"):
                path = subclass.__module__.replace(".", "/") + ".py"
                found.add((path, subclass.__name__))
    return found


def table_rows(text):
    """{(file, op name): (forward, gradient, checked by)} from the tables
    under '## minidl/....py' headings."""
    rows, current = {}, None
    for line in text.splitlines():
        heading = re.match(r"^## (minidl/[\w/]+\.py)\s*$", line)
        if heading:
            current = heading.group(1)
            continue
        if line.startswith("## "):
            current = None
        row = re.match(r"^\| `(\w+)` \|(.*)\|\s*$", line)
        if current and row:
            cells = [cell.strip() for cell in row.group(2).split(" | ")]
            rows[(current, row.group(1))] = tuple(cells)
    return rows


def test_every_op_has_a_row_under_its_file():
    documented = set(table_rows(read(GRADIENTS)))
    functions = all_functions()
    assert len(functions) > 40  # the walk found the ops
    missing = sorted(functions - documented)
    stale = sorted(documented - functions)
    assert not missing, "ops missing from docs/gradients.md: {}".format(missing)
    assert not stale, "rows for classes that do not exist: {}".format(stale)


def test_every_row_gives_forward_gradient_and_a_test():
    for key, cells in table_rows(read(GRADIENTS)).items():
        assert len(cells) == 3 and all(cells), key
        assert TEST_ID.search(cells[2]), "{}: no test named".format(key)


def collected_test_ids(files):
    """The node ids pytest collects from `files` (run in a subprocess)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q",
         "-p", "no:cacheprovider"] + sorted(files),
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line.strip() for line in result.stdout.splitlines() if "::" in line}


def missing_tests(references, collected):
    """The references (file::test or file::test[id]) pytest did not collect."""
    missing = []
    for reference in references:
        if "[" in reference:
            found = reference in collected
        else:
            found = reference in collected or any(
                test.startswith(reference + "[") for test in collected)
        if not found:
            missing.append(reference)
    return missing


def test_every_test_named_in_the_table_exists():
    references = set(TEST_ID.findall(read(GRADIENTS)))
    # Each gradcheck test of an op spec has two siblings; check them too.
    for reference in list(references):
        spec = re.match(r"tests/test_ops_gradcheck.py::test_gradcheck(\[.+\])$",
                        reference)
        if spec:
            references.add("tests/test_ops_gradcheck.py::test_gradgradcheck"
                           + spec.group(1))
            references.add("tests/test_ops_torch.py::test_against_torch"
                           + spec.group(1))
    assert len(references) > 40
    files = {reference.split("::")[0] for reference in references}
    missing = missing_tests(references, collected_test_ids(files))
    assert not missing, "tests named in docs/gradients.md that do not " \
        "exist: {}".format(missing)


def test_the_gradient_table_checks_can_fail():
    text = ("## minidl/ops/arithmetic.py\n\n| Op | F | G | T |\n|---|---|---|---|\n"
            "| `Add` | `z = x + y` | `dx = g` | `tests/a.py::test_b[c]` |\n")
    assert table_rows(text) == {("minidl/ops/arithmetic.py", "Add"): (
        "`z = x + y`", "`dx = g`", "`tests/a.py::test_b[c]`")}
    collected = {"tests/a.py::test_b[c]", "tests/a.py::test_d[e]"}
    assert missing_tests(["tests/a.py::test_b[c]", "tests/a.py::test_d",
                          "tests/a.py::test_b[x]", "tests/a.py::test_f"],
                         collected) == ["tests/a.py::test_b[x]",
                                        "tests/a.py::test_f"]
