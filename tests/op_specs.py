"""The table of differentiable ops that the op tests run through.

Each :class:`OpSpec` says how to draw inputs for one op (shapes and
parameters from Hypothesis, values from a seeded NumPy generator) and how to
call the op. The call ``fn(lib, *inputs, **params)`` is written once for
both libraries: ``lib`` is the ``minidl`` module or the ``torch`` module,
and minidl's API mirrors PyTorch's, so ``lambda lib, x, y: lib.maximum(x, y)``
runs on either. Where PyTorch spells something differently, ``torch_fn``
gives its version.

Three test modules use the table:

* ``test_ops_gradcheck.py``: gradcheck and gradgradcheck in float64;
* ``test_ops_torch.py``: forward values, gradients and second derivatives
  against PyTorch in float64.

Inputs are kept away from the points where an op is not differentiable
(abs and relu at 0, ties of max/min/maximum, clamp at its bounds), so that
central differences measure a real derivative.
"""
import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

# Shapes are small: gradcheck costs one backward per output element and two
# forwards per input element, and gradgradcheck that again per element.
MAX_SIDE = 3
MAX_DIMS = 3


# -- drawing shapes ---------------------------------------------------------------
def shapes(data, min_dims=0, max_dims=MAX_DIMS, allow_empty=False, max_side=MAX_SIDE):
    """A shape; with `allow_empty`, sometimes one with a size-0 dim."""
    min_side = 1
    if allow_empty and data.draw(st.integers(0, 4), label="empty?") == 0:
        min_side = 0
    return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                      min_side=min_side, max_side=max_side),
                     label="shape")


def broadcast_shapes(data, num_shapes=2, min_dims=0, allow_empty=True):
    """Shapes that broadcast together (size-1 and missing dims); with
    `allow_empty`, sometimes with size-0 dims."""
    min_side = 1
    if allow_empty and data.draw(st.integers(0, 4), label="empty?") == 0:
        min_side = 0
    drawn = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=MAX_DIMS,
        min_side=min_side, max_side=MAX_SIDE), label="shapes")
    return drawn.input_shapes


def a_dim(data, ndim):
    """One dim of a tensor with `ndim` dims, negative half of the time."""
    dim = data.draw(st.integers(0, ndim - 1), label="dim")
    if data.draw(st.booleans(), label="negative dim?"):
        dim -= ndim
    return dim


def reduction_dims(data, ndim):
    """None, one dim, or a tuple of dims (possibly empty: all dims)."""
    choice = data.draw(st.sampled_from(["none", "int", "tuple"]), label="dims")
    if choice == "none" or ndim == 0:
        return None
    if choice == "int":
        return a_dim(data, ndim)
    # Distinct axes in [-ndim, ndim), some negative, maybe none (= all).
    return data.draw(hnp.valid_tuple_axes(ndim), label="dims")


# -- drawing values -----------------------------------------------------------------
def values(data, shape, kind="normal"):
    """float64 values of `shape`.

    kind: "normal"; "positive" (in [0.5, 2]: log, sqrt, pow bases);
    "nonzero" (|x| in [0.2, 1.5]: abs, relu, division); "distinct" (all
    different, at least 0.2 apart: max, min, maximum, no ties).
    """
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "nonzero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.5, shape)
    if kind == "distinct":
        count = int(np.prod(shape))
        spread = rng.permutation(count) * 0.3 - 0.15 * count
        return (spread + rng.uniform(-0.05, 0.05, count)).reshape(shape)
    raise ValueError(kind)


def distinct_pair(data, shape_x, shape_y):
    """x and y with no value in common (maximum/minimum never tie)."""
    size_x = int(np.prod(shape_x))
    pool = values(data, (size_x + int(np.prod(shape_y)),), "distinct")
    return pool[:size_x].reshape(shape_x), pool[size_x:].reshape(shape_y)


# -- the table ------------------------------------------------------------------------
class OpSpec:
    """One op to test: how to draw its inputs and how to call it.

    draw(data) returns (inputs, params): the float64 arrays to differentiate
    and keyword parameters (dims, indices, ...). gradcheck_options go to
    gradcheck and gradgradcheck; torch_rtol is the relative tolerance of
    the comparison with PyTorch (looser where float32 is involved).
    """

    def __init__(self, name, draw, fn, torch_fn=None, gradcheck_options=None,
                 torch_rtol=1e-7):
        self.name, self.draw, self.fn = name, draw, fn
        self.torch_fn = torch_fn or fn
        self.gradcheck_options = gradcheck_options or {}
        self.torch_rtol = torch_rtol  # relative tolerance against PyTorch

    def __repr__(self):
        return self.name


def unary(kind="normal", allow_empty=True):
    def draw(data):
        return [values(data, shapes(data, allow_empty=allow_empty), kind)], {}
    return draw


def binary(kind_x="normal", kind_y="normal"):
    def draw(data):
        shape_x, shape_y = broadcast_shapes(data)
        return [values(data, shape_x, kind_x), values(data, shape_y, kind_y)], {}
    return draw


def draw_distinct_pair(data):
    return list(distinct_pair(data, *broadcast_shapes(data))), {}


def draw_pow_scalar(data):
    exponent = data.draw(st.sampled_from([2, 3, -1, 0.5, -1.5, 2.5]), label="p")
    kind = "nonzero" if float(exponent).is_integer() else "positive"
    return [values(data, shapes(data, allow_empty=True), kind)], {"p": exponent}


def draw_matmul(data):
    """All the matmul cases: 1-d @ 1-d, 1-d @ n-d, n-d @ 1-d, and batched
    n-d @ n-d with broadcast batch dims."""
    n, k, m = (data.draw(st.integers(1, 3), label=s) for s in "nkm")
    batch_x, batch_y = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, max_dims=2, max_side=2), label="batch").input_shapes
    x_is_vector = data.draw(st.booleans(), label="x 1-d?")
    y_is_vector = data.draw(st.booleans(), label="y 1-d?")
    shape_x = (k,) if x_is_vector else batch_x + (n, k)
    shape_y = (k,) if y_is_vector else batch_y + (k, m)
    return [values(data, shape_x), values(data, shape_y)], {}


def draw_clamp(data):
    """x on a grid of step 0.25 (plus noise), the bounds on the grid lines:
    no element is within 0.075 of a bound."""
    shape = shapes(data, allow_empty=True)
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = (rng.integers(-8, 8, shape) + 0.5) * 0.25 + rng.uniform(-0.05, 0.05, shape)
    low = data.draw(st.sampled_from([None, -1.0, -0.5]), label="min")
    high = data.draw(st.sampled_from([None, 0.5, 1.0]), label="max")
    assume(low is not None or high is not None)
    return [x], {"min": low, "max": high}


def draw_clamp_tensor(data):
    """clamp with a tensor lower bound (broadcast), which gets gradients too."""
    shape_x, shape_min = broadcast_shapes(data)
    x, low = distinct_pair(data, shape_x, shape_min)
    return [x, low], {}


def draw_where(data):
    shape_c, shape_x, shape_y = broadcast_shapes(data, num_shapes=3)
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    condition = np.random.default_rng(seed).random(shape_c) < 0.5
    return [values(data, shape_x), values(data, shape_y)], {"condition": condition}


def draw_reduction(kind="normal", allow_empty=True):
    def draw(data):
        shape = shapes(data, allow_empty=allow_empty)
        params = {"dim": reduction_dims(data, len(shape)),
                  "keepdim": data.draw(st.booleans(), label="keepdim")}
        return [values(data, shape, kind)], params
    return draw


def draw_var(data):
    """var/std over dims of at least 2 elements, more than the correction.

    dim=() is left out here: PyTorch's forward takes it as "all dims" but
    its backward does not (it divides by zero); test_autograd checks
    minidl's var(dim=()) on its own. One element is left out too: std is
    then 0, and PyTorch defines its gradient as 0 where minidl's is NaN.
    """
    shape = shapes(data, min_dims=1)
    dim = reduction_dims(data, len(shape)) or None
    dims = range(len(shape)) if dim is None else \
        [dim] if isinstance(dim, int) else dim
    count = int(np.prod([shape[d] for d in dims]))
    correction = data.draw(st.integers(0, 2), label="correction")
    assume(count > correction and count >= 2)
    params = {"dim": dim, "keepdim": data.draw(st.booleans(), label="keepdim"),
              "correction": correction}
    return [values(data, shape)], params


def draw_max_dim(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape, "distinct")], {
        "dim": a_dim(data, len(shape)),
        "keepdim": data.draw(st.booleans(), label="keepdim")}


def draw_reshape(data):
    """A new shape with the same elements: the sides shuffled, some 1s
    added, and one side maybe given as -1."""
    shape = shapes(data, allow_empty=True)
    sides = list(data.draw(st.permutations(shape), label="order"))
    for _ in range(data.draw(st.integers(0, 2), label="ones")):
        sides.insert(data.draw(st.integers(0, len(sides)), label="at"), 1)
    if sides and 0 not in sides and data.draw(st.booleans(), label="-1?"):
        sides[data.draw(st.integers(0, len(sides) - 1), label="which")] = -1
    return [values(data, shape)], {"shape": tuple(sides)}


def draw_flatten(data):
    shape = shapes(data, min_dims=1, allow_empty=True)
    start, end = sorted([a_dim(data, len(shape)) % len(shape),
                         a_dim(data, len(shape)) % len(shape)])
    if data.draw(st.booleans(), label="negative?"):
        start, end = start - len(shape), end - len(shape)
    return [values(data, shape)], {"start_dim": start, "end_dim": end}


def draw_transpose(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape)], {"dim0": a_dim(data, len(shape)),
                                   "dim1": a_dim(data, len(shape))}


def draw_permute(data):
    shape = shapes(data)
    order = data.draw(st.permutations(range(len(shape))), label="order")
    order = [d - len(shape) if d % 2 else d for d in order]
    return [values(data, shape)], {"dims": tuple(order)}


def draw_unsqueeze(data):
    shape = shapes(data, allow_empty=True)
    return [values(data, shape)], {
        "dim": data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")}


def draw_squeeze(data):
    """Shapes rich in size-1 dims; dim None, one dim (of size 1 or not) or
    a tuple."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1,
                                       max_side=2), label="shape")
    choice = data.draw(st.sampled_from(["none", "int", "tuple"]), label="dims")
    if choice == "none" or not shape:
        dim = None
    elif choice == "int":
        dim = a_dim(data, len(shape))
    else:
        dim = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1), label="dims")
    return [values(data, shape)], {"dim": dim}


def draw_expand(data):
    """Size-1 dims expanded, new leading dims, and -1 for kept dims."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1,
                                       max_side=2), label="shape")
    target = []
    for side in shape:
        if side == 1:
            target.append(data.draw(st.sampled_from([1, 3, -1]), label="side"))
        else:
            target.append(data.draw(st.sampled_from([side, -1]), label="side"))
    leading = data.draw(st.lists(st.integers(1, 3), max_size=2), label="leading")
    return [values(data, shape)], {"shape": tuple(leading + target)}


def _no_negative_step(index):
    """PyTorch has no negative slice steps."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, slice) and i.step is not None and i.step < 0
                   for i in items)


def draw_basic_index(data):
    """ints, slices, None and Ellipsis."""
    shape = shapes(data, min_dims=1, allow_empty=True)
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="index")
    assume(_no_negative_step(index))
    return [values(data, shape)], {"index": index}


def draw_array_index(data):
    """Integer arrays (with repeated indices), alone, mixed with a slice,
    or over every dim."""
    shape = shapes(data, min_dims=1, max_dims=3)
    form = data.draw(st.sampled_from(["first dim", "second dim", "every dim"]),
                     label="form")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    count = data.draw(st.integers(1, 5), label="count")
    if form == "every dim":
        index = data.draw(hnp.integer_array_indices(
            shape, result_shape=hnp.array_shapes(max_dims=2, max_side=4)),
            label="index")
    elif form == "second dim" and len(shape) > 1:
        index = (slice(None), rng.integers(-shape[1], shape[1], count))
    else:
        index = rng.integers(-shape[0], shape[0], count)
    return [values(data, shape)], {"index": index}


def draw_mask_index(data):
    """A boolean mask over the whole shape or over its first dims."""
    shape = shapes(data, min_dims=1, max_dims=3)
    covered = data.draw(st.integers(1, len(shape)), label="mask dims")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    mask = np.random.default_rng(seed).random(shape[:covered]) < 0.5
    return [values(data, shape)], {"index": mask}


def draw_setitem(data):
    """x[index] = v, v broadcast to the indexed shape. Array indices have
    no repeats (with repeats, which value is written is unspecified)."""
    shape = shapes(data, min_dims=1)
    form = data.draw(st.sampled_from(["basic", "array", "mask"]), label="form")
    if form == "basic":
        index = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="index")
        assume(_no_negative_step(index))
    elif form == "array":
        count = data.draw(st.integers(1, shape[0]), label="count")
        index = np.array(data.draw(st.permutations(range(shape[0])),
                                   label="rows")[:count])
    else:
        seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
        index = np.random.default_rng(seed).random(shape) < 0.5
    target_shape = np.empty(shape)[index].shape
    cut = data.draw(st.integers(0, len(target_shape)), label="value dims")
    value_shape = target_shape[cut:]  # a trailing part: broadcasts
    return [values(data, shape), values(data, value_shape)], {"index": index}


def setitem(lib, x, v, index):
    y = x.clone()
    y[index] = v
    return y


def draw_cat(data):
    shape = list(shapes(data, min_dims=1))
    dim = a_dim(data, len(shape))
    count = data.draw(st.integers(1, 3), label="count")
    inputs = []
    for _ in range(count):
        shape[dim] = data.draw(st.integers(0, 3), label="size along dim")
        inputs.append(values(data, tuple(shape)))
    return inputs, {"dim": dim}


def draw_stack(data):
    shape = shapes(data)
    count = data.draw(st.integers(1, 3), label="count")
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    return [values(data, shape) for _ in range(count)], {"dim": dim}


def draw_pad(data):
    shape = shapes(data, min_dims=1)
    pairs = data.draw(st.integers(1, min(len(shape), 3)), label="pairs")
    pad = tuple(data.draw(st.lists(st.integers(0, 2), min_size=2 * pairs,
                                   max_size=2 * pairs), label="pad"))
    value = data.draw(st.sampled_from([0.0, 1.5]), label="value")
    return [values(data, shape)], {"pad": pad, "value": value}


def draw_along_dim(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape)], {"dim": a_dim(data, len(shape))}


def draw_logsumexp(data):
    shape = shapes(data, min_dims=1)
    dim = reduction_dims(data, len(shape))
    if dim is None or dim == ():  # PyTorch's logsumexp needs a dim
        dim = a_dim(data, len(shape))
    return [values(data, shape)], {
        "dim": dim,
        "keepdim": data.draw(st.booleans(), label="keepdim")}


def draw_gather(data):
    """An index no larger than x in every dim, with repeated positions."""
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    index_shape = tuple(data.draw(st.integers(1, side), label="index side")
                        for side in shape)
    index_shape = index_shape[:dim % len(shape)] + \
        (data.draw(st.integers(1, 4), label="count"),) + \
        index_shape[dim % len(shape) + 1:]
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    index = np.random.default_rng(seed).integers(0, shape[dim], index_shape)
    return [values(data, shape)], {"dim": dim, "index": index}


def _torch_pad(torch, x, pad, value):
    return torch.nn.functional.pad(x, pad, value=value)


def _as_tuple(result):
    return tuple(result)


SPECS = [
    OpSpec("add", binary(), lambda lib, x, y: x + y),
    OpSpec("sub", binary(), lambda lib, x, y: x - y),
    OpSpec("mul", binary(), lambda lib, x, y: x * y),
    OpSpec("div", binary("normal", "nonzero"), lambda lib, x, y: x / y),
    OpSpec("functions_add_sub_mul_div", binary("normal", "nonzero"),
           lambda lib, x, y: lib.div(lib.mul(lib.sub(lib.add(x, y), y), x), y)),
    OpSpec("python_scalars", unary("nonzero"),
           lambda lib, x: (2.0 - x) * 1.5 + x / 3 - 1 / x + (1 + x) * 2),
    OpSpec("neg", unary(), lambda lib, x: -x),
    OpSpec("pow", binary("positive", "normal"), lambda lib, x, y: x ** y),
    OpSpec("pow_scalar_exponent", draw_pow_scalar, lambda lib, x, p: x ** p),
    OpSpec("rpow", unary(), lambda lib, x: 1.5 ** x),
    OpSpec("matmul", draw_matmul, lambda lib, x, y: x @ y),
    OpSpec("matmul_function", draw_matmul, lambda lib, x, y: lib.matmul(x, y)),
    OpSpec("exp", unary(), lambda lib, x: x.exp()),
    OpSpec("log", unary("positive"), lambda lib, x: x.log()),
    OpSpec("sqrt", unary("positive"), lambda lib, x: x.sqrt()),
    OpSpec("abs", unary("nonzero"), lambda lib, x: x.abs()),
    OpSpec("tanh", unary(), lambda lib, x: lib.tanh(x)),
    OpSpec("sigmoid", unary(), lambda lib, x: lib.sigmoid(3 * x)),
    OpSpec("relu", unary("nonzero"), lambda lib, x: lib.relu(x)),
    OpSpec("maximum", draw_distinct_pair, lambda lib, x, y: lib.maximum(x, y)),
    OpSpec("minimum", draw_distinct_pair, lambda lib, x, y: lib.minimum(x, y)),
    OpSpec("clamp", draw_clamp, lambda lib, x, min, max: x.clamp(min=min, max=max)),
    OpSpec("clamp_tensor_min", draw_clamp_tensor,
           lambda lib, x, low: lib.clamp(x, min=low)),
    OpSpec("where", draw_where,
           lambda lib, x, y, condition: lib.where(lib.tensor(condition), x, y)),
    OpSpec("sum", draw_reduction(),
           lambda lib, x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim)),
    OpSpec("mean", draw_reduction(allow_empty=False),
           lambda lib, x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim)),
    OpSpec("var", draw_var, lambda lib, x, dim, keepdim, correction:
           x.var(dim=dim, keepdim=keepdim, correction=correction)),
    OpSpec("std", draw_var, lambda lib, x, dim, keepdim, correction:
           x.std(dim=dim, keepdim=keepdim, correction=correction)),
    OpSpec("max_dim", draw_max_dim, lambda lib, x, dim, keepdim:
           _as_tuple(lib.max(x, dim=dim, keepdim=keepdim))),
    OpSpec("min_dim", draw_max_dim, lambda lib, x, dim, keepdim:
           _as_tuple(x.min(dim=dim, keepdim=keepdim))),
    OpSpec("max_all", unary("distinct", allow_empty=False), lambda lib, x: x.max()),
    OpSpec("min_all", unary("distinct", allow_empty=False), lambda lib, x: lib.min(x)),
    OpSpec("amax", draw_reduction("distinct", allow_empty=False),
           lambda lib, x, dim, keepdim: lib.amax(x, dim=dim, keepdim=keepdim)),
    OpSpec("amin", draw_reduction("distinct", allow_empty=False),
           lambda lib, x, dim, keepdim: x.amin(dim=dim, keepdim=keepdim)),
    OpSpec("reshape", draw_reshape, lambda lib, x, shape: x.reshape(shape)),
    OpSpec("view", draw_reshape, lambda lib, x, shape: x.view(shape)),
    OpSpec("flatten", draw_flatten, lambda lib, x, start_dim, end_dim:
           x.flatten(start_dim=start_dim, end_dim=end_dim)),
    OpSpec("transpose", draw_transpose,
           lambda lib, x, dim0, dim1: x.transpose(dim0, dim1)),
    OpSpec("permute", draw_permute, lambda lib, x, dims: x.permute(dims)),
    OpSpec("unsqueeze", draw_unsqueeze, lambda lib, x, dim: x.unsqueeze(dim)),
    OpSpec("squeeze", draw_squeeze, lambda lib, x, dim:
           x.squeeze() if dim is None else x.squeeze(dim)),
    OpSpec("expand", draw_expand, lambda lib, x, shape: x.expand(shape)),
    OpSpec("getitem_basic", draw_basic_index, lambda lib, x, index: x[index]),
    OpSpec("getitem_integer_arrays", draw_array_index,
           lambda lib, x, index: x[index]),
    OpSpec("getitem_boolean_mask", draw_mask_index, lambda lib, x, index: x[index]),
    OpSpec("setitem_index_put", draw_setitem, setitem),
    OpSpec("cat", draw_cat, lambda lib, *xs, dim: lib.cat(list(xs), dim=dim)),
    OpSpec("stack", draw_stack, lambda lib, *xs, dim: lib.stack(list(xs), dim=dim)),
    OpSpec("pad", draw_pad, lambda lib, x, pad, value: lib.pad(x, pad, value=value),
           torch_fn=_torch_pad),
    OpSpec("softmax", draw_along_dim, lambda lib, x, dim: lib.softmax(x, dim)),
    OpSpec("log_softmax", draw_along_dim,
           lambda lib, x, dim: x.log_softmax(dim=dim)),
    OpSpec("logsumexp", draw_logsumexp, lambda lib, x, dim, keepdim:
           lib.logsumexp(x, dim=dim, keepdim=keepdim)),
    OpSpec("gather", draw_gather,
           lambda lib, x, dim, index: lib.gather(x, dim, lib.tensor(index))),
    OpSpec("astype_float32_round_trip", unary(), lambda lib, x:
           x.to(dtype=lib.float32).to(dtype=lib.float64) * x,
           gradcheck_options={"eps": 1e-3, "atol": 1e-4, "rtol": 1e-3},
           torch_rtol=1e-6),
    OpSpec("clone", unary(), lambda lib, x: x.clone()),
]

SPEC_NAMES = [spec.name for spec in SPECS]
