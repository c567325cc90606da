"""minidl.nn.functional: the layer ops as plain functions (PyTorch's names).

Each op lives in a small module of its own; this file only gathers them.
"""
