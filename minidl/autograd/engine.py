"""The backward pass: walk the graph from the outputs to the inputs.

``run_backward(outputs, grad_outputs, inputs, ...)`` returns the gradients
of `outputs` with respect to each of `inputs`; it stores nothing anywhere.
The callers (in ``autograd/__init__.py``) decide where the gradients go:
``backward`` asks for every leaf (and every tensor that called
``retain_grad``) and adds the results into ``.grad``; ``grad`` returns them.

1. Find every Function that leads to the outputs, in topological order, with
   an explicit stack (no recursion, so a graph 10,000 ops deep is fine).
2. Keep only the Functions with a path to one of the inputs: the others
   cannot change the result, so their ``backward`` never runs.
3. Visit them from the outputs backwards. Each Function receives the summed
   gradients of its outputs, calls its ``backward``, and passes each input's
   gradient along that input's Edge: to the Function that produced it, or,
   for a leaf, into the result.
4. Unless ``retain_graph``, each Function drops its saved tensors once used.

With ``create_graph=False`` the backward ops run under ``no_grad`` (no new
graph); with ``create_graph=True`` they are recorded, so the gradients can be
differentiated again.
"""
from .grad_mode import enable_grad, no_grad


def topological_order(roots):
    """Functions reachable from `roots`, each after every Function it feeds.

    Iterative depth-first search: a Function is emitted once all the
    Functions that produced its inputs have been emitted.
    """
    order, visited = [], set()
    stack = [(fn, False) for fn in roots]
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            order.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((fn, True))
        for edge in fn.edges:
            if edge is not None and edge.function is not None \
                    and edge.function not in visited:
                stack.append((edge.function, False))
    return order


def run_backward(outputs, grad_outputs, inputs, retain_graph, create_graph):
    """The gradients of `outputs`, weighted by `grad_outputs`, with respect
    to each tensor of `inputs`: a list, ``None`` for an input that the
    outputs do not depend on."""
    wanted = {_place(x) for x in inputs}
    found = {}    # place of an input -> its gradient, summed so far
    pending = {}  # (Function, output index) -> gradient, summed so far
    roots = []
    for output, grad in zip(outputs, grad_outputs):
        if output.grad_fn is None:  # a leaf as output: its gradient is `grad`
            if _place(output) in wanted:
                _add(found, _place(output), grad)
            continue
        if output.grad_fn.released:
            raise output.grad_fn.second_backward_error()
        _add(pending, (output.grad_fn, output.output_index), grad)
        roots.append(output.grad_fn)
    order = topological_order(roots)
    needed = functions_reaching(order, wanted)
    mode = enable_grad() if create_graph else no_grad()
    with mode:
        for fn in reversed(order):
            grads_out = [pending.pop((fn, index), None)
                         for index in range(len(fn.output_meta))]
            for index, grad in enumerate(grads_out):
                if grad is not None and (fn, index) in wanted:
                    found[(fn, index)] = grad
            if fn not in needed or all(g is None for g in grads_out):
                continue
            if fn.released:
                raise fn.second_backward_error()
            grads_in = _call_backward(fn, grads_out)
            edges = fn.edges
            if not retain_graph:
                fn.release()
            for position, (edge, grad) in enumerate(zip(edges, grads_in)):
                if edge is None or grad is None:
                    continue
                grad = _checked_gradient(fn, position, edge, grad)
                if edge.leaf is None:
                    _add(pending, (edge.function, edge.index), grad)
                elif id(edge.leaf) in wanted:
                    _add(found, id(edge.leaf), grad)
    return [found.get(_place(x)) for x in inputs]


def _place(tensor):
    """Where the gradient of `tensor` shows up during the walk: the leaf
    itself (by id), or the output of the Function that made it."""
    if tensor.grad_fn is None:
        return id(tensor)
    return (tensor.grad_fn, tensor.output_index)


def functions_reaching(order, places):
    """The Functions of `order` (a topological order) that have a path to
    one of `places`. A Function released by an earlier backward has lost its
    edges, so it counts as reaching: running it raises a clear error."""
    reaching = set()
    for fn in order:  # a Function comes after the Functions it takes inputs from
        for edge in fn.edges:
            if edge is None:
                continue
            if edge.leaf is not None:
                place = id(edge.leaf)
            else:
                place = (edge.function, edge.index)
            if place in places or edge.function in reaching:
                reaching.add(fn)
                break
        if fn.released:
            reaching.add(fn)
    return reaching


def _add(gradients, key, grad):
    gradients[key] = grad if key not in gradients else gradients[key] + grad


def _call_backward(fn, grads_out):
    """``fn.backward`` on the gradients of its outputs (zeros for those that
    got none): one gradient per input, as a tuple."""
    grads_out = [_zeros_if_none(g, meta) for g, meta
                 in zip(grads_out, fn.output_meta)]
    grads_in = fn.backward(*grads_out)
    if not isinstance(grads_in, tuple):
        grads_in = (grads_in,)
    if len(grads_in) != len(fn.edges):
        raise RuntimeError("{}.backward returned {} gradients for {} inputs"
                           .format(fn.name, len(grads_in), len(fn.edges)))
    return grads_in


def _checked_gradient(fn, position, edge, grad):
    """`grad` for input `position` of `fn`, checked against that input.

    A wrong shape is a bug in ``fn.backward``: say so here rather than fail
    later somewhere else. A different dtype (float64 gradient for a float32
    input, after an op that promoted) is converted back, as PyTorch does.
    """
    if edge.leaf is not None:
        shape, dtype = edge.leaf.shape, edge.leaf.dtype
    else:
        shape, dtype, _ = edge.function.output_meta[edge.index]
    if grad.shape != tuple(shape):
        raise RuntimeError("{}.backward returned a gradient of shape {} for "
                           "input {} of shape {}".format(
                               fn.name, grad.shape, position, tuple(shape)))
    if grad.dtype != dtype:
        from ..ops import astype
        grad = astype(grad, dtype)
    return grad


def _zeros_if_none(grad, meta):
    if grad is not None:
        return grad
    from ..tensor import Tensor
    shape, dtype, xp = meta
    return Tensor(xp.zeros(shape, dtype=dtype))
