"""Numerical gradient checks: is backward right?

``gradcheck`` compares, for every input that requires grad, the Jacobian
computed by backward with one computed by central differences:

    d f / d x_i  ~  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

in float64. ``gradgradcheck`` does the same for the gradient itself (the
backward of backward, with ``create_graph=True``). ``check_backward`` is the
cheap version for large inputs: one random direction instead of every
element, so two forward passes instead of two per element.
"""
import numpy as np

from ..backend import get_array_module, to_numpy


class GradcheckError(AssertionError):
    """Raised when analytical and numerical gradients disagree."""


def _outputs_as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _check_float64(inputs, caller):
    for i, x in enumerate(inputs):
        if x.requires_grad and x.dtype != np.float64:
            raise ValueError("{}: input {} is {}; gradient checks need float64 "
                             "inputs to be meaningful".format(caller, i, x.dtype))


def _numerical_jacobian_column(fn, inputs, x, flat_index, eps):
    """d(all outputs)/d(x[flat_index]) by central differences, as NumPy
    float64 arrays (one per output, flattened).

    The graph stays on: `fn` may itself compute gradients (gradgradcheck).
    """
    position = np.unravel_index(flat_index, x.shape)  # works for any strides
    original = x.data[position].item()

    def outputs_at(value):
        x.data[position] = value
        return [to_numpy(o.data).astype(np.float64).reshape(-1)
                for o in _outputs_as_list(fn(*inputs))]

    plus, minus = outputs_at(original + eps), outputs_at(original - eps)
    x.data[position] = original
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _analytical_rows(fn, inputs, checked):
    """For each output element, its gradient w.r.t. each checked input."""
    from . import grad
    from ..tensor import Tensor
    outputs = _outputs_as_list(fn(*inputs))
    rows = []  # rows[o][k] = list over output elements of grad arrays
    for output in outputs:
        per_input = [[] for _ in checked]
        xp = get_array_module(output.data)
        for k in range(output.data.size):
            seed = xp.zeros(output.data.size, dtype=output.dtype)
            seed[k] = 1
            if not output.requires_grad:
                grads = [None] * len(checked)
            else:
                grads = grad([output], [inputs[i] for i in checked],
                             [Tensor(seed.reshape(output.shape))],
                             retain_graph=True, allow_unused=True)
            for j, g in enumerate(grads):
                shape = inputs[checked[j]].shape
                per_input[j].append(np.zeros(shape) if g is None
                                    else np.asarray(g.numpy(), dtype=np.float64))
        rows.append(per_input)
    return outputs, rows


def _position(flat_index, shape):
    """The index tuple of element `flat_index`, as plain ints."""
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def _mismatches(analytical, numerical, atol, rtol):
    """Where |analytical - numerical| > atol + rtol |numerical|. A NaN on
    one side only is a mismatch (a comparison with NaN would hide it);
    equal values, infinities and NaNs on both sides are not."""
    close = np.abs(analytical - numerical) <= atol + rtol * np.abs(numerical)
    same = (analytical == numerical) | (np.isnan(analytical) & np.isnan(numerical))
    return ~(close | same)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check every gradient of ``fn(*inputs)`` against central differences.

    `inputs` are Tensors (float64 where they require grad). On a mismatch,
    raises GradcheckError naming the input, the output, the worst element
    and both values; returns True otherwise (or False if raise_exception
    is False).
    """
    inputs = list(inputs)
    _check_float64(inputs, "gradcheck")
    checked = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")
    outputs, rows = _analytical_rows(fn, inputs, checked)
    out_sizes = [o.data.size for o in outputs]
    for j, i in enumerate(checked):
        x = inputs[i]
        for flat_index in range(x.data.size):
            columns = _numerical_jacobian_column(fn, inputs, x, flat_index, eps)
            for o, numerical in enumerate(columns):
                analytical = np.array([rows[o][j][k].reshape(-1)[flat_index]
                                       for k in range(out_sizes[o])])
                bad = _mismatches(analytical, numerical, atol, rtol)
                if bad.any():
                    error = np.abs(analytical - numerical)
                    allowed = atol + rtol * np.abs(numerical)
                    # The worst element: a NaN first, else the largest excess.
                    excess = np.where(np.isnan(error), np.inf, error - allowed)
                    k = int(np.argmax(np.where(bad, excess, -np.inf)))
                    message = (
                        "gradcheck failed for input {} (shape {}), element {}, "
                        "output {} element {}: analytical {!r}, numerical {!r} "
                        "(difference {:.3g}, allowed {:.3g})".format(
                            i, x.shape, _position(flat_index, x.shape),
                            o, k, float(analytical[k]), float(numerical[k]),
                            float(error[k]), float(allowed[k])))
                    if raise_exception:
                        raise GradcheckError(message)
                    return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5,
                  rtol=1e-3, seed=0, raise_exception=True):
    """Check the second derivatives of ``fn(*inputs)``.

    Builds g(inputs, grad_outputs) = the gradients of fn's outputs,
    weighted by `grad_outputs` (random if not given), with create_graph=True,
    and runs gradcheck on g. This checks every backward used in fn's
    backward pass.
    """
    from . import grad
    from ..tensor import Tensor
    inputs = list(inputs)
    _check_float64(inputs, "gradgradcheck")
    outputs = _outputs_as_list(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = []
        for o in outputs:
            xp = get_array_module(o.data)
            values = xp.asarray(rng.standard_normal(o.shape))
            grad_outputs.append(Tensor(values, requires_grad=True))
    n_inputs = len(inputs)
    differentiable = [x for x in inputs if x.requires_grad]

    def first_derivatives(*args):
        xs, gos = list(args[:n_inputs]), list(args[n_inputs:])
        outs = _outputs_as_list(fn(*xs))
        wanted = [x for x in xs if x.requires_grad]
        pairs = [(o, g) for o, g in zip(outs, gos) if o.requires_grad]
        grads = grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                     create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(w.data * 0)
                     for g, w in zip(grads, wanted))

    if not differentiable:
        raise ValueError("gradgradcheck: no input requires grad")
    try:
        return gradcheck(first_derivatives, inputs + list(grad_outputs),
                         eps=eps, atol=atol, rtol=rtol,
                         raise_exception=raise_exception)
    except GradcheckError as error:
        raise GradcheckError(
            "gradgradcheck: the gradients of fn (outputs numbered in the order "
            "of the inputs that require grad) checked against their inputs "
            "(fn's {} inputs, then one grad_output per output of fn): {}"
            .format(n_inputs, error)) from None


def check_backward(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Cheap check for large inputs: one random direction d for all inputs.

    Compares sum_i <grad_i, d_i> (from one backward of <f(x), w>, w random)
    with (<f(x + eps d), w> - <f(x - eps d), w>) / (2 eps): one backward and
    two forward passes whatever the input size.
    """
    from . import grad
    from ..tensor import Tensor
    inputs = list(inputs)
    _check_float64(inputs, "check_backward")
    rng = np.random.default_rng(seed)
    checked = [x for x in inputs if x.requires_grad]
    if not checked:
        raise ValueError("check_backward: no input requires grad")
    outputs = _outputs_as_list(fn(*inputs))
    weights = [get_array_module(o.data).asarray(rng.standard_normal(o.shape))
               for o in outputs]
    directions = [get_array_module(x.data).asarray(rng.standard_normal(x.shape))
                  for x in checked]
    pairs = [(o, Tensor(w)) for o, w in zip(outputs, weights) if o.requires_grad]
    grads = grad([o for o, _ in pairs], checked, [w for _, w in pairs],
                 allow_unused=True)
    analytical = sum(float((g.data * d).sum()) for g, d in zip(grads, directions)
                     if g is not None)

    def weighted_output(sign):
        for x, d in zip(checked, directions):
            x.data += sign * eps * d
        value = sum(float((o.data * w).sum()) for o, w
                    in zip(_outputs_as_list(fn(*inputs)), weights))
        for x, d in zip(checked, directions):
            x.data -= sign * eps * d
        return value

    numerical = (weighted_output(+1) - weighted_output(-1)) / (2 * eps)
    if _mismatches(np.float64(analytical), np.float64(numerical), atol, rtol):
        raise GradcheckError(
            "check_backward failed: directional derivative analytical {!r}, "
            "numerical {!r} (difference {:.3g})".format(
                analytical, numerical, abs(analytical - numerical)))
    return True
