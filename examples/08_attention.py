"""Step 8: attention, written out, checked, and trained.

    python examples/08_attention.py [--steps 400]

1. Scaled dot-product attention in four lines of Tensor ops,
       scores = q @ k^T / sqrt(E) (+ mask);  weights = softmax(scores);
       output = weights @ v,
   compared with minidl.nn.functional.scaled_dot_product_attention, with
   and without a causal mask.
2. Its gradient (and the gradient of its gradient) checked against
   central differences in float64 (minidl.autograd.gradcheck).
3. A tiny Transformer encoder (token and position embeddings, two
   pre-norm nn.TransformerEncoderLayer blocks, a Linear read-out per
   position) learns to REVERSE sequences of digits: the answer at position
   i is the input at position L - 1 - i, which only attention can fetch.
   The last line gives the accuracy on fresh sequences.
"""
import argparse
import math
import time

import numpy as np

import minidl
import minidl.nn as nn
import minidl.nn.functional as F
from minidl.autograd import gradcheck, gradgradcheck


# -- 1. attention written out -------------------------------------------------

def attention_by_hand(q, k, v, causal=False):
    """softmax(q k^T / sqrt(E) + mask) v, for (..., L, E) queries and
    (..., S, E) keys."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:  # query i may look at keys 0..i only
        L, S = q.shape[-2], k.shape[-2]
        future = np.triu(np.ones((L, S), dtype=bool), k=1)
        scores = minidl.where(future, -math.inf, scores)
    weights = scores.softmax(dim=-1)  # each row sums to 1
    return weights @ v


def compare_with_the_library():
    minidl.manual_seed(0)
    q, k, v = minidl.randn(2, 4, 8), minidl.randn(2, 6, 8), minidl.randn(2, 6, 3)
    worst = 0.0
    for causal in (False, True):
        mine = attention_by_hand(q, k, v, causal)
        library = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        difference = float(np.abs(mine.numpy() - library.numpy()).max())
        print(f"by hand vs F.scaled_dot_product_attention (causal={causal}): "
              f"largest difference {difference:.1e}")
        worst = max(worst, difference)
    return worst < 1e-5


# -- 2. its gradient, checked -----------------------------------------------------

def check_gradients():
    rng = np.random.default_rng(0)
    inputs = [minidl.tensor(rng.standard_normal(shape), requires_grad=True)
              for shape in ((2, 3, 4), (2, 5, 4), (2, 5, 2))]
    for causal in (False, True):
        def function(q, k, v):
            return attention_by_hand(q, k, v, causal)
        first, second = gradcheck(function, inputs), gradgradcheck(function,
                                                                   inputs)
        print(f"gradcheck {first}, gradgradcheck {second} (causal={causal})")
        if not (first and second):
            return False
    return True


# -- 3. a tiny Transformer learns to reverse ------------------------------------------

class Reverser(nn.Module):
    """digits (N, L) -> logits (N, L, 10) for the reversed sequence."""

    def __init__(self, length, digits=10, width=32, heads=4, layers=2):
        super().__init__()
        self.tokens = nn.Embedding(digits, width)
        self.positions = nn.Embedding(length, width)
        block = nn.TransformerEncoderLayer(width, heads, dim_feedforward=64,
                                           dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers)
        self.norm = nn.LayerNorm(width)
        self.read_out = nn.Linear(width, digits)

    def forward(self, digits):
        length = digits.shape[1]
        x = self.tokens(digits) + self.positions(np.arange(length))
        return self.read_out(self.norm(self.encoder(x)))


def batch(rng, size, length):
    digits = rng.integers(0, 10, (size, length))
    return digits, digits[:, ::-1].copy()


def train_reverser(steps, length, seed):
    minidl.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Reverser(length)
    optimizer = minidl.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        digits, target = batch(rng, 64, length)
        logits = model(minidl.tensor(digits))
        loss = F.cross_entropy(logits.reshape(-1, 10),
                               minidl.tensor(target.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % max(1, steps // 5) == 0:
            print(f"step {step:4d}  loss {loss.item():.3f}  "
                  f"({time.perf_counter() - start:.0f} s)")
    model.eval()
    digits, target = batch(np.random.default_rng(seed + 1), 500, length)
    with minidl.no_grad():
        predicted = model(minidl.tensor(digits)).argmax(dim=-1).numpy()
    return float((predicted == target).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400,
                        help="training steps of 64 sequences (default 400)")
    parser.add_argument("--length", type=int, default=6,
                        help="digits per sequence (default 6)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not compare_with_the_library():
        raise SystemExit("attention by hand differs from the library")
    if not check_gradients():
        raise SystemExit("attention's gradient check failed")
    accuracy = train_reverser(args.steps, args.length, args.seed)
    chance = 0.1
    verdict = "learned" if accuracy > 0.9 else \
        "above chance" if accuracy > 2 * chance else "NOT learned"
    print(f"reversing {args.length} digits: {accuracy:.1%} of fresh digits "
          f"right after {args.steps} steps (chance {chance:.0%}): {verdict}")


if __name__ == "__main__":
    main()
