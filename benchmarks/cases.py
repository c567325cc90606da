"""The work that is timed: the same cases for minidl and for PyTorch.

Each case is built by ``build(framework, name, device, data)`` and returns
a :class:`Case` with two callables: ``prepare()`` (untimed, e.g. the forward
pass before a timed backward pass; may be None) and ``run()`` (the timed
work, `steps` steps of it; it waits for the GPU before returning). Both
frameworks get the same inputs: NumPy arrays drawn from the same seed,
converted to float32 tensors, or for the fine-tuning cases the same
batches of an image folder (`data`; see ``benchmarks/finetune_case.py``).
"""
import numpy as np

from .finetune_case import FINETUNE_CASES, build_finetune

# name: (description, kind); the order is the order of the table.
CASES = {
    "resnet20_train": "ResNet-20 training step, batch 128 (fwd + CE + bwd + AdamW)",
    "resnet20_infer": "ResNet-20 inference, batch 256 (eval, no_grad)",
    "resnet18_train": "resnet18 training step at 32x32, batch 128",
    "conv_s1_fwd": "conv2d 3x3 fwd, 128x16x32x32 -> 16 (stage 1)",
    "conv_s1_bwd": "conv2d 3x3 bwd (dx, dW), 128x16x32x32 -> 16",
    "conv_s2_fwd": "conv2d 3x3 fwd, 128x32x16x16 -> 32 (stage 2)",
    "conv_s2_bwd": "conv2d 3x3 bwd (dx, dW), 128x32x16x16 -> 32",
    "conv_s3_fwd": "conv2d 3x3 fwd, 128x64x8x8 -> 64 (stage 3)",
    "conv_s3_bwd": "conv2d 3x3 bwd (dx, dW), 128x64x8x8 -> 64",
    "conv_down_fwd": "conv2d 3x3 stride 2 fwd, 128x16x32x32 -> 32",
    "conv_down_bwd": "conv2d 3x3 stride 2 bwd (dx, dW), 128x16x32x32 -> 32",
    "batch_norm": "batch_norm train fwd + bwd, 128x16x32x32",
    "max_pool2d": "max_pool2d 3/2/1 fwd + bwd, 128x64x16x16",
    "cross_entropy": "cross_entropy fwd + bwd, 256x1000 logits",
}
CASES.update({name: description
              for name, (description, _) in FINETUNE_CASES.items()})
MODEL_CASES = ("resnet20_train", "resnet20_infer", "resnet18_train",
               *FINETUNE_CASES)

# (N, C_in, H, C_out, stride) of each convolution case.
CONV_SHAPES = {"s1": (128, 16, 32, 16, 1), "s2": (128, 32, 16, 32, 1),
               "s3": (128, 64, 8, 64, 1), "down": (128, 16, 32, 32, 2)}


class Case:
    def __init__(self, run, prepare=None, check=None, steps=1):
        self.run, self.prepare, self.check = run, prepare, check
        self.steps = steps  # what one run() does; times are per step


def random_arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) for shape in shapes]


def labels(n, classes, seed=1):
    return np.random.default_rng(seed).integers(0, classes, n).astype(np.int64)


# -- the frameworks behind one small interface ------------------------------

class MinidlApi:
    """What the cases need from minidl."""

    def __init__(self, device):
        import minidl
        from minidl import models, optim
        from minidl.nn import functional as F
        self.minidl, self.models, self.optim, self.F = minidl, models, optim, F
        self.device = device
        self.sync = lambda: None
        if device == "cuda":
            import cupy
            self.sync = cupy.cuda.Device().synchronize

    def tensor(self, array, requires_grad=False):
        return self.minidl.tensor(array, requires_grad=requires_grad,
                                  device=self.device)

    def model(self, name):
        if name == "resnet20":
            model = self.models.resnet20(num_classes=10)
        else:
            model = self.models.resnet18(num_classes=10)
        return model.to(self.device)

    def no_grad(self):
        return self.minidl.no_grad()

    def adamw(self, params):
        return self.optim.AdamW(params, lr=1e-3)

    def zero_grads(self, *tensors):
        for t in tensors:
            t.grad = None


class TorchApi:
    """What the cases need from PyTorch."""

    def __init__(self, device):
        import torch
        self.torch, self.F = torch, torch.nn.functional
        self.device = device
        self.sync = lambda: None
        if device == "cuda":
            torch.backends.cudnn.benchmark = True
            self.sync = torch.cuda.synchronize

    def tensor(self, array, requires_grad=False):
        t = self.torch.from_numpy(np.ascontiguousarray(array)).to(self.device)
        return t.requires_grad_(requires_grad)

    def model(self, name):
        if name == "resnet20":
            from minidl.testing import torch_cifar_resnet
            model = torch_cifar_resnet(self.torch, 20)
        else:
            import torchvision
            model = torchvision.models.resnet18(weights=None, num_classes=10)
        return model.to(self.device)

    def no_grad(self):
        return self.torch.no_grad()

    def adamw(self, params):
        return self.torch.optim.AdamW(params, lr=1e-3)

    def zero_grads(self, *tensors):
        for t in tensors:
            t.grad = None


def api(framework, device):
    return MinidlApi(device) if framework == "minidl" else TorchApi(device)


# -- the cases ------------------------------------------------------------------

def _train_step(fw, model_name, batch):
    model = fw.model(model_name)
    model.train()
    optimizer = fw.adamw(model.parameters())
    (images,) = random_arrays((batch, 3, 32, 32))
    x, y = fw.tensor(images), fw.tensor(labels(batch, 10))

    def run():
        optimizer.zero_grad()
        loss = fw.F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        fw.sync()
        return loss

    def check():
        """float32 throughout: the loss, every parameter and gradient."""
        loss = run()
        dtypes = {str(loss.dtype)} | {str(p.dtype) for p in model.parameters()}
        dtypes |= {str(p.grad.dtype) for p in model.parameters()}
        assert dtypes == {"float32"} or dtypes == {"torch.float32"}, dtypes
    return Case(run, check=check)


def _inference(fw, model_name, batch):
    model = fw.model(model_name)
    model.eval()
    (images,) = random_arrays((batch, 3, 32, 32))
    x = fw.tensor(images)

    def run():
        with fw.no_grad():
            out = model(x)
        fw.sync()
        return out

    def check():
        out = run()
        assert str(out.dtype) in ("float32", "torch.float32"), out.dtype
    return Case(run, check=check)


def _conv(fw, shape, backward):
    n, c_in, h, c_out, stride = shape
    images, weight, grad = random_arrays(
        (n, c_in, h, h), (c_out, c_in, 3, 3), (n, c_out, h // stride, h // stride))
    x = fw.tensor(images, requires_grad=backward)
    w = fw.tensor(weight * 0.1, requires_grad=backward)
    gy = fw.tensor(grad)
    if not backward:
        def run():
            with fw.no_grad():
                out = fw.F.conv2d(x, w, stride=stride, padding=1)
            fw.sync()
            return out
        return Case(run)
    graph = {}

    def prepare():
        fw.zero_grads(x, w)
        graph["y"] = fw.F.conv2d(x, w, stride=stride, padding=1)
        fw.sync()

    def run():
        graph.pop("y").backward(gy)
        fw.sync()
    return Case(run, prepare=prepare)


def _batch_norm(fw):
    images, grad = random_arrays((128, 16, 32, 32), (128, 16, 32, 32))
    x, gy = fw.tensor(images, requires_grad=True), fw.tensor(grad)
    weight = fw.tensor(np.ones(16, np.float32), requires_grad=True)
    bias = fw.tensor(np.zeros(16, np.float32), requires_grad=True)
    mean = fw.tensor(np.zeros(16, np.float32))
    var = fw.tensor(np.ones(16, np.float32))

    def run():
        fw.zero_grads(x, weight, bias)
        out = fw.F.batch_norm(x, mean, var, weight, bias, training=True)
        out.backward(gy)
        fw.sync()
    return Case(run)


def _max_pool(fw):
    images, grad = random_arrays((128, 64, 16, 16), (128, 64, 8, 8))
    x, gy = fw.tensor(images, requires_grad=True), fw.tensor(grad)

    def run():
        fw.zero_grads(x)
        fw.F.max_pool2d(x, 3, stride=2, padding=1).backward(gy)
        fw.sync()
    return Case(run)


def _cross_entropy(fw):
    (logits,) = random_arrays((256, 1000))
    x, y = fw.tensor(logits, requires_grad=True), fw.tensor(labels(256, 1000))

    def run():
        fw.zero_grads(x)
        fw.F.cross_entropy(x, y).backward()
        fw.sync()
    return Case(run)


def build(framework, name, device, data=None):
    """The Case `name` for `framework` ('minidl' or 'torch') on `device`;
    `data`: the image folder of the fine-tuning cases."""
    if name in FINETUNE_CASES:
        return build_finetune(framework, name, device, data, Case)
    fw = api(framework, device)
    if name == "resnet20_train":
        return _train_step(fw, "resnet20", 128)
    if name == "resnet18_train":
        return _train_step(fw, "resnet18", 128)
    if name == "resnet20_infer":
        return _inference(fw, "resnet20", 256)
    if name.startswith("conv_"):
        _, stage, direction = name.split("_")
        return _conv(fw, CONV_SHAPES[stage], direction == "bwd")
    if name == "batch_norm":
        return _batch_norm(fw)
    if name == "max_pool2d":
        return _max_pool(fw)
    if name == "cross_entropy":
        return _cross_entropy(fw)
    raise ValueError("unknown benchmark case {!r}; known: {}".format(
        name, ", ".join(CASES)))
