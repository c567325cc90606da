"""Function: one node of the graph, an op with a forward and a backward.

Every op is a subclass with two methods:

* ``forward(*arrays)`` computes output arrays from input arrays (NumPy or CuPy).
* ``backward(*grad_outputs)`` receives the gradients of the outputs as Tensors
  and returns the gradients of the inputs as Tensors (``None`` where an input
  needs none). Because backward is written with Tensor ops, the backward pass
  is itself a graph when ``create_graph=True``: higher-order gradients for free.

Non-tensor arguments (a stride, a dim) go to ``__init__``, so a call reads
``Conv2d(stride=2)(x, w)``. A Function object is used for one call only.

What backward needs is chosen by ``to_save(inputs, outputs)``, which returns
the Tensors to keep (default: none); backward reads them back from
``self.saved_tensors``. Plain arrays that backward needs but never
differentiates (a mask, argmax indices, shapes) are simply stored on ``self``
by forward.

After backward (unless ``retain_graph``) a Function drops its saved tensors
and its edges: the Functions before it, and the arrays they stored on
``self``, are then freed as soon as nothing else refers to them.
"""
import weakref

from ..backend import get_array_module
from .grad_mode import is_grad_enabled


class Edge:
    """Where the gradient of one input goes.

    An intermediate input sends it to output ``index`` of ``function`` (the op
    that made it); a leaf input (made by the user, ``requires_grad=True``)
    accumulates it into ``leaf.grad``. Edges hold no arrays, so the graph
    keeps intermediate results alive only through what ops save.
    """
    __slots__ = ("function", "index", "leaf")

    def __init__(self, function=None, index=0, leaf=None):
        self.function, self.index, self.leaf = function, index, leaf


class SavedTensor:
    """What a Function keeps of a Tensor it saved for backward.

    It keeps the array and the tensor's place in the graph, not the Tensor
    object, because an in-place op inside a graph later points that object
    at another array (see ``Tensor._assign``). Two details:

    * A leaf that requires grad is kept as itself: gradients of a double
      backward must reach that very object. (Leaves that require grad are
      never re-pointed: in-place ops on them are refused inside a graph.)
    * For the Function's own outputs the place in the graph (the Function
      itself) is not stored but restored when unpacking. Storing it would
      make a reference cycle (Function -> saved output -> Function) that
      only Python's cycle collector frees, late, with all its arrays.

    The version counter is read again at unpacking: if the array was
    overwritten in place since, unpacking raises.
    """
    __slots__ = ("leaf", "data", "grad_fn", "output_index", "requires_grad",
                 "counter", "version", "shape")

    def __init__(self, tensor, function):
        self.counter, self.version = tensor._version_counter, tensor._version
        self.shape = tensor.shape
        self.leaf = tensor if tensor.requires_grad and tensor.is_leaf else None
        self.data = tensor.data
        self.grad_fn = None if tensor.grad_fn is function else tensor.grad_fn
        self.output_index = tensor.output_index
        self.requires_grad = tensor.requires_grad

    def unpack(self, function):
        from ..tensor import Tensor
        if self.counter.value != self.version:
            raise RuntimeError(
                "{}: a tensor of shape {} saved for backward was modified "
                "in place afterwards (version {} now, {} when saved); "
                "the gradient would be wrong. Use an out-of-place op "
                "instead.".format(function.name, self.shape, self.counter.value,
                                  self.version))
        if self.leaf is not None:
            return self.leaf
        tensor = Tensor(self.data)
        tensor._version_counter = self.counter
        if self.requires_grad:
            tensor.requires_grad = True
            tensor.grad_fn = self.grad_fn or function
            tensor.output_index = self.output_index
        return tensor


class Function:
    """Base class of all ops. Subclasses define ``forward`` and ``backward``."""

    released = False  # set by release(), after a backward without retain_graph

    def __call__(self, *inputs):
        from ..tensor import Tensor, as_tensor
        like = next((x for x in inputs if isinstance(x, Tensor)), None)
        inputs = [as_tensor(x, like=like) for x in inputs]
        self.needs_input_grad = [x.requires_grad for x in inputs]
        self._saved = ()
        self.edges = []
        try:
            arrays = self.forward(*[x.data for x in inputs])
        except ValueError as error:
            message = str(error)
            if not message.startswith(self.name.lower()):
                # NumPy's own message ("operands could not be broadcast...")
                # does not say which op failed: add that.
                message = "{}: {} (input shapes {})".format(
                    self.name, message, [x.shape for x in inputs])
            raise ValueError(message) from None
        single = not isinstance(arrays, tuple)
        if single:
            arrays = (arrays,)
        record = is_grad_enabled() and any(self.needs_input_grad)
        outputs = [_output_tensor(a, inputs) for a in arrays]
        if record:
            self.edges = [_edge_to(x) for x in inputs]
            self.output_meta = [(a.shape, a.dtype, get_array_module(a))
                                for a in arrays]
            for index, output in enumerate(outputs):
                if output.dtype.kind == "f":  # integer outputs carry no gradient
                    output.requires_grad = True
                    output.grad_fn, output.output_index = self, index
            self.save_for_backward(*self.to_save(inputs, outputs))
        return outputs[0] if single else tuple(outputs)

    # -- what subclasses use -------------------------------------------------
    def to_save(self, inputs, outputs):
        """The Tensors backward will need; override in ops that need any."""
        return ()

    def save_for_backward(self, *tensors):
        """Keep these input/output Tensors for backward.

        Tensors are checked at backward time: if one was modified in place
        after being saved, backward raises instead of returning a wrong
        gradient.
        """
        self._saved = tuple(SavedTensor(t, self) for t in tensors)

    @property
    def saved_tensors(self):
        if self.released:
            raise self.second_backward_error()
        return tuple(saved.unpack(self) for saved in self._saved)

    def release(self):
        """Drop what backward needed, and the links to the Functions before
        this one (called after backward unless retain_graph)."""
        self._saved = None
        self.edges = ()
        self.released = True

    def second_backward_error(self):
        return RuntimeError(
            "{}: trying to backward through the graph a second time; its "
            "saved values were freed by the first backward. Pass "
            "retain_graph=True to the first call if you need this."
            .format(self.name))

    def retain_grad_of(self, tensor):
        """Make backward store the gradient of `tensor` (one of this
        Function's outputs) in ``tensor.grad``. A weak reference: the
        Function must not keep its output alive."""
        if not hasattr(self, "retained"):
            self.retained = {}
        self.retained[tensor.output_index] = weakref.ref(tensor)

    @property
    def name(self):
        return type(self).__name__

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError


def _output_tensor(array, inputs):
    """A Tensor for an output array. An output that is a view of an input's
    array (reshape, basic indexing) shares that input's version counter."""
    from ..tensor import Tensor
    output = Tensor(array)
    xp = get_array_module(output.data)
    for x in inputs:
        if output.data.size and xp.may_share_memory(output.data, x.data):
            output._version_counter = x._version_counter
            break
    return output


def _edge_to(x):
    if not x.requires_grad:
        return None
    if x.grad_fn is None:
        return Edge(leaf=x)
    return Edge(function=x.grad_fn, index=x.output_index)
