"""The backward pass: walk the graph from the outputs to the leaves.

1. Find every Function that leads to the outputs, in topological order, with
   an explicit stack (no recursion, so a graph 10,000 ops deep is fine).
2. Visit them from the outputs backwards. Each Function receives the summed
   gradients of its outputs, calls its ``backward``, and passes each input's
   gradient along that input's Edge: to the Function that produced it, or
   into a leaf's ``.grad``.
3. Unless ``retain_graph``, each Function drops its saved tensors once used.

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


def run_backward(outputs, grad_outputs, retain_graph, create_graph,
                 capture=None):
    """Propagate `grad_outputs` from `outputs` back through the graph.

    Without `capture`, leaf gradients accumulate into ``leaf.grad``. With
    `capture` (a list of tensors, as ``autograd.grad`` needs), nothing is
    accumulated and the gradients of those tensors are returned instead,
    keyed by ``id``.
    """
    # Gradients waiting to be consumed, keyed by (Function, output index).
    pending = {}
    captured = {}
    capture_ids = {id(t) for t in capture} if capture is not None else None
    roots = []
    for output, grad in zip(outputs, grad_outputs):
        if output.grad_fn is None:  # a leaf as output: its gradient is `grad`
            _deliver_to_leaf(output, grad, capture_ids, captured, create_graph)
            continue
        if output.grad_fn.released:
            raise output.grad_fn.second_backward_error()
        _add_pending(pending, (output.grad_fn, output.output_index), grad)
        roots.append(output.grad_fn)
    wanted = {}  # (Function, output index) -> intermediate tensor to capture
    if capture is not None:
        wanted = {(t.grad_fn, t.output_index): t for t in capture
                  if t.grad_fn is not None}
    mode = enable_grad() if create_graph else no_grad()
    with mode:
        for fn in reversed(topological_order(roots)):
            grads_out = []
            for index in range(len(fn.output_meta)):
                grad = pending.pop((fn, index), None)
                if (fn, index) in wanted:
                    captured[id(wanted[(fn, index)])] = grad
                elif capture is None and grad is not None:
                    _retain_grad(fn, index, grad, create_graph)
                grads_out.append(grad)
            if all(g is None for g in grads_out):
                continue
            if fn.released:
                raise fn.second_backward_error()
            grads_out = [_zeros_if_none(g, meta) for g, meta
                         in zip(grads_out, fn.output_meta)]
            grads_in = fn.backward(*grads_out)
            if not isinstance(grads_in, tuple):
                grads_in = (grads_in,)
            if len(grads_in) != len(fn.edges):
                raise RuntimeError("{}.backward returned {} gradients for {} "
                                   "inputs".format(fn.name, len(grads_in),
                                                   len(fn.edges)))
            edges = fn.edges
            if not retain_graph:
                fn.release()
            for position, (edge, grad) in enumerate(zip(edges, grads_in)):
                if edge is None or grad is None:
                    continue
                grad = _checked_gradient(fn, position, edge, grad)
                if edge.leaf is not None:
                    _deliver_to_leaf(edge.leaf, grad, capture_ids, captured,
                                     create_graph)
                else:
                    _add_pending(pending, (edge.function, edge.index), grad)
    return captured


def _add_pending(pending, key, grad):
    pending[key] = grad if key not in pending else pending[key] + grad


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


def _retain_grad(fn, index, grad, create_graph):
    """Store `grad` in the output tensor that asked for it (retain_grad)."""
    reference = getattr(fn, "retained", {}).get(index)
    tensor = reference() if reference is not None else None
    if tensor is not None:
        _accumulate(tensor, grad, create_graph)


def _deliver_to_leaf(leaf, grad, capture_ids, captured, create_graph):
    if capture_ids is not None:
        if id(leaf) in capture_ids:
            previous = captured.get(id(leaf))
            captured[id(leaf)] = grad if previous is None else previous + grad
        return
    _accumulate(leaf, grad, create_graph)


def _accumulate(tensor, grad, create_graph):
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
