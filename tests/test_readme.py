"""The README's set-up lines are what CI runs, and its first sample shows a
graph (printed before backward() releases it)."""
import contextlib
import io
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def _section(text, heading):
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def _blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def _normalise(command):
    """A pip or pytest command without `python -m` and quiet flags."""
    command = re.sub(r"^python -m ", "", command.strip())
    return re.sub(r" -q\b", "", command)


def test_set_up_is_two_lines_and_ci_runs_each_command():
    setup = _blocks(_section(_read("README.md"), "Set up"), "bash")[0]
    lines = [line for line in setup.splitlines() if line.strip()]
    assert len(lines) == 2
    ci = {_normalise(line) for line in _read(".ci", "run").splitlines()}
    ci |= {_normalise(part.strip("() ").split("&& ")[-1])
           for part in _read(".ci", "run").splitlines() if "&&" in part}
    for line in lines:
        for command in line.split(" && "):
            assert _normalise(command) in ci, command


def test_first_sample_prints_the_whole_graph():
    sample = _blocks(_section(_read("README.md"), "Autograd in ten lines"),
                     "python")[0]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(sample, "README.md", "exec"), {})
    text = printed.getvalue()
    assert text.startswith("digraph minidl")
    for node in ("Sum", "Add", "Mul", "leaf"):
        assert node in text, text
    assert "tensor([4., 6., 8.]" in text  # x.grad, printed after the graph
    assert text.index("digraph") < text.index("tensor([4., 6., 8.]")
