"""The backward engine: accumulation, retain_graph, autograd.grad,
create_graph, grad modes, in-place safety, deep graphs, freed memory."""
import gc
import threading
import weakref

import numpy as np
import pytest

import minidl
from minidl.autograd import Function
from conftest import assert_close


def leaf(values, dtype=minidl.float64):
    return minidl.tensor(np.asarray(values, dtype=np.float64), dtype=dtype,
                         requires_grad=True)


# -- backward and accumulation -------------------------------------------------------
def test_leaf_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert_close(x.grad, [2.0, 4.0, 6.0])
    (x * 3).sum().backward()
    assert_close(x.grad, [5.0, 7.0, 9.0])
    x.grad = None
    x.sum().backward()
    assert_close(x.grad, [1.0, 1.0, 1.0])


def test_gradient_of_an_input_used_twice_is_summed():
    x = leaf([2.0])
    (x * x * x + x).sum().backward()
    assert_close(x.grad, [3 * 4.0 + 1])


def test_accumulating_into_a_gradient_that_is_a_shared_view():
    """The first gradient of x is a broadcast (read-only) view; accumulating
    more must not write into it (nor fail)."""
    x = leaf([[1.0, 2.0]])
    y = x.sum()
    (g,) = minidl.autograd.grad(y, x, create_graph=True)
    y.backward(create_graph=True)
    x.sum().backward()
    assert_close(x.grad, [[2.0, 2.0]])
    assert_close(g, [[1.0, 1.0]])


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"one element.*\(2,\)"):
        y.backward()
    y.backward(minidl.tensor(np.array([1.0, 10.0])))
    assert_close(x.grad, [2.0, 20.0])


def test_backward_gradient_of_the_wrong_shape():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"gradient of shape \(3,\).*\(2,\)"):
        y.backward(minidl.tensor(np.ones(3)))


def test_backward_of_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minidl.tensor([1.0, 2.0]).sum().backward()


def test_second_backward_without_retain_graph_errors_clearly():
    for make in (lambda x: (x * x).sum(),      # an op that saved tensors
                 lambda x: (x + 1).sum()):     # ops that saved nothing
        x = leaf([1.0, 2.0])
        y = make(x)
        y.backward()
        with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
            y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, [4.0, 8.0])


def test_backward_through_part_of_a_freed_graph_errors():
    x = leaf([1.0, 2.0])
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="Exp: .*second time"):
        (h * 2).sum().backward()


def test_tensor_backward_from_a_leaf_output():
    x = leaf([3.0])
    x.backward(minidl.tensor(np.array([2.0])))
    assert_close(x.grad, [2.0])


# -- autograd.grad ------------------------------------------------------------------
def test_grad_with_leaf_and_non_leaf_inputs(torch):
    a = np.array([0.5, -1.0, 2.0])
    x = leaf(a)
    h = x * x
    y = (h.exp() * x).sum()
    gx, gh = minidl.autograd.grad(y, [x, h])
    assert x.grad is None and h.grad is None  # nothing accumulated
    tx = torch.tensor(a, requires_grad=True)
    th = tx * tx
    tgx, tgh = torch.autograd.grad((th.exp() * tx).sum(), [tx, th])
    assert_close(gx, tgx, name="d/dx")
    assert_close(gh, tgh, name="d/dh")


def test_grad_with_several_outputs_and_grad_outputs():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 2, x * x
    (g,) = minidl.autograd.grad([y1, y2], [x], [minidl.tensor(np.ones(2)),
                                                minidl.tensor(np.full(2, 10.0))])
    assert_close(g, [2 + 20 * 1.0, 2 + 20 * 2.0])
    # A single Tensor as grad_outputs works too (not only a list).
    (g,) = minidl.autograd.grad(x * 3, x, minidl.tensor(np.ones(2)))
    assert_close(g, [3.0, 3.0])


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match=r"not used.*allow_unused=True"):
        minidl.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = minidl.autograd.grad(y, [x, unused], allow_unused=True)
    assert_close(gx, [3.0])
    assert gu is None


def test_grad_of_a_tensor_that_does_not_require_grad():
    x = leaf([1.0])
    constant = minidl.tensor(np.array([2.0]))
    with pytest.raises(RuntimeError, match=r"grad: input of shape \(1,\) does "
                                           r"not require grad"):
        minidl.autograd.grad((x * constant).sum(), [constant])


def test_hessian_vector_product_matches_torch(torch):
    """create_graph=True: the gradient is differentiable again."""
    rng = np.random.default_rng(0)
    a, w, v = rng.standard_normal(4), rng.standard_normal((4, 4)), rng.standard_normal(4)

    def f(lib, x, w):
        return ((x @ w).tanh() * x.exp()).sum() + (x * x * x).sum()

    x, mw = leaf(a), minidl.tensor(w)
    (g,) = minidl.autograd.grad(f(minidl, x, mw), x, create_graph=True)
    assert g.requires_grad
    (hv,) = minidl.autograd.grad((g * minidl.tensor(v)).sum(), x)

    tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(w)
    (tg,) = torch.autograd.grad(f(torch, tx, tw), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    assert_close(g, tg, name="gradient")
    assert_close(hv, thv, name="Hessian-vector product")


def test_backward_create_graph_gives_a_differentiable_grad():
    x = leaf([1.5])
    (x * x * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = minidl.autograd.grad(x.grad.sum(), x)
    assert_close(g2, [6 * 1.5])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    assert_close(h.grad, [6.0, 12.0])
    assert_close(x.grad, [18.0, 36.0])



class CountedExp(Function):
    """exp, counting how often its backward runs."""
    calls = 0

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, gy):
        CountedExp.calls += 1
        return gy * minidl.tensor(self.y)


def test_grad_never_walks_a_branch_that_cannot_reach_its_inputs():
    x, other = leaf([1.0, 2.0]), leaf([0.5, -1.0])
    CountedExp.calls = 0
    y = (x * 2).sum() + CountedExp()(other).sum()   # `other` is not an input
    (gx,) = minidl.autograd.grad(y, x, retain_graph=True)
    assert_close(gx, [2.0, 2.0])
    assert CountedExp.calls == 0
    y.backward()
    assert CountedExp.calls == 1
    assert_close(other.grad, np.exp([0.5, -1.0]))


def test_grad_of_an_intermediate_stops_there():
    x = leaf([1.0, 2.0])
    CountedExp.calls = 0
    h = CountedExp()(x)               # nothing before h is asked for
    y = (h * 3).sum()
    (gh,) = minidl.autograd.grad(y, h)
    assert_close(gh, [3.0, 3.0])
    assert CountedExp.calls == 0 and x.grad is None
    # Asked for x too, the same walk goes on through CountedExp, once.
    h = CountedExp()(x)
    gh, gx = minidl.autograd.grad((h * 3).sum(), [h, x])
    assert_close(gh, [3.0, 3.0])
    assert_close(gx, 3 * np.exp([1.0, 2.0]))
    assert CountedExp.calls == 1


def test_grad_of_the_same_input_twice_and_of_an_output_itself():
    x = leaf([1.0, 2.0])
    h = x * x
    gx1, gx2, gh = minidl.autograd.grad(h, [x, x, h],
                                        minidl.tensor(np.ones(2)))
    assert_close(gx1, [2.0, 4.0])
    assert_close(gx2, [2.0, 4.0])
    assert_close(gh, [1.0, 1.0])


def test_run_backward_returns_gradients_and_stores_none():
    from minidl.autograd.engine import run_backward
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * w
    h.retain_grad()
    y = (h * x).sum()
    gx, gw, gh = run_backward([y], [minidl.tensor(np.array(1.0))], [x, w, h],
                              retain_graph=False, create_graph=False)
    assert_close(gx, 2 * np.array([1.0, 2.0]) * [3.0, 4.0])
    assert_close(gw, [1.0, 4.0])
    assert_close(gh, [1.0, 2.0])
    assert x.grad is None and w.grad is None and h.grad is None


def test_backward_fills_every_leaf_and_retained_tensor_once_per_call():
    """A leaf reached by several paths gets the sum, added to what .grad
    held before; a leaf that is an output gets its own gradient."""
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = (h * x + x).sum()
    x.grad = minidl.tensor(np.array([10.0, 10.0]))
    minidl.autograd.backward([y, x], [None, minidl.tensor(np.ones(2))])
    # d/dx (3 x^2 + x) = 6x + 1, plus 1 from x as an output, plus 10 before.
    assert_close(x.grad, 6 * np.array([1.0, 2.0]) + 1 + 1 + 10)
    assert_close(h.grad, [1.0, 2.0])


def test_version_is_written_only_by_bump_version():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = (h * h).sum()                 # Mul saved h
    with pytest.raises(AttributeError):
        h._version = 5
    before = h._version
    h._bump_version()
    assert h._version == before + 1 and h.detach()._version == before + 1
    with pytest.raises(RuntimeError, match="Mul: .*modified in place"):
        y.backward()

# -- grad modes ---------------------------------------------------------------------
def test_no_grad_and_enable_grad_as_context_managers():
    x = leaf([1.0])
    with minidl.no_grad():
        assert not minidl.is_grad_enabled()
        y = x * 2
        with minidl.enable_grad():
            z = x * 2
        w = x * 2
    assert minidl.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert not w.requires_grad


def test_no_grad_and_enable_grad_as_decorators():
    x = leaf([1.0])

    @minidl.no_grad()
    def without(t):
        return t * 2

    @minidl.no_grad  # without parentheses, as PyTorch allows
    def bare(t):
        return t * 2

    @minidl.enable_grad()
    def with_graph(t):
        return t * 2

    assert not without(x).requires_grad
    assert not bare(x).requires_grad
    assert bare.__name__ == "bare"
    with minidl.no_grad():
        assert with_graph(x).requires_grad
    assert minidl.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with minidl.no_grad():
            raise ValueError("inside")
    assert minidl.is_grad_enabled()


def test_set_grad_enabled_as_function_and_context_manager():
    x = leaf([1.0])
    with minidl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    minidl.set_grad_enabled(False)
    try:
        assert not minidl.is_grad_enabled()
    finally:
        minidl.set_grad_enabled(True)


def test_grad_mode_belongs_to_the_thread():
    seen = []
    with minidl.no_grad():
        thread = threading.Thread(target=lambda: seen.append(minidl.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


# -- what carries a gradient -----------------------------------------------------------
def test_integer_outputs_and_comparisons_carry_no_gradient():
    x = leaf([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]])
    values, indices = x.max(dim=1)
    assert values.requires_grad
    assert not indices.requires_grad and indices.grad_fn is None
    assert indices.dtype == np.int64
    for result in (x.argmax(dim=1), x.argmin(), x > 1, x == x, x <= 2.0,
                   x.ne(x), x.long()):
        assert not result.requires_grad and result.grad_fn is None, result
    values.sum().backward()
    assert_close(x.grad, [[0, 1, 0], [1, 0, 0]])


# -- in-place operations ---------------------------------------------------------------
def test_in_place_change_of_a_saved_tensor_makes_backward_raise():
    """Overwriting an array that a Function saved: backward names the op."""
    x = leaf([1.0, 2.0])
    h = x * 1
    y = (h * h).sum()                 # Mul saved h
    with minidl.no_grad():
        h.add_(1)                      # overwrites h's array
    with pytest.raises(RuntimeError, match=r"Mul: a tensor of shape \(2,\) "
                                           r"saved for backward was modified"):
        y.backward()


def test_in_place_change_through_detach_or_a_view_is_seen():
    x = leaf([1.0, 2.0])
    h = x.exp()
    y = h.sum()
    y2 = (h * 1).sum()
    h.detach().mul_(2)                 # detach shares the array and its counter
    with pytest.raises(RuntimeError, match="Exp: .*modified in place"):
        y.backward()
    x2 = leaf([[1.0, 2.0]])
    h2 = x2.sqrt()
    view = h2.reshape(2)
    with minidl.no_grad():
        view.zero_()
    with pytest.raises(RuntimeError, match="Sqrt: .*modified in place"):
        h2.sum().backward()
    del y2


def test_in_place_change_of_a_saved_leaf_input_makes_backward_raise():
    w = leaf([1.0, 2.0])
    x = minidl.tensor(np.array([3.0, 4.0]))
    y = (w * x).sum()                  # Mul saved x, a constant
    x[0] = 10.0                        # overwrites x's array (no graph)
    with pytest.raises(RuntimeError, match="Mul: .*modified in place"):
        y.backward()
    y = (w * w).sum()                  # Mul saved w, a leaf
    with minidl.no_grad():
        w.mul_(2)                      # an optimizer-style update
    with pytest.raises(RuntimeError, match="Mul: .*modified in place"):
        y.backward()


def test_in_place_op_on_a_leaf_that_requires_grad_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"in-place op on a leaf tensor of "
                                           r"shape \(2,\) that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 5.0
    with minidl.no_grad():             # allowed for updates
        x.sub_(1)
        x += 1
    assert_close(x, [1.0, 2.0])
    assert x.is_leaf and x.requires_grad


def test_in_place_ops_inside_a_graph_match_torch(torch):
    """Inside a graph an in-place op takes its result's place in the graph,
    and what earlier ops saved stays valid."""
    a = np.array([0.5, -1.0, 2.0])
    b = np.array([1.5, 2.0, -0.5])

    def f(lib, x, w):
        h = x * 1
        h.mul_(w)                     # saves the old h for dw
        h.add_(x, alpha=2)
        h[1] = w[0] * 3               # index_put
        h[h > 1.0] = 0.0              # a mask
        h.clamp_(min=-1.0)
        c = lib.zeros(3, dtype=lib.float64)
        c.copy_(w)                    # a constant becomes part of the graph
        c.div_(2)
        return (h * c).sum()

    x, w = leaf(a), leaf(b)
    f(minidl, x, w).backward()
    tx = torch.tensor(a, requires_grad=True)
    tw = torch.tensor(b, requires_grad=True)
    f(torch, tx, tw).backward()
    assert_close(x.grad, tx.grad, name="x")
    assert_close(w.grad, tw.grad, name="w")


def test_in_place_on_a_saved_output_inside_a_graph_gives_correct_gradients():
    """minidl's rule (documented in Tensor._assign): inside a graph the old
    array is not overwritten, so Exp's saved output is still right.
    PyTorch would raise here; minidl cannot produce a wrong gradient."""
    x = leaf([0.5, 1.0])
    y = x.exp()
    y.add_(1)
    (y * y).sum().backward()
    expected = 2 * (np.exp([0.5, 1.0]) + 1) * np.exp([0.5, 1.0])
    assert_close(x.grad, expected)


def test_zero_and_fill_inside_a_graph_cut_the_history():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.zero_()
    assert not h.requires_grad and h.grad_fn is None
    g = x * 2
    g.fill_(3.0)
    y = (g * x).sum()
    y.backward()
    assert_close(x.grad, [3.0, 3.0])  # g is a constant 3 now


def test_in_place_result_of_the_wrong_shape_errors():
    x = minidl.tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match=r"result of shape \(2, 3\) cannot be "
                                           r"stored in a tensor of shape \(3,\)"):
        x.add_(minidl.tensor(np.ones((2, 3))))


def test_in_place_keeps_dtype():
    x = minidl.tensor([1.0, 2.0])
    x.mul_(minidl.tensor(np.array([2.0, 2.0])))   # float64 operand
    assert x.dtype == np.float32
    w = leaf([1.0, 1.0])
    h = minidl.zeros(2)                             # float32
    h.copy_(w * 2)                                  # float64 graph
    assert h.dtype == np.float32 and h.requires_grad
    h.sum().backward()
    assert w.grad.dtype == np.float64
    assert_close(w.grad, [2.0, 2.0])


# -- deep graphs and memory ------------------------------------------------------------
def test_a_ten_thousand_op_chain_backward_works():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    assert_close(x.grad, [1.0001 ** 10_000], rtol=1e-9)
    # And a deep graph dropped without backward is freed without recursion.
    y = x
    for _ in range(10_000):
        y = y + 1
    del y


@pytest.mark.cpu_only  # weak references to NumPy arrays
def test_saved_arrays_are_freed_after_backward():
    """The array of an intermediate result, saved by two ops, lives until
    backward and dies then, while the output is still referenced. (The
    graph keeps saved arrays, never the intermediate Tensor objects.)"""
    x = leaf(np.arange(4.0))
    h = x.exp()                       # saved by Exp (its output) and by Mul
    saved_array = weakref.ref(h.data)
    intermediate = weakref.ref(h)
    y = (h * h).sum()
    del h
    gc.collect()
    assert intermediate() is None     # the Tensor object is not kept...
    assert saved_array() is not None  # ...its array is, for backward
    y.backward()
    assert saved_array() is None, "the saved array outlived backward"
    assert y.item() > 0               # the output is alive
    assert_close(x.grad, 2 * np.exp(2 * np.arange(4.0)))


@pytest.mark.cpu_only  # weak references to NumPy arrays
def test_arrays_stored_by_earlier_ops_are_freed_after_backward():
    """Arrays a forward keeps on its Function (a mask) die with the graph,
    once backward released it, even while the output lives."""
    x = leaf(np.array([-1.0, 2.0, 3.0]))
    h = minidl.relu(x)                # a Where op: keeps its mask
    function = weakref.ref(h.grad_fn)
    y = (h * 2).sum()
    del h
    y.backward()
    assert function() is None
    assert y.grad_fn is not None


@pytest.mark.cpu_only  # weak references to NumPy arrays
def test_a_graph_is_freed_without_the_cycle_collector():
    """Saving outputs (exp, tanh, softmax...) must not create reference
    cycles: dropping the result frees everything at once."""
    gc.disable()
    try:
        x = leaf(np.arange(6.0).reshape(2, 3))
        h = minidl.softmax(x.exp().tanh(), dim=1)
        saved = weakref.ref(h.data)
        y = (h * h).sum()
        del h, y
        assert saved() is None
    finally:
        gc.enable()


# -- the engine checks what backward returns -------------------------------------------
class WrongShape(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy.sum()


class TooMany(Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy, gy


def test_a_backward_returning_a_wrong_shape_is_reported():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a "
                                           r"gradient of shape \(\) for input 0 "
                                           r"of shape \(2,\)"):
        WrongShape()(x).sum().backward()
    with pytest.raises(RuntimeError, match="TooMany.backward returned 2 "
                                           "gradients for 1 inputs"):
        TooMany()(x).sum().backward()


def test_gradients_come_back_in_each_input_dtype(torch):
    a = leaf([1.0, 2.0], dtype=minidl.float32)
    b = leaf([3.0], dtype=minidl.float64)
    y = minidl.cat([a, b])
    assert y.dtype == np.float64       # as NumPy and PyTorch promote
    (y * minidl.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert_close(a.grad, [1.0, 2.0])
    assert_close(b.grad, [3.0])


# -- the graph as Graphviz DOT ---------------------------------------------------------
def test_to_dot_names_ops_and_shapes(tmp_path):
    x = minidl.tensor(np.ones((2, 3)), requires_grad=True)
    w = minidl.tensor(np.ones((3, 4)), requires_grad=True)
    y = (x @ w).exp().sum()
    path = tmp_path / "graph.dot"
    text = minidl.utils.to_dot(y, path=str(path))
    assert text.startswith("digraph minidl {") and text.rstrip().endswith("}")
    for expected in ("MatMul\\n(2, 4)", "Exp\\n(2, 4)", "Sum\\n()",
                     "leaf (2, 3)", "leaf (3, 4)", "output ()"):
        assert expected in text, expected
    assert text.count("->") == 5          # 2 leaves -> MatMul -> Exp -> Sum -> out
    assert path.read_text() == text
    assert "output (2,)" in minidl.utils.to_dot(minidl.tensor([1.0, 2.0]))
