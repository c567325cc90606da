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
    accumulated and the gradients of those tensors are returned instead.
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
        key = (output.grad_fn, output.output_index)
        pending[key] = grad if key not in pending else pending[key] + grad
        roots.append(output.grad_fn)
    if capture is not None:  # gradients of intermediate tensors we must return
        wanted = {(t.grad_fn, t.output_index): t for t in capture
                  if t.grad_fn is not None}
    mode = enable_grad() if create_graph else no_grad()
    with mode:
        for fn in reversed(topological_order(roots)):
            grads_out = []
            for index in range(len(fn.output_meta)):
                grad = pending.pop((fn, index), None)
                if capture is not None and (fn, index) in wanted:
                    captured[id(wanted[(fn, index)])] = grad
                grads_out.append(grad)
            if all(g is None for g in grads_out):
                continue
            grads_out = [_zeros_if_none(g, meta) for g, meta
                         in zip(grads_out, fn.output_meta)]
            grads_in = fn.backward(*grads_out)
            if not isinstance(grads_in, tuple):
                grads_in = (grads_in,)
            if len(grads_in) != len(fn.edges):
                raise RuntimeError("{}.backward returned {} gradients for {} "
                                   "inputs".format(fn.name, len(grads_in),
                                                   len(fn.edges)))
            if not retain_graph:
                fn.release()
            for edge, grad in zip(fn.edges, grads_in):
                if edge is None or grad is None:
                    continue
                if edge.leaf is not None:
                    _deliver_to_leaf(edge.leaf, grad, capture_ids, captured,
                                     create_graph)
                else:
                    key = (edge.function, edge.index)
                    pending[key] = grad if key not in pending \
                        else pending[key] + grad
    return captured


def _zeros_if_none(grad, meta):
    if grad is not None:
        return grad
    from ..tensor import Tensor
    shape, dtype, xp = meta
    return Tensor(xp.zeros(shape, dtype=dtype))


def _deliver_to_leaf(leaf, grad, capture_ids, captured, create_graph):
    if capture_ids is not None:
        if id(leaf) in capture_ids:
            previous = captured.get(id(leaf))
            captured[id(leaf)] = grad if previous is None else previous + grad
        return
    if not create_graph:
        grad = grad.detach()
    if leaf.grad is None:
        # Own a fresh copy: the same gradient array may also flow elsewhere,
        # and we accumulate into it in place below.
        leaf.grad = grad if create_graph else grad.detach_copy()
    elif create_graph:
        leaf.grad = leaf.grad + grad
    else:
        leaf.grad.data += grad.data  # in place: no new array per step
