"""linear: y = x W^T + b, the fully connected layer."""
from ...autograd.function import Function
from ...backend import get_array_module


class Linear(Function):
    """y = x @ W^T + b.

    Shapes: x (*, IN), W (OUT, IN), b (OUT,) (optional), y (*, OUT), where
    * is any number of leading dims (or none).

    dx = gy @ W;  dW = gy^T @ x and db = sum of gy, both summed over the
    leading dims (the rows of gy and x flattened to (M, OUT) and (M, IN)).
    The backward is matrix products of Tensors, so it is differentiable too.

    The leading dims are flattened for every product: NumPy's matmul of a
    (B, L, IN) array by a matrix runs B small products one after the
    other, while one (B*L, IN) @ (IN, OUT) product is one large BLAS call
    (measured 2-4x faster at a small ViT's sizes).
    """

    def to_save(self, inputs, outputs):
        return inputs[:2]

    def forward(self, x, weight, bias=None):
        if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                "linear: input of shape {} does not fit weight of shape {} "
                "(expected input (*, {}) and weight (out_features, "
                "in_features))".format(x.shape, weight.shape,
                                       weight.shape[1] if weight.ndim == 2
                                       else "in_features"))
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError("linear: bias of shape {} for weight of shape {} "
                             "(expected ({},))".format(bias.shape, weight.shape,
                                                       weight.shape[0]))
        # W^T is a view (no copy): BLAS reads it transposed.
        rows = x.reshape(-1, x.shape[-1])
        y = get_array_module(x).matmul(rows, weight.T)
        y = y.reshape(x.shape[:-1] + (weight.shape[0],))
        if bias is not None:
            y += bias  # in place: no second output-sized array
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        out_features, in_features = weight.shape
        needs = self.needs_input_grad
        gx = gw = gb = None
        rows = gy.reshape(-1, out_features)
        if needs[0]:
            gx = rows.matmul(weight).reshape(x.shape)
        if needs[1] or (len(needs) > 2 and needs[2]):
            if needs[1]:
                gw = rows.transpose(0, 1).matmul(x.reshape(-1, in_features))
            if len(needs) > 2 and needs[2]:
                gb = rows.sum(0)
        return (gx, gw) if len(needs) == 2 else (gx, gw, gb)


def linear(input, weight, bias=None):
    """input @ weight^T + bias (see :class:`Linear` for shapes)."""
    if bias is None:
        return Linear()(input, weight)
    return Linear()(input, weight, bias)
