"""minidl.nn: modules, layers, their functional forms and initialisation.

``Module`` (module.py) is the base class; ``Parameter`` (parameter.py) marks
the tensors to learn; the layers live in ``modules/``, the ops they call in
``functional/``, and weight initialisation in ``init.py``.
"""
from .parameter import Parameter
from .module import Module
from . import modules
from .modules import *  # noqa: F403  (Linear, Conv2d, BatchNorm2d, ...)
from . import functional, init, utils

__all__ = ["Module", "Parameter", "functional", "init", "utils"]
__all__ += modules.__all__

