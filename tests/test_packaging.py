"""The embedded sample and weights are in the built wheel and sdist."""
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = "minidl/data/sample"


def _expected_files():
    """The sample's files, relative to the repository root."""
    found = []
    for folder, _, names in os.walk(os.path.join(ROOT, SAMPLE)):
        for name in names:
            found.append(os.path.relpath(os.path.join(folder, name), ROOT)
                         .replace(os.sep, "/"))
    return sorted(found)


def test_the_sample_is_complete_in_the_tree():
    files = _expected_files()
    assert f"{SAMPLE}/NOTICE" in files
    assert f"{SAMPLE}/resnet20-cifar10.npz" in files
    assert sum(name.endswith(".jpg") for name in files) == 1000


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel names, sdist names), built with setuptools from a copy of the
    tree (so the build leaves nothing in the checkout)."""
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "runs", "*.egg-info", "__pycache__",
        ".hypothesis", ".pytest_cache", ".venv"))
    out = work / "out"
    out.mkdir()
    script = ("from setuptools import build_meta as b; "
              f"wheel = b.build_wheel({str(out)!r}); "
              f"sdist = b.build_sdist({str(out)!r}); "
              "print('built', wheel, sdist)")
    result = subprocess.run([sys.executable, "-c", script], cwd=source,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    built_line = [line for line in result.stdout.splitlines()
                  if line.startswith("built ")][-1]
    _, wheel_name, sdist_name = built_line.split()
    with zipfile.ZipFile(out / wheel_name) as wheel:
        wheel_files = set(wheel.namelist())
    with tarfile.open(out / sdist_name) as sdist:
        prefix = sdist_name[:-len(".tar.gz")] + "/"
        sdist_files = {name[len(prefix):] for name in sdist.getnames()}
    return wheel_files, sdist_files


def test_wheel_holds_the_sample_and_weights(built):
    wheel_files, _ = built
    missing = [name for name in _expected_files() if name not in wheel_files]
    assert not missing, missing[:5]


def test_sdist_holds_the_sample_and_weights(built):
    _, sdist_files = built
    missing = [name for name in _expected_files() if name not in sdist_files]
    assert not missing, missing[:5]
