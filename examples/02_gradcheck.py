"""Step 2: numerical against analytical gradients, and a wrong backward caught.

    python examples/02_gradcheck.py

gradcheck perturbs each input element by +-eps (float64) and compares
(f(x + eps) - f(x - eps)) / 2 eps with what backward computed.
"""
import numpy as np

import minidl
from minidl.autograd import Function, gradcheck, gradgradcheck
from minidl.autograd.gradcheck import GradcheckError


class WrongSquare(Function):
    """y = x^2 with a deliberately wrong backward: dy/dx = x (should be 2x)."""

    def to_save(self, inputs, outputs):
        return inputs

    def forward(self, x):
        return x * x

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * x  # the bug: the factor 2 is missing


def main():
    rng = np.random.default_rng(0)
    x = minidl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = minidl.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    checks = {
        "matmul + tanh": lambda x, w: (x @ w).tanh(),
        "log_softmax": lambda x, w: x.log_softmax(dim=1),
        "max over dim 1": lambda x, w: x.max(dim=1)[0],
        "broadcast mul": lambda x, w: x * w.sum(dim=1),
    }
    for name, fn in checks.items():
        gradcheck(fn, [x, w])
        gradgradcheck(fn, [x, w])
        print("{:16s} gradcheck ok, gradgradcheck ok".format(name))

    caught = False
    try:
        gradcheck(lambda x: WrongSquare()(x), [x])
    except GradcheckError as error:
        print("wrong backward caught:", error)
        caught = True
    print("{} ops pass gradcheck and gradgradcheck; the wrong backward {}: {}"
          .format(len(checks), "was caught" if caught else "was NOT caught",
                  "OK" if caught else "NOT as expected"))
    return 0 if caught else 1


if __name__ == "__main__":
    raise SystemExit(main())
