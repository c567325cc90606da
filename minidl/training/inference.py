"""Rebuilding a trained model from a file, for evaluation and prediction.

Accepted files: a fine-tuning checkpoint (``last.npz``), the weights a run
writes (``best.npz``, ``model.npz``), or any converted weights file
(``python -m minidl.convert``). Their metadata names the architecture, and
where known the class names, the input normalisation and the image size.
"""
import numpy as np

from .. import backend, models, serialization
from ..data.cifar import CLASSES as CIFAR10_CLASSES
from .checkpoint import CHECKPOINT_FORMAT
from .data import IMAGENET_MEAN, IMAGENET_STD


class LoadedModel:
    """A model in eval mode with what is needed to feed it: ``classes``
    (names, one per output), ``mean``/``std`` (input normalisation) and
    ``image_size`` ((height, width) it was trained on, or None), and the
    ``device`` it is on."""

    def __init__(self, model, classes, mean, std, image_size, metadata,
                 device):
        self.model = model
        self.device = device
        self.classes = classes
        self.mean, self.std = mean, std
        self.image_size = image_size
        self.metadata = metadata


def choose_device(name):
    """'auto' (a GPU when there is one), 'cpu', 'cuda' or 'cuda:N'."""
    if name == "auto":
        return backend.Device("cuda") if backend.cuda_is_available() \
            else backend.Device("cpu")
    return backend.Device(name)


def _class_names(metadata, architecture, num_classes):
    names = metadata.get("classes")
    if names and len(names) == num_classes:
        return list(names)
    if architecture in models.CIFAR_MODELS and num_classes == 10:
        return list(CIFAR10_CLASSES)
    return [str(i) for i in range(num_classes)]


def _image_size(metadata):
    size = metadata.get("image_size")
    if size:
        return int(size[0]), int(size[1])
    side = metadata.get("input_size")
    return (int(side), int(side)) if side else None


def read_model_file(path):
    """(state dict, metadata) of a checkpoint or a weights file."""
    state, metadata = serialization.load(path, with_metadata=True)
    metadata = dict(metadata or {})
    if metadata.get("format") == CHECKPOINT_FORMAT:
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError("{}: expected a checkpoint or a weights file (a state "
                         "dict), found a {}".format(path, type(state).__name__))
    return state, metadata


def build_model(architecture, state, path, settings=None):
    """The `architecture` model with `state` loaded, its head sized to the
    state's classifier (`path` names the file in errors). `settings`: the
    builder's keywords (a converted ViT's ``vit_config``)."""
    if architecture not in models.list_models():
        raise ValueError("{}: its metadata names no known architecture (found "
                         "{!r}); expected one of {}".format(
                             path, architecture, ", ".join(models.list_models())))
    model = models.get_model(architecture, **(settings or {}))
    head = models.head_parameter_names(model)[0]
    if head not in state:
        raise ValueError("{}: no {} entry; is it a {} state dict?".format(
            path, head, architecture))
    num_classes = int(state[head].shape[0])
    if num_classes != model.num_classes:
        models.replace_head(model, num_classes)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError("{}: does not fit {}: {}".format(
            path, architecture, error)) from None
    return model


def load_model(path, device=None):
    """A LoadedModel (in eval mode) from a checkpoint or weights file."""
    state, metadata = read_model_file(path)
    architecture = metadata.get("architecture")
    model = build_model(architecture, state, path,
                        metadata.get("vit_config"))
    num_classes = model.num_classes
    device = backend.Device(device) if device is not None else \
        backend.Device("cpu")
    model.to(device)
    model.eval()
    return LoadedModel(model, _class_names(metadata, architecture, num_classes),
                       tuple(metadata.get("input_mean") or IMAGENET_MEAN),
                       tuple(metadata.get("input_std") or IMAGENET_STD),
                       _image_size(metadata), metadata, device)


def label_mapping(dataset_classes, model_classes, option="--data"):
    """Array mapping each dataset class index to the model's output index,
    matching classes by name; identity when the model's names are only
    numbers. Raises when a dataset class is unknown to the model."""
    numbered = model_classes == [str(i) for i in range(len(model_classes))]
    if numbered or list(dataset_classes) == list(model_classes):
        if len(dataset_classes) > len(model_classes):
            raise ValueError("{}: the dataset has {} classes, the model only {}"
                             .format(option, len(dataset_classes),
                                     len(model_classes)))
        return np.arange(len(dataset_classes))
    position = {name: i for i, name in enumerate(model_classes)}
    unknown = [name for name in dataset_classes if name not in position]
    if unknown:
        raise ValueError("{}: classes {} are not among the model's classes {}"
                         .format(option, unknown, list(model_classes)))
    return np.array([position[name] for name in dataset_classes])


def read_image(path, image_size):
    """One image file as uint8 (H, W, 3), resized for the model: to
    `image_size` (height, width) exactly when the model was fine-tuned at
    that size; for ImageNet-sized inputs (224 and more), the shorter side
    is first resized to 256/224 of the size and the centre cropped, as
    torchvision's evaluation does."""
    from ..data.folder import _import_pillow
    image_module = _import_pillow()
    try:
        with image_module.open(path) as image:
            image = image.convert("RGB")
            if image_size is not None:
                image = _fit(image, image_size, image_module)
            return np.asarray(image)
    except OSError as error:
        raise ValueError("cannot read image {}: {}".format(path, error)) \
            from None


def _fit(image, image_size, image_module):
    height, width = image_size
    if height >= 224 and (image.size[0], image.size[1]) != (width, height):
        # Resize the shorter side to 256/224 of the target, then centre-crop.
        scale = height * 256 / 224 / min(image.size)
        resized = (max(width, round(image.size[0] * scale)),
                   max(height, round(image.size[1] * scale)))
        image = image.resize(resized, image_module.BILINEAR)
        left = (resized[0] - width) // 2
        top = (resized[1] - height) // 2
        return image.crop((left, top, left + width, top + height))
    if image.size != (width, height):
        image = image.resize((width, height), image_module.BILINEAR)
    return image


def top_k(loaded, images, k=5):
    """For a uint8 batch (B, H, W, 3): per image, the `k` most probable
    classes as [(class name, probability)], most probable first."""
    from ..autograd import no_grad
    from ..data import transforms as T
    from ..nn import functional as F
    from ..tensor import Tensor
    batch = T.Compose([T.ToTensor(), T.Normalize(loaded.mean, loaded.std)])(
        images)
    with no_grad():
        logits = loaded.model(Tensor(backend.move_array(batch, loaded.device)))
        probabilities = backend.to_numpy(F.softmax(logits, dim=1).data)
    k = min(k, probabilities.shape[1])
    results = []
    for row in probabilities:
        order = np.argsort(-row, kind="stable")[:k]
        results.append([(loaded.classes[i], float(row[i])) for i in order])
    return results
