"""Every op in op_specs.SPECS against PyTorch, in float64, on the same
inputs: forward values, gradients, and second derivatives.

For gradients, random output weights w give the vector-Jacobian products
d<f(x), w>/dx; for second derivatives, random weights v on those gradients
give d<grad, v>/dx (a Hessian-vector product). A gradient that does not
exist (an unused input, or a gradient that is constant in x) counts as zero.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from conftest import assert_close
from op_specs import SPECS


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _run(lib, grad_fn, fn, arrays, params, seed, make_tensor):
    """Outputs, gradients and second derivatives of `fn` in library `lib`,
    as NumPy arrays (None where a gradient is identically zero)."""
    rng = np.random.default_rng(seed)
    inputs = [make_tensor(a) for a in arrays]
    outputs = _as_list(fn(lib, *inputs, **params))
    differentiable = [o for o in outputs if o.dtype == lib.float64]
    weights = [make_tensor(rng.standard_normal(tuple(o.shape)), grad=False)
               for o in differentiable]
    grads = grad_fn(differentiable, inputs, weights, create_graph=True,
                    allow_unused=True)
    # Second derivatives: d<grads, v>/dx, from the gradients that depend on x.
    terms = []
    for g, x in zip(grads, inputs):
        v = make_tensor(rng.standard_normal(tuple(x.shape)), grad=False)
        if g is not None and g.requires_grad:
            terms.append((g * v).sum())
    second = [None] * len(inputs)
    if terms:
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        second = grad_fn([total], inputs, None, allow_unused=True)

    def numpy(t):
        if t is None:
            return None
        if isinstance(t, minidl.Tensor):
            return t.numpy()
        return t.detach().cpu().numpy(force=True)  # force: torch's ZeroTensor
    return ([numpy(o) for o in outputs], [numpy(g) for g in grads],
            [numpy(s) for s in second])


def _assert_same(mine, theirs, shapes, what, rtol):
    for i, (a, b) in enumerate(zip(mine, theirs)):
        a = np.zeros(shapes[i]) if a is None else a
        b = np.zeros(shapes[i]) if b is None else b
        assert_close(a, b, rtol=rtol, atol=1e-9, name="{} {}".format(what, i))


def compare_with_torch(spec, data, torch):
    """Draw the inputs of `spec`, run it in minidl and in torch (float64)
    and compare the outputs (and dtypes), gradients and second
    derivatives. The other spec tables' parity tests call this too."""
    arrays, params = spec.draw(data)
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="weights seed")

    def minidl_tensor(a, grad=True):
        return minidl.tensor(a, dtype=minidl.float64, requires_grad=grad)

    def torch_tensor(a, grad=True):
        return torch.tensor(a, dtype=torch.float64, requires_grad=grad)

    def torch_grad(outputs, inputs, grad_outputs, create_graph=False,
                   allow_unused=False):
        return torch.autograd.grad(outputs, inputs, grad_outputs,
                                   create_graph=create_graph,
                                   allow_unused=allow_unused)

    mine = _run(minidl, minidl.autograd.grad, spec.fn, arrays, params, seed,
                minidl_tensor)
    theirs = _run(torch, torch_grad, spec.torch_fn, arrays, params, seed,
                  torch_tensor)
    outputs_mine, outputs_theirs = mine[0], theirs[0]
    assert len(outputs_mine) == len(outputs_theirs)
    for i, (a, b) in enumerate(zip(outputs_mine, outputs_theirs)):
        assert a.dtype == b.dtype, "output {}: dtype {} != {}".format(
            i, a.dtype, b.dtype)
        assert_close(a, b, rtol=spec.torch_rtol, name="output {}".format(i))
    input_shapes = [a.shape for a in arrays]
    _assert_same(mine[1], theirs[1], input_shapes, "gradient", spec.torch_rtol)
    _assert_same(mine[2], theirs[2], input_shapes, "second derivative",
                 spec.torch_rtol)



@pytest.mark.parametrize("spec", SPECS, ids=repr)
@settings(max_examples=2 * settings().max_examples)
@given(data=st.data())
def test_against_torch(spec, data, torch):
    compare_with_torch(spec, data, torch)


# -- non-differentiable points: the same conventions as PyTorch ---------------------------
def _grads_both(torch, f, *arrays):
    mine = [minidl.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
            for a in arrays]
    theirs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
              for a in arrays]
    f(minidl, *mine).sum().backward()
    f(torch, *theirs).sum().backward()
    for i, (a, b) in enumerate(zip(mine, theirs)):
        assert_close(a.grad, b.grad, name="gradient {}".format(i))


def test_maximum_minimum_ties_split_the_gradient_like_torch(torch):
    x, y = [1.0, 2.0, 2.0, -1.0], [0.0, 2.0, 3.0, -1.0]
    _grads_both(torch, lambda lib, a, b: lib.maximum(a, b) * lib.tensor([1.0, 2, 3, 4]),
                x, y)
    _grads_both(torch, lambda lib, a, b: lib.minimum(a, b) * lib.tensor([1.0, 2, 3, 4]),
                x, y)


def test_amax_amin_and_full_max_ties_share_the_gradient_like_torch(torch):
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
    _grads_both(torch, lambda lib, a: lib.amax(a, dim=1) * lib.tensor([1.0, 5.0]), x)
    _grads_both(torch, lambda lib, a: lib.amin(a, dim=(0, 1)), x)
    _grads_both(torch, lambda lib, a: a.max(), x)
    _grads_both(torch, lambda lib, a: a.min(), [[1.0, 1.0], [4.0, 1.0]])


def test_max_with_dim_ties_pick_the_index_torch_picks(torch):
    x = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    _grads_both(torch, lambda lib, a: a.max(dim=1)[0] * lib.tensor([1.0, 5.0]), x)
    _grads_both(torch, lambda lib, a: a.min(dim=0, keepdim=True)[0], x)
    mine = minidl.tensor(x).max(dim=1).indices
    theirs = torch.tensor(x).max(dim=1).indices
    assert mine.tolist() == theirs.tolist()


def test_relu_abs_clamp_at_their_kinks_like_torch(torch):
    x = [-1.0, 0.0, 0.5, 1.0, 2.0]
    _grads_both(torch, lambda lib, a: lib.relu(a), x)
    _grads_both(torch, lambda lib, a: a.abs(), x)
    _grads_both(torch, lambda lib, a: a.clamp(min=0.0, max=1.0), x)
    _grads_both(torch, lambda lib, a: a.clamp(min=3.0, max=1.0), x)  # min > max


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_pow_at_zero_and_negative_bases_like_torch(torch):
    _grads_both(torch, lambda lib, a, b: a ** b, [-1.0, 0.0, 2.0], [2.0, 2.0, 2.0])
    _grads_both(torch, lambda lib, a, b: a ** b, [0.0, 0.0], [3.0, 0.5])


def test_sum_mean_amax_with_an_empty_dim_tuple_reduce_everything(torch):
    x = np.arange(6.0).reshape(2, 3)
    for name in ("sum", "mean", "amax"):
        mine = getattr(minidl.tensor(x), name)(dim=())
        theirs = getattr(torch.tensor(x), name)(dim=())
        assert_close(mine, theirs, name=name)
    mine = minidl.tensor(x).var(dim=())
    assert_close(mine, torch.tensor(x).var(), name="var")


def test_squeeze_of_a_dim_that_is_not_size_one_is_a_no_op(torch):
    x = np.zeros((2, 1, 3))
    for dim in (0, 1, -1, (0, 1), (0, 2)):
        assert minidl.tensor(x).squeeze(dim).shape == tuple(
            torch.tensor(x).squeeze(dim).shape), dim
