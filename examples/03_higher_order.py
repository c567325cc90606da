"""Step 3: second derivatives with create_graph=True.

    python examples/03_higher_order.py

1. A Hessian-vector product H v of f(x) = sum(x^4) / 4 + sum(x)^2 / 2:
   grad f = x^3 + sum(x), so H = diag(3 x^2) + ones; H v is the gradient of
   <grad f(x), v>, which backward computes if the first gradient was built
   with create_graph=True.
2. A gradient penalty: train a tiny model while penalising the norm of the
   gradient of its output with respect to its input (as in WGAN-GP), which
   needs the gradient of a gradient.
"""
import numpy as np

import minidl


def hessian_vector_product():
    x = minidl.tensor([1.0, -2.0, 0.5], dtype=minidl.float64, requires_grad=True)
    v = minidl.tensor([0.3, 0.1, -1.0], dtype=minidl.float64)
    f = (x ** 4).sum() / 4 + x.sum() ** 2 / 2
    grad_f, = minidl.autograd.grad(f, x, create_graph=True)
    hv, = minidl.autograd.grad((grad_f * v).sum(), x)
    xs, vs = x.numpy(), v.numpy()
    by_hand = 3 * xs ** 2 * vs + vs.sum()
    print("H v by autograd:", hv.numpy())
    print("H v by hand:    ", by_hand)
    return np.allclose(hv.numpy(), by_hand)


def gradient_penalty():
    minidl.manual_seed(0)
    w = minidl.randn(4, 1, requires_grad=True)
    x = minidl.randn(16, 4, requires_grad=True)
    penalties = []
    for step in range(20):
        y = (x @ w).tanh().sum()
        grad_x, = minidl.autograd.grad(y, x, create_graph=True)
        penalty = ((grad_x ** 2).sum(dim=1).sqrt() - 1) ** 2
        loss = penalty.mean()
        w.grad = None
        loss.backward()
        with minidl.no_grad():
            w -= 0.1 * w.grad
        penalties.append(loss.item())
    print("gradient penalty: {:.4f} -> {:.4f} after 20 steps".format(
        penalties[0], penalties[-1]))
    return penalties[-1] < penalties[0]


def main():
    ok = hessian_vector_product()
    ok = gradient_penalty() and ok
    print("Hessian-vector product matches the hand formula and the gradient "
          "penalty fell: {}".format("OK" if ok else "NOT as expected"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
