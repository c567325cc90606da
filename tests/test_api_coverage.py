"""The PyTorch names minidl covers (minidl/testing/api_coverage.py)."""
from minidl.testing import api_coverage


def test_every_listed_name_is_spelled_as_in_torch(torch):
    import torch.optim.lr_scheduler  # noqa: F401  (a submodule)
    for label, _, theirs, names in api_coverage.NAMESPACES:
        place = api_coverage.resolve(theirs, torch)
        unknown = [name for name in names.split() if not hasattr(place, name)]
        assert not unknown, f"{label}: torch has no {unknown}"


def test_minidl_has_every_listed_name():
    missing = {label: names for label, _, names in api_coverage.coverage()
               if names}
    assert not missing, missing


def test_the_table_prints(capsys):
    assert api_coverage.main(["--missing"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| namespace | names minidl has | of those listed |"
    assert len(lines) == 2 + len(api_coverage.NAMESPACES)
