"""minidl.load on files that are not minidl's .npz: PyTorch checkpoints get
advice on --weights and minidl.convert, never NumPy's allow_pickle=."""
import pickle
import zipfile

import pytest

import minidl


def _assert_advice(error, path):
    message = str(error.value)
    assert "allow_pickle" not in message
    assert str(path) in message
    assert "--weights" in message and "python -m minidl.convert" in message


def test_a_pickled_checkpoint_gets_weights_and_convert_advice(tmp_path):
    path = tmp_path / "resnet20.th"
    path.write_bytes(pickle.dumps({"state_dict": {}}, protocol=2))
    with pytest.raises(ValueError, match="not an .npz of arrays: it holds "
                                         "pickled data") as error:
        minidl.load(path)
    _assert_advice(error, path)
    assert str(tmp_path / "resnet20.npz") in str(error.value)


def test_a_torch_zip_checkpoint_is_not_read_as_arrays(tmp_path):
    # torch.save writes a zip of pickles: np.load would list its members.
    path = tmp_path / "model.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps({}))
        archive.writestr("model/version", "3\n")
    with pytest.raises(ValueError, match="a zip of model/data.pkl") as error:
        minidl.load(path)
    _assert_advice(error, path)


def test_a_pickle_named_npz_suggests_another_output_name(tmp_path):
    path = tmp_path / "weights.npz"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    with pytest.raises(ValueError) as error:
        minidl.load(path)
    _assert_advice(error, path)
    assert str(tmp_path / "weights-converted.npz") in str(error.value)
