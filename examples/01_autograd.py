"""Step 1: a tiny expression, its graph, backward, and the same gradients by hand.

    python examples/01_autograd.py [--dot runs/examples/01_graph.dot]

f(a, b) = sum(tanh(a * b + a))   for vectors a, b.
By the chain rule, with u = a * b + a:
    df/da = (1 - tanh(u)^2) * (b + 1)
    df/db = (1 - tanh(u)^2) * a
"""
import argparse
import os

import numpy as np

import minidl


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dot", default=os.path.join("runs", "examples",
                                                      "01_graph.dot"),
                        help="where to write the graph as Graphviz DOT text "
                             "(render it with: dot -Tpng FILE -o graph.png)")
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.dot)), exist_ok=True)

    a = minidl.tensor([0.5, -1.0, 2.0], requires_grad=True)
    b = minidl.tensor([1.5, 0.25, -0.5], requires_grad=True)
    u = a * b + a
    f = u.tanh().sum()
    print("f =", f.item())
    print("the op that made f:", f.grad_fn.name)

    dot = minidl.utils.to_dot(f, args.dot)
    print("graph ({} lines of DOT) written to {}".format(len(dot.splitlines()),
                                                         args.dot))
    print(dot)

    f.backward()
    by_hand_a = (1 - np.tanh(u.numpy()) ** 2) * (b.numpy() + 1)
    by_hand_b = (1 - np.tanh(u.numpy()) ** 2) * a.numpy()
    print("autograd df/da:", a.grad.numpy())
    print("by hand  df/da:", by_hand_a)
    print("autograd df/db:", b.grad.numpy())
    print("by hand  df/db:", by_hand_b)
    same = (np.allclose(a.grad.numpy(), by_hand_a, rtol=1e-6)
            and np.allclose(b.grad.numpy(), by_hand_b, rtol=1e-6))
    print("autograd's df/da and df/db match the chain rule by hand: {}".format(
        "OK" if same else "MISMATCH"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
