"""einsum, built from diagonal, sum, permute, reshape and matmul.

The equation names each dim of each operand with a letter ('...' stands
for the broadcast dims). The work is done in steps, each an exact op
whose gradient is known:

1. a letter repeated within one operand ('ii') takes that diagonal;
2. a letter that no other operand and not the output uses is summed away;
3. operands are contracted pairwise, left to right: the letters both
   share and still needed later are batch dims, shared ones not needed
   are summed by a batched matmul;
4. the result is permuted into the output's order.
"""
import string

from ..tensor import Tensor
from .linalg import matmul

_ELLIPSIS_LETTERS = "0123456789"  # stand-ins for the dims of "..."


def _parse(equation, operands):
    """The letters of each operand (ellipsis expanded) and of the output."""
    equation = equation.replace(" ", "")
    if "->" in equation:
        inputs_part, output = equation.split("->")
        explicit = True
    else:
        inputs_part, output, explicit = equation, None, False
    terms = inputs_part.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} "
                         f"operands, {len(operands)} tensors were given")
    ellipsis_ndim = 0
    for term, x in zip(terms, operands):
        if "..." in term:
            ellipsis_ndim = max(ellipsis_ndim, x.ndim - len(term.replace("...", "")))
    stand_ins = _ELLIPSIS_LETTERS[:ellipsis_ndim]
    labels = []
    for term, x in zip(terms, operands):
        named = term.replace("...", "")
        if any(c not in string.ascii_letters for c in named):
            raise ValueError(f"einsum: invalid subscript in {term!r} (letters and "
                             f"'...' only)")
        if "..." in term:
            count = x.ndim - len(named)
            term = term.replace("...", stand_ins[ellipsis_ndim - count:] if count else "")
        if len(term) != x.ndim:
            raise ValueError(f"einsum: subscript {term!r} has {len(term)} letters "
                             f"for an operand of shape {x.shape}")
        labels.append(term)
    if explicit:
        output = output.replace("...", stand_ins)
    else:
        counts = {}
        for term in labels:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = stand_ins + "".join(sorted(c for c in counts
                                            if counts[c] == 1 and c not in stand_ins))
    return labels, output


def _sizes(labels, operands):
    """The size of each letter (size-1 dims broadcast)."""
    sizes = {}
    for term, x in zip(labels, operands):
        for c, size in zip(term, x.shape):
            if sizes.get(c, 1) not in (1, size) and size != 1:
                raise ValueError(f"einsum: letter {c!r} has sizes {sizes[c]} and "
                                 f"{size}")
            if size != 1 or c not in sizes:
                sizes[c] = size
    return sizes


def _take_diagonals(x, term):
    """Repeated letters in one term: take their diagonal (dims merged)."""
    from .matrix import diagonal
    while True:
        repeated = next((c for c in term if term.count(c) > 1), None)
        if repeated is None:
            return x, term
        first = term.index(repeated)
        second = term.index(repeated, first + 1)
        x = diagonal(x, 0, first, second)  # the diagonal goes last
        term = term[:first] + term[first + 1:second] + term[second + 1:] + repeated


def _sum_letters(x, term, keep):
    gone = [i for i, c in enumerate(term) if c not in keep]
    if not gone:
        return x, term
    return x.sum(tuple(gone)), "".join(c for c in term if c in keep)


def _broadcast_to_sizes(x, term, sizes):
    target = tuple(sizes[c] for c in term)
    return (x.expand(target) if x.shape != target else x), term


def _contract(a, ta, b, tb, keep, sizes):
    """a (letters ta) times b (letters tb), summed over the shared letters
    not in `keep`, as one batched matmul."""
    batch = [c for c in ta if c in tb and c in keep]
    summed = [c for c in ta if c in tb and c not in keep]
    only_a = [c for c in ta if c not in tb]
    only_b = [c for c in tb if c not in ta]
    a, ta = _broadcast_to_sizes(a, ta, {c: sizes[c] if c in tb else a.shape[ta.index(c)]
                                        for c in ta})
    b, tb = _broadcast_to_sizes(b, tb, {c: sizes[c] if c in ta else b.shape[tb.index(c)]
                                        for c in tb})

    def product(letters):
        total = 1
        for c in letters:
            total *= sizes[c]
        return total
    a = a.permute(*[ta.index(c) for c in batch + only_a + summed])
    b = b.permute(*[tb.index(c) for c in batch + summed + only_b])
    a = a.reshape(product(batch), product(only_a), product(summed))
    b = b.reshape(product(batch), product(summed), product(only_b))
    result = matmul(a, b).reshape(tuple(sizes[c] for c in batch + only_a + only_b))
    return result, "".join(batch + only_a + only_b)


def einsum(equation, *operands):
    """Sums of products over named dims, as torch.einsum ('ij,jk->ik',
    'bij,bjk->bik', 'ii->i', 'ii', '...ij->...ji', implicit outputs)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands or not all(isinstance(x, Tensor) for x in operands):
        raise ValueError("einsum: expected one or more tensors after the equation")
    labels, output = _parse(equation, operands)
    for c in output:
        if output.count(c) > 1 or not any(c in term for term in labels):
            raise ValueError(f"einsum: output letter {c!r} in {equation!r} must appear "
                             f"once in the output and in some operand")
    sizes = _sizes(labels, operands)
    terms = []
    for x, term in zip(operands, labels):
        terms.append(_take_diagonals(x, term))
    # Sum letters used by one operand only and not by the output.
    reduced = []
    for i, (x, term) in enumerate(terms):
        elsewhere = set(output).union(*[set(t) for j, (_, t) in enumerate(terms) if j != i])
        reduced.append(_sum_letters(x, term, elsewhere))
    result, term = reduced[0]
    for i in range(1, len(reduced)):
        x, t = reduced[i]
        later = set(output).union(*[set(tt) for _, tt in reduced[i + 1:]])
        result, term = _contract(result, term, x, t, later, sizes)
    result, term = _sum_letters(result, term, set(output))
    result, term = _broadcast_to_sizes(result, term, sizes)
    if term != output:
        result = result.permute(*[term.index(c) for c in output])
    return result
