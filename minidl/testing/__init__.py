"""Helpers for tests, examples and benchmarks that compare minidl with
PyTorch. Nothing here imports torch at module level: the functions take the
``torch`` module as an argument, so ``import minidl`` never needs torch."""
from .torch_reference import torch_cifar_resnet

__all__ = ["torch_cifar_resnet"]
