"""Reverse-mode automatic differentiation.

* :func:`backward` / ``Tensor.backward``: accumulate gradients into leaves.
* :func:`grad`: return gradients of outputs with respect to given inputs.
* :func:`gradcheck`, :func:`gradgradcheck`, :func:`check_backward`:
  compare analytical gradients with numerical ones.
"""
from .engine import run_backward, topological_order
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import check_backward, gradcheck, gradgradcheck


def _initial_grads(outputs, grad_outputs, caller):
    from ..tensor import Tensor, as_tensor, ones_like
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError("{}: {} grad_outputs for {} outputs".format(
            caller, len(grad_outputs), len(outputs)))
    grads = []
    for output, grad in zip(outputs, grad_outputs):
        if not isinstance(output, Tensor) or not output.requires_grad:
            raise RuntimeError(
                "{}: output of shape {} does not require grad and has no "
                "grad_fn (was it computed under no_grad, or from tensors "
                "without requires_grad=True?)".format(
                    caller, getattr(output, "shape", None)))
        if grad is None:
            if output.data.size != 1:
                raise RuntimeError(
                    "{}: grad can be implicitly created only for outputs with "
                    "one element; got shape {}: pass a gradient of that shape"
                    .format(caller, output.shape))
            grad = ones_like(output)
        else:
            grad = as_tensor(grad, like=output)
            if grad.shape != output.shape:
                raise RuntimeError("{}: gradient of shape {} for an output of "
                                   "shape {}".format(caller, grad.shape,
                                                     output.shape))
        grads.append(grad)
    return grads


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def backward(tensors, grad_tensors=None, retain_graph=False,
             create_graph=False):
    """Accumulate d(tensors)/d(leaf), weighted by `grad_tensors`, into the
    ``.grad`` of every leaf (and of every tensor that called retain_grad).

    The engine returns the gradients; adding them into ``.grad`` is done
    here."""
    tensors = _as_list(tensors)
    if grad_tensors is not None:
        grad_tensors = _as_list(grad_tensors)
    grads = _initial_grads(tensors, grad_tensors, "backward")
    targets = _backward_targets(tensors)
    results = run_backward(tensors, grads, targets,
                           retain_graph or create_graph, create_graph)
    for target, gradient in zip(targets, results):
        if gradient is not None:
            _accumulate_grad(target, gradient, create_graph)


def _backward_targets(outputs):
    """The tensors whose ``.grad`` a backward from `outputs` fills: every
    leaf that requires grad and every tensor that called ``retain_grad``."""
    targets = {}
    for output in outputs:
        if output.grad_fn is None:
            targets[id(output)] = output
    roots = [output.grad_fn for output in outputs if output.grad_fn is not None]
    for fn in topological_order(roots):
        for edge in fn.edges:
            if edge is not None and edge.leaf is not None:
                targets[id(edge.leaf)] = edge.leaf
        for reference in getattr(fn, "retained", {}).values():
            tensor = reference()
            if tensor is not None:
                targets[id(tensor)] = tensor
    return list(targets.values())


def _accumulate_grad(tensor, grad, create_graph):
    """Add `grad` into ``tensor.grad``.

    ``.grad`` either belongs to a graph (made with create_graph) or is an
    array this function made and owns. Only the second kind is updated in
    place; any other gradient array may be shared (a broadcast view, the
    gradient of another tensor too), so it is copied or added out of place.
    """
    if not create_graph:
        grad = grad.detach()
    if tensor.grad is None:
        keep_graph = create_graph and grad.requires_grad
        tensor.grad = grad if keep_graph else grad.detach_copy()
    elif create_graph or tensor.grad.requires_grad:
        tensor.grad = tensor.grad + grad
    else:
        tensor.grad.data += grad.data  # in place: no new array per step


def grad(outputs, inputs, grad_outputs=None, retain_graph=None,
         create_graph=False, allow_unused=False):
    """Gradients of `outputs` with respect to each of `inputs`, as a tuple.

    Unlike backward, nothing is accumulated into ``.grad``, and only the
    part of the graph between `outputs` and `inputs` is walked. With
    ``create_graph=True`` the results are themselves differentiable.
    """
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("grad: input of shape {} does not require grad"
                               .format(x.shape))
    if retain_graph is None:
        retain_graph = create_graph
    if grad_outputs is not None:
        grad_outputs = _as_list(grad_outputs)
    grads = _initial_grads(outputs, grad_outputs, "grad")
    result = run_backward(outputs, grads, inputs, retain_graph, create_graph)
    for x, g in zip(inputs, result):
        if g is None and not allow_unused:
            raise RuntimeError("grad: an input of shape {} was not used to "
                               "compute the outputs (pass allow_unused=True "
                               "to get None for it)".format(x.shape))
    return tuple(result)


__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad",
           "is_grad_enabled", "set_grad_enabled", "gradcheck",
           "gradgradcheck", "check_backward"]
