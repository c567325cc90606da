"""The spec table of the shape, scan, sort, scatter, matrix and einsum ops.

Same machinery as op_specs.py (OpSpec, shape and value drawing); the rows
live here so that this family of ops has a table of its own.
test_ops_shape_gradcheck.py and test_ops_shape_torch.py run every row.
"""
import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

from op_specs import OpSpec, a_dim, distinct_pair, shapes, values


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))


def with_zeros(data, shape, most=2):
    """Normal values with up to `most` of them 0."""
    x = values(data, shape)
    count = data.draw(st.integers(0, most), label="zeros")
    if x.size and count:
        rng = _rng(data)
        x.reshape(-1)[rng.choice(x.size, min(count, x.size), replace=False)] = 0.0
    return x


def _keepdim(data):
    return data.draw(st.booleans(), label="keepdim")


# -- reductions and scans ------------------------------------------------------------
def draw_prod(data):
    shape = shapes(data)
    dim = None if not shape or data.draw(st.booleans(), label="all?") \
        else a_dim(data, len(shape))
    return [with_zeros(data, shape)], {"dim": dim, "keepdim": _keepdim(data)}


def prod(lib, x, dim, keepdim):
    if dim is None:
        return x.prod()
    return lib.prod(x, dim, keepdim=keepdim)


def draw_scan(kind="normal", zeros=False):
    def draw(data):
        shape = shapes(data, min_dims=1)
        x = with_zeros(data, shape) if zeros else values(data, shape, kind)
        return [x], {"dim": a_dim(data, len(shape))}
    return draw


def draw_along_dim_keep(kind="distinct"):
    def draw(data):
        shape = shapes(data, min_dims=1)
        return [values(data, shape, kind)], {"dim": a_dim(data, len(shape)),
                                             "keepdim": _keepdim(data)}
    return draw


def draw_sort(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape, "distinct")], {
        "dim": a_dim(data, len(shape)),
        "descending": data.draw(st.booleans(), label="descending")}


def draw_topk(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    return [values(data, shape, "distinct")], {
        "dim": dim, "k": data.draw(st.integers(0, shape[dim]), label="k"),
        "largest": data.draw(st.booleans(), label="largest")}


def draw_kthvalue(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    return [values(data, shape, "distinct")], {
        "dim": dim, "k": data.draw(st.integers(1, shape[dim]), label="k"),
        "keepdim": _keepdim(data)}


def draw_var_mean(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    correction = data.draw(st.integers(0, 1), label="correction")
    assume(shape[dim] > correction + 1)
    return [values(data, shape)], {"dim": dim, "correction": correction,
                                   "keepdim": _keepdim(data)}


def draw_norm(data):
    shape = shapes(data, min_dims=1)
    p = data.draw(st.sampled_from([2, 1, 3, 1.5, float("inf"), "fro"]), label="p")
    dim = None if data.draw(st.booleans(), label="all?") else a_dim(data, len(shape))
    kind = "distinct" if p == float("inf") else "nonzero"
    return [values(data, shape, kind)], {"p": p, "dim": dim, "keepdim": _keepdim(data)}


def draw_matrix_norm(data):
    shape = shapes(data, min_dims=2, max_dims=3)
    ord = data.draw(st.sampled_from(["fro", 1, -1, float("inf"), -float("inf")]),
                    label="ord")
    return [values(data, shape, "distinct")], {"ord": ord}


def draw_masked(data):
    shape = shapes(data, min_dims=1)
    mask_shape = shape[data.draw(st.integers(0, len(shape)), label="cut"):]
    mask = _rng(data).random(mask_shape) < 0.5
    return [values(data, shape)], {"mask": mask}


# -- shape ---------------------------------------------------------------------------
def draw_flip(data):
    shape = shapes(data, min_dims=1)
    dims = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1), label="dims")
    return [values(data, shape)], {"dims": dims}


def draw_roll(data):
    shape = shapes(data, min_dims=1)
    if data.draw(st.booleans(), label="flat?"):
        return [values(data, shape)], {"shifts": data.draw(st.integers(-4, 4)),
                                       "dims": None}
    dims = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1), label="dims")
    shifts = tuple(data.draw(st.integers(-4, 4), label="shift") for _ in dims)
    return [values(data, shape)], {"shifts": shifts, "dims": dims}


def draw_repeat(data):
    shape = shapes(data, max_dims=2)
    extra = data.draw(st.integers(0 if shape else 1, 1), label="extra dims")
    counts = tuple(data.draw(st.integers(1, 3), label="count")
                   for _ in range(len(shape) + extra))
    return [values(data, shape)], {"sizes": counts}


def draw_repeat_interleave(data):
    shape = shapes(data, min_dims=1)
    dim = None if data.draw(st.booleans(), label="flat?") else a_dim(data, len(shape))
    size = int(np.prod(shape)) if dim is None else shape[dim]
    if data.draw(st.booleans(), label="int?"):
        repeats = data.draw(st.integers(0, 3), label="repeats")
    else:
        repeats = np.array(data.draw(st.lists(st.integers(0, 3), min_size=size,
                                              max_size=size), label="repeats"))
    return [values(data, shape)], {"repeats": repeats, "dim": dim}


def repeat_interleave(lib, x, repeats, dim):
    if isinstance(repeats, np.ndarray):
        repeats = lib.tensor(repeats)
    return x.repeat_interleave(repeats, dim=dim)


def draw_split(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    size = shape[dim]
    if data.draw(st.booleans(), label="int?"):
        sizes = data.draw(st.integers(1, 3), label="size")
    else:
        cuts = sorted(data.draw(st.lists(st.integers(0, size), max_size=2), label="cuts"))
        bounds = [0] + cuts + [size]
        sizes = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
    return [values(data, shape)], {"sizes": sizes, "dim": dim}


def draw_chunk(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape)], {"chunks": data.draw(st.integers(1, 4), label="chunks"),
                                   "dim": a_dim(data, len(shape))}


def draw_tensor_split(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    if data.draw(st.booleans(), label="sections?"):
        sections = data.draw(st.integers(1, 4), label="sections")
    else:
        sections = sorted(data.draw(st.lists(st.integers(0, shape[dim]), max_size=3),
                                    label="indices"))
    return [values(data, shape)], {"sections": sections, "dim": dim}


def draw_narrow(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    start = data.draw(st.integers(0, shape[dim]), label="start")
    length = data.draw(st.integers(0, shape[dim] - start), label="length")
    return [values(data, shape)], {"dim": dim, "start": start, "length": length}


def draw_movedim(data):
    shape = shapes(data, min_dims=1)
    source = data.draw(hnp.valid_tuple_axes(len(shape), min_size=1), label="source")
    destination = data.draw(st.permutations(range(len(shape))), label="destination")
    return [values(data, shape)], {"source": source,
                                   "destination": tuple(destination[:len(source)])}


def draw_unflatten(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    size = shape[dim]
    factors = [(a, size // a) for a in range(1, size + 1) if size % a == 0]
    first, second = data.draw(st.sampled_from(factors), label="factors")
    if data.draw(st.booleans(), label="-1?"):
        second = -1
    return [values(data, shape)], {"dim": dim, "sizes": (first, second)}


def draw_unfold(data):
    shape = shapes(data, min_dims=1, max_side=5)
    dim = a_dim(data, len(shape))
    size = data.draw(st.integers(0, shape[dim]), label="size")
    step = data.draw(st.integers(1, 3), label="step")
    return [values(data, shape)], {"dimension": dim, "size": size, "step": step}


def draw_masked_fill(data):
    arrays, params = draw_masked(data)
    params["value"] = data.draw(st.sampled_from([0.0, -1.5, "tensor"]), label="value")
    if params["value"] == "tensor":
        arrays.append(values(data, ()))
    return arrays, params


def masked_fill(lib, x, *value_tensor, mask, value):
    return x.masked_fill(lib.tensor(mask), value_tensor[0] if value_tensor else value)


def draw_take_along_dim(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    index_shape = list(shape)
    index_shape[dim] = data.draw(st.integers(1, 4), label="count")
    if len(shape) > 1 and data.draw(st.booleans(), label="broadcast?"):
        index_shape[(dim + 1) % len(shape)] = 1
    index = _rng(data).integers(0, shape[dim], index_shape)
    return [values(data, shape)], {"dim": dim, "index": index}


def draw_meshgrid(data):
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sizes")
    return [values(data, (n,)) for n in sizes], {
        "indexing": data.draw(st.sampled_from(["ij", "xy"]), label="indexing")}


def draw_broadcast_to(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=2),
                      label="shape")
    target = tuple(3 if side == 1 and data.draw(st.booleans(), label="grow?") else side
                   for side in shape)
    leading = tuple(data.draw(st.lists(st.integers(1, 2), max_size=1), label="leading"))
    return [values(data, shape)], {"shape": leading + target}


# -- matrices -----------------------------------------------------------------------
def draw_triangle(data):
    shape = shapes(data, min_dims=2)
    return [values(data, shape)], {"diagonal": data.draw(st.integers(-3, 3), label="k")}


def draw_diag(data):
    shape = shapes(data, min_dims=1, max_dims=2)
    return [values(data, shape)], {"diagonal": data.draw(st.integers(-2, 2), label="k")}


def draw_diagonal(data):
    shape = shapes(data, min_dims=2)
    dim1, dim2 = data.draw(st.permutations(range(len(shape))), label="dims")[:2]
    return [values(data, shape)], {"offset": data.draw(st.integers(-2, 2), label="k"),
                                   "dim1": dim1, "dim2": dim2 - len(shape)}


def draw_diag_embed(data):
    shape = shapes(data, min_dims=1, max_dims=2)
    dim1, dim2 = data.draw(st.permutations(range(len(shape) + 1)), label="dims")[:2]
    return [values(data, shape)], {"offset": data.draw(st.integers(-2, 2), label="k"),
                                   "dim1": dim1, "dim2": dim2}


def draw_square(data):
    n = data.draw(st.integers(1, 3), label="n")
    return [values(data, (n, data.draw(st.integers(1, 3), label="m")))], {}


def draw_vectors(same=True):
    def draw(data):
        n = data.draw(st.integers(1, 4), label="n")
        m = n if same else data.draw(st.integers(1, 4), label="m")
        return [values(data, (n,)), values(data, (m,))], {}
    return draw


def draw_products(kind):
    """Operands of mm, bmm, mv, addmm, baddbmm, addmv."""
    def draw(data):
        n, k, m, b = (data.draw(st.integers(1, 3), label=s) for s in "nkmb")
        beta = data.draw(st.sampled_from([1, 0.5, 0]), label="beta")
        alpha = data.draw(st.sampled_from([1, 2.0]), label="alpha")
        shapes_ = {"mm": [(n, k), (k, m)], "bmm": [(b, n, k), (b, k, m)],
                   "mv": [(n, k), (k,)], "addmm": [(n, m), (n, k), (k, m)],
                   "addmm_broadcast": [(m,), (n, k), (k, m)],
                   "baddbmm": [(b, n, m), (b, n, k), (b, k, m)],
                   "addmv": [(n,), (n, k), (k,)]}[kind]
        params = {"beta": beta, "alpha": alpha} if kind.startswith("add") or \
            kind == "baddbmm" else {}
        return [values(data, s) for s in shapes_], params
    return draw


def draw_cross(data):
    shape = list(shapes(data, min_dims=1, max_dims=3))
    dim = a_dim(data, len(shape))
    shape[dim] = 3
    return [values(data, tuple(shape)), values(data, tuple(shape))], {"dim": dim}


def draw_kron(data):
    return [values(data, shapes(data, max_dims=2)), values(data, shapes(data, max_dims=2))], {}


def draw_tensordot(data):
    shared = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), label="shared")
    free_x = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), label="free x")
    free_y = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), label="free y")
    return [values(data, free_x + shared), values(data, shared + free_y)], {
        "dims": len(shared)}


EINSUM_EQUATIONS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]),
    ("i,i->", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("...ij->...ji", [(2, 2, 3)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (2, 3, 4), (2, 4)]), ("ij,jk", [(2, 3), (3, 2)]),
    ("iij->j", [(2, 2, 3)]), ("i,i,i->i", [(3,), (3,), (3,)]), ("ba,ab", [(2, 3), (3, 2)]),
    ("b...,b...->b", [(2, 3, 2), (2, 3, 2)]), ("ijk->kji", [(1, 2, 3)]),
]


def draw_einsum(data):
    equation, operand_shapes = data.draw(st.sampled_from(EINSUM_EQUATIONS), label="eq")
    return [values(data, s) for s in operand_shapes], {"equation": equation}


# -- scatter ---------------------------------------------------------------------------
def draw_scatter_index(data, unique=False, min_side=1):
    """x, an index no larger than x outside dim (with repeats unless unique)
    and a src at least as large as the index."""
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    rng = _rng(data)
    index_shape = [data.draw(st.integers(min_side, side), label="side") for side in shape]
    if unique:  # a prefix of a random permutation of the positions, per column
        count = data.draw(st.integers(1, shape[dim]), label="count")
        keys_shape = list(index_shape)
        keys_shape[dim] = shape[dim]
        order = np.argsort(rng.random(keys_shape), axis=dim)
        index = np.take(order, np.arange(count), axis=dim)
        index_shape[dim] = count
    else:
        index_shape[dim] = data.draw(st.integers(1, 4), label="count")
        index = rng.integers(0, shape[dim], index_shape)
    # A src larger than the index is allowed, but PyTorch's double backward
    # then fails, so the comparison uses src of the index's shape.
    src_shape = tuple(index_shape)
    return shape, dim, index, src_shape


def draw_scatter(data):
    shape, dim, index, src_shape = draw_scatter_index(data, unique=True)
    if data.draw(st.booleans(), label="scalar?"):
        return [values(data, shape)], {"dim": dim, "index": index, "value": 2.5}
    return [values(data, shape), values(data, src_shape)], {"dim": dim, "index": index,
                                                             "value": None}


def scatter(lib, x, *src, dim, index, value):
    if value is not None:
        return x.scatter(dim, lib.tensor(index), value)
    return lib.scatter(x, dim, lib.tensor(index), src[0])


def draw_scatter_add(data):
    shape, dim, index, src_shape = draw_scatter_index(data)
    return [values(data, shape), values(data, src_shape)], {"dim": dim, "index": index}


def draw_scatter_reduce(data):
    shape, dim, index, src_shape = draw_scatter_index(data)
    reduce = data.draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"]),
                       label="reduce")
    include_self = data.draw(st.booleans(), label="include_self")
    if reduce in ("amax", "amin"):
        pool = values(data, (int(np.prod(shape)) + int(np.prod(src_shape)),), "distinct")
        x, src = pool[:int(np.prod(shape))].reshape(shape), \
            pool[int(np.prod(shape)):].reshape(src_shape)
    elif reduce == "prod":
        # PyTorch refuses the double backward for two zeros at one position
        # (test_ops_shape_misc checks minidl's on its own).
        x, src = with_zeros(data, shape), with_zeros(data, src_shape, most=1)
    else:
        x, src = values(data, shape), values(data, src_shape)
    return [x, src], {"dim": dim, "index": index, "reduce": reduce,
                      "include_self": include_self}


def scatter_reduce(lib, x, src, dim, index, reduce, include_self):
    return x.scatter_reduce(dim, lib.tensor(index), src, reduce,
                            include_self=include_self)


def draw_index_select(data):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    index = _rng(data).integers(0, shape[dim], data.draw(st.integers(0, 4), label="n"))
    return [values(data, shape)], {"dim": dim, "index": index}


def draw_index_add(data, unique=False):
    shape = shapes(data, min_dims=1)
    dim = a_dim(data, len(shape))
    rng = _rng(data)
    if unique:
        index = rng.permutation(shape[dim])[:data.draw(st.integers(1, shape[dim]))]
    else:
        index = rng.integers(0, shape[dim], data.draw(st.integers(1, 4), label="n"))
    source_shape = list(shape)
    source_shape[dim] = len(index)
    return [values(data, shape), values(data, tuple(source_shape))], {
        "dim": dim, "index": index}


def draw_index_copy(data):
    return draw_index_add(data, unique=True)


def _tuple(result):
    return tuple(result)


SHAPE_SPECS = [
    # reductions and scans
    OpSpec("prod", draw_prod, prod),
    OpSpec("cumsum", draw_scan(), lambda lib, x, dim: x.cumsum(dim)),
    OpSpec("cumsum_function", draw_scan(), lambda lib, x, dim: lib.cumsum(x, dim=dim)),
    OpSpec("cumprod", draw_scan(zeros=True), lambda lib, x, dim: lib.cumprod(x, dim)),
    OpSpec("cummax", draw_scan("distinct"),
           lambda lib, x, dim: _tuple(lib.cummax(x, dim))),
    OpSpec("cummin", draw_scan("distinct"), lambda lib, x, dim: _tuple(x.cummin(dim))),
    OpSpec("logcumsumexp", draw_scan(), lambda lib, x, dim: lib.logcumsumexp(x, dim)),
    OpSpec("diff", draw_scan(), lambda lib, x, dim: lib.diff(x, n=2, dim=dim) * 1.5 +
           x.diff(dim=dim).sum()),
    OpSpec("var_mean", draw_var_mean, lambda lib, x, dim, correction, keepdim:
           lib.var_mean(x, dim, correction=correction, keepdim=keepdim)),
    OpSpec("std_mean", draw_var_mean, lambda lib, x, dim, correction, keepdim:
           lib.std_mean(x, dim=dim, correction=correction, keepdim=keepdim)),
    OpSpec("sort", draw_sort, lambda lib, x, dim, descending:
           _tuple(lib.sort(x, dim=dim, descending=descending))),
    OpSpec("sort_method_values", draw_sort, lambda lib, x, dim, descending:
           x.sort(dim, descending).values),
    OpSpec("topk", draw_topk, lambda lib, x, dim, k, largest:
           _tuple(lib.topk(x, k, dim=dim, largest=largest))),
    OpSpec("kthvalue", draw_kthvalue, lambda lib, x, dim, k, keepdim:
           _tuple(x.kthvalue(k, dim, keepdim))),
    OpSpec("median_dim", draw_along_dim_keep(), lambda lib, x, dim, keepdim:
           _tuple(lib.median(x, dim, keepdim))),
    OpSpec("median_all", draw_along_dim_keep(), lambda lib, x, dim, keepdim: x.median()),
    OpSpec("norm", draw_norm, lambda lib, x, p, dim, keepdim:
           lib.norm(x, p=p, dim=dim, keepdim=keepdim)),
    OpSpec("linalg_vector_norm", draw_norm, lambda lib, x, p, dim, keepdim:
           lib.linalg.vector_norm(x, 2 if p == "fro" else p, dim=dim, keepdim=keepdim)),
    OpSpec("linalg_matrix_norm", draw_matrix_norm,
           lambda lib, x, ord: lib.linalg.matrix_norm(x, ord)),
    OpSpec("masked_select", draw_masked,
           lambda lib, x, mask: lib.masked_select(x, lib.tensor(mask))),
    # shape
    OpSpec("flip", draw_flip, lambda lib, x, dims: lib.flip(x, dims)),
    OpSpec("flip_method", draw_flip, lambda lib, x, dims: x.flip(*dims)),
    OpSpec("fliplr_flipud", draw_square,
           lambda lib, x: lib.fliplr(x) * 2 + lib.flipud(x)),
    OpSpec("roll", draw_roll, lambda lib, x, shifts, dims: lib.roll(x, shifts, dims)),
    OpSpec("repeat", draw_repeat, lambda lib, x, sizes: x.repeat(*sizes)),
    OpSpec("tile", draw_repeat, lambda lib, x, sizes: lib.tile(x, sizes)),
    OpSpec("repeat_interleave", draw_repeat_interleave, repeat_interleave),
    OpSpec("split", draw_split, lambda lib, x, sizes, dim: _tuple(x.split(sizes, dim))),
    OpSpec("chunk", draw_chunk, lambda lib, x, chunks, dim: _tuple(lib.chunk(x, chunks, dim))),
    OpSpec("tensor_split", draw_tensor_split, lambda lib, x, sections, dim:
           _tuple(lib.tensor_split(x, sections, dim=dim))),
    OpSpec("unbind", draw_along_dim_keep("normal"), lambda lib, x, dim, keepdim:
           _tuple(x.unbind(dim))),
    OpSpec("narrow", draw_narrow, lambda lib, x, dim, start, length:
           lib.narrow(x, dim, start, length)),
    OpSpec("movedim", draw_movedim, lambda lib, x, source, destination:
           lib.movedim(x, source, destination)),
    OpSpec("swapaxes", draw_diagonal, lambda lib, x, offset, dim1, dim2:
           x.swapaxes(dim1, dim2) + lib.swapdims(x, dim1, dim2)),
    OpSpec("unflatten", draw_unflatten, lambda lib, x, dim, sizes: x.unflatten(dim, sizes)),
    OpSpec("unfold", draw_unfold, lambda lib, x, dimension, size, step:
           x.unfold(dimension, size, step)),
    OpSpec("masked_fill", draw_masked_fill, masked_fill),
    OpSpec("take_along_dim", draw_take_along_dim, lambda lib, x, dim, index:
           lib.take_along_dim(x, lib.tensor(index), dim)),
    OpSpec("meshgrid", draw_meshgrid, lambda lib, *xs, indexing:
           _tuple(lib.meshgrid(*xs, indexing=indexing))),
    OpSpec("broadcast_to", draw_broadcast_to, lambda lib, x, shape:
           lib.broadcast_to(x, shape)),
    OpSpec("atleast_3d", draw_broadcast_to, lambda lib, x, shape:
           lib.atleast_3d(x) * 1 + lib.atleast_2d(x).sum() + lib.atleast_1d(x).sum()),
    # matrices
    OpSpec("tril", draw_triangle, lambda lib, x, diagonal: lib.tril(x, diagonal)),
    OpSpec("triu", draw_triangle, lambda lib, x, diagonal: x.triu(diagonal=diagonal)),
    OpSpec("diag", draw_diag, lambda lib, x, diagonal: lib.diag(x, diagonal)),
    OpSpec("diagonal", draw_diagonal, lambda lib, x, offset, dim1, dim2:
           lib.diagonal(x, offset=offset, dim1=dim1, dim2=dim2)),
    OpSpec("diag_embed", draw_diag_embed, lambda lib, x, offset, dim1, dim2:
           lib.diag_embed(x, offset, dim1, dim2)),
    OpSpec("trace", draw_square, lambda lib, x: lib.trace(x)),
    OpSpec("outer", draw_vectors(False), lambda lib, x, y: lib.outer(x, y)),
    OpSpec("dot", draw_vectors(), lambda lib, x, y: lib.dot(x, y) + x.dot(y)),
    OpSpec("inner", draw_vectors(), lambda lib, x, y: lib.inner(x, y)),
    OpSpec("mm", draw_products("mm"), lambda lib, x, y: lib.mm(x, y)),
    OpSpec("bmm", draw_products("bmm"), lambda lib, x, y: x.bmm(y)),
    OpSpec("mv", draw_products("mv"), lambda lib, x, y: lib.mv(x, y)),
    OpSpec("addmm", draw_products("addmm"), lambda lib, c, x, y, beta, alpha:
           lib.addmm(c, x, y, beta=beta, alpha=alpha)),
    OpSpec("addmm_broadcast", draw_products("addmm_broadcast"),
           lambda lib, c, x, y, beta, alpha: lib.addmm(c, x, y, beta=beta, alpha=alpha)),
    OpSpec("baddbmm", draw_products("baddbmm"), lambda lib, c, x, y, beta, alpha:
           lib.baddbmm(c, x, y, beta=beta, alpha=alpha)),
    OpSpec("addmv", draw_products("addmv"), lambda lib, c, x, y, beta, alpha:
           lib.addmv(c, x, y, beta=beta, alpha=alpha)),
    OpSpec("cross", draw_cross, lambda lib, x, y, dim: lib.cross(x, y, dim=dim)),
    OpSpec("kron", draw_kron, lambda lib, x, y: lib.kron(x, y)),
    OpSpec("tensordot", draw_tensordot, lambda lib, x, y, dims: lib.tensordot(x, y, dims)),
    OpSpec("einsum", draw_einsum, lambda lib, *xs, equation: lib.einsum(equation, *xs)),
    # scatter and index
    OpSpec("scatter", draw_scatter, scatter),
    OpSpec("scatter_add", draw_scatter_add, lambda lib, x, src, dim, index:
           x.scatter_add(dim, lib.tensor(index), src)),
    OpSpec("scatter_reduce", draw_scatter_reduce, scatter_reduce),
    OpSpec("index_select", draw_index_select, lambda lib, x, dim, index:
           lib.index_select(x, dim, lib.tensor(index))),
    OpSpec("index_add", draw_index_add, lambda lib, x, src, dim, index:
           x.index_add(dim, lib.tensor(index), src, alpha=1.5)),
    OpSpec("index_copy", draw_index_copy, lambda lib, x, src, dim, index:
           x.index_copy(dim, lib.tensor(index), src)),
    OpSpec("index_fill", draw_index_select, lambda lib, x, dim, index:
           x.index_fill(dim, lib.tensor(index), -2.0)),
    OpSpec("take", draw_index_select, lambda lib, x, dim, index:
           lib.take(x, lib.tensor(index))),
]



# -- nn.functional -----------------------------------------------------------------------
def _pick(data, label, options):
    return data.draw(st.sampled_from(options), label=label)


def draw_conv1d(data):
    groups = _pick(data, "groups", [1, 2])
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    k = data.draw(st.integers(1, 3), label="k")
    dilation = _pick(data, "dilation", [1, 2])
    padding = _pick(data, "padding", [0, 1, "same"])
    stride = 1 if padding == "same" else _pick(data, "stride", [1, 2])
    length = data.draw(st.integers(dilation * (k - 1) + 1, 6), label="L")
    shapes_ = [(data.draw(st.integers(1, 2), label="N"), c_in, length),
               (c_out, c_in // groups, k), (c_out,)]
    return [values(data, s) for s in shapes_], {
        "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def draw_conv3d(data):
    c_in, c_out = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    kernel = tuple(data.draw(st.integers(1, 2), label="k") for _ in range(3))
    padding = _pick(data, "padding", [0, 1])
    stride = _pick(data, "stride", [1, 2])
    spatial = tuple(data.draw(st.integers(k, 3), label="side") for k in kernel)
    return [values(data, (1, c_in) + spatial), values(data, (c_out, c_in) + kernel),
            values(data, (c_out,))], {"stride": stride, "padding": padding}


INTERPOLATE_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,),
                     "bilinear": (2,), "bicubic": (2,), "trilinear": (3,), "area": (1, 2)}


def draw_interpolate(data):
    mode = _pick(data, "mode", sorted(INTERPOLATE_MODES))
    spatial = _pick(data, "spatial dims", INTERPOLATE_MODES[mode])
    sides = tuple(data.draw(st.integers(1, 4), label="side") for _ in range(spatial))
    params = {"mode": mode, "size": None, "scale_factor": None, "align_corners": None,
              "recompute_scale_factor": None}
    if data.draw(st.booleans(), label="size?"):
        params["size"] = tuple(data.draw(st.integers(1, 6), label="out") for _ in sides)
    else:
        params["scale_factor"] = _pick(data, "scale", [0.5, 1.5, 2.0, 2.3, 3.0])
        factor = params["scale_factor"]
        assume(all(int(s * factor) >= 1 for s in sides))
        # PyTorch's 1-d and 3-d nearest backward copies a dim whose size is
        # kept or doubled, while its forward uses the scale factor: its
        # gradient then disagrees with its own forward. Left out.
        assume(not (mode == "nearest" and spatial != 2 and factor != 2.0 and
                    any(int(s * factor) in (s, 2 * s) for s in sides)))
        params["recompute_scale_factor"] = _pick(data, "recompute", [None, True])
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        params["align_corners"] = data.draw(st.booleans(), label="align_corners")
    return [values(data, (1, 2) + sides)], params


def draw_pad_mode(data):
    mode = _pick(data, "mode", ["reflect", "replicate", "circular"])
    spatial = data.draw(st.integers(1, 2), label="padded dims")
    sides = tuple(data.draw(st.integers(2, 4), label="side") for _ in range(spatial))
    limit = {"reflect": min(sides) - 1, "replicate": 3, "circular": min(sides)}[mode]
    pad = tuple(data.draw(st.integers(0, limit), label="pad") for _ in range(2 * spatial))
    return [values(data, (1, 2) + sides)], {"pad": pad, "mode": mode}


def draw_normalize(data):
    shape = shapes(data, min_dims=1)
    return [values(data, shape, "nonzero")], {
        "p": _pick(data, "p", [1, 2, 3]), "dim": a_dim(data, len(shape))}


def _reduction(data):
    return _pick(data, "reduction", ["mean", "sum", "none"])


def draw_bce(data):
    shape = shapes(data, min_dims=1)
    rng = _rng(data)
    arrays = [rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)]
    weight = rng.uniform(0.5, 2, shape[-1:]) if data.draw(st.booleans(), label="weight?") \
        else None
    return arrays, {"reduction": _reduction(data), "weight": weight}


def bce(lib, x, t, weight, reduction):
    weight = None if weight is None else lib.tensor(weight)  # not differentiated
    return lib.nn.functional.binary_cross_entropy(x, t, weight, reduction=reduction)


def draw_bce_logits(data):
    shape = shapes(data, min_dims=1)
    rng = _rng(data)
    arrays = [values(data, shape) * 3, rng.uniform(0, 1, shape)]
    return arrays, {"reduction": _reduction(data),
                    "weight": rng.uniform(0.5, 2, shape[-1:]),
                    "pos_weight": rng.uniform(0.5, 3, shape[-1:]),
                    "use": _pick(data, "use", ["neither", "weight", "pos_weight", "both"])}


def bce_logits(lib, x, t, weight, pos_weight, reduction, use):
    """weight and pos_weight are constants (PyTorch differentiates neither)."""
    return lib.nn.functional.binary_cross_entropy_with_logits(
        x, t, lib.tensor(weight) if use in ("weight", "both") else None,
        reduction=reduction,
        pos_weight=lib.tensor(pos_weight) if use in ("pos_weight", "both") else None)


def draw_regression_loss(data):
    shape = shapes(data, min_dims=1)
    x, t = distinct_pair(data, shape, shape)  # |x - t| > 0.1: away from the kinks
    return [x, t], {"reduction": _reduction(data),
                    "name": _pick(data, "loss", ["l1_loss", "smooth_l1_loss", "huber_loss"]),
                    "beta": _pick(data, "beta", [0.5, 1.0, 2.0])}


def regression_loss(lib, x, t, reduction, name, beta):
    F = lib.nn.functional
    if name == "l1_loss":
        return F.l1_loss(x, t, reduction=reduction)
    if name == "smooth_l1_loss":
        return F.smooth_l1_loss(x, t, reduction=reduction, beta=beta)
    return F.huber_loss(x, t, reduction=reduction, delta=beta)


def draw_kl_div(data):
    shape = shapes(data, min_dims=1)
    log_target = data.draw(st.booleans(), label="log_target")
    target = values(data, shape) if log_target else _rng(data).uniform(0.1, 1, shape)
    return [values(data, shape), target], {
        "reduction": _pick(data, "reduction", ["mean", "sum", "none", "batchmean"]),
        "log_target": log_target}


def draw_two_same(data):
    shape = shapes(data, min_dims=2)
    return list(distinct_pair(data, shape, shape)), {"dim": a_dim(data, len(shape))}


def draw_pool_input(spatial, min_side=2):
    def draw(data):
        sides = tuple(data.draw(st.integers(min_side, 5), label="side")
                      for _ in range(spatial))
        return [values(data, (data.draw(st.integers(1, 2), label="N"), 2) + sides,
                       "distinct")], {
            "kernel": _pick(data, "kernel", [1, 2]), "stride": _pick(data, "stride", [1, 2]),
            "padding": _pick(data, "padding", [0, 1])}
    return draw


def max_unpool2d(lib, x, kernel, stride, padding):
    """Windows that do not overlap (stride = kernel): overlapping ones can
    pick one element twice, and unpooling writes it once while both
    libraries' gradients count it twice."""
    F = lib.nn.functional
    kernel = stride = max(kernel, 2 * padding)
    y, indices = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    return F.max_unpool2d(y, indices, kernel, stride, padding, output_size=x.shape[2:])


def max_pool1d(lib, x, kernel, stride, padding):
    kernel = max(kernel, 2 * padding)
    return tuple(lib.nn.functional.max_pool1d(x, kernel, stride, padding,
                                              return_indices=True))


def avg_pool1d(lib, x, kernel, stride, padding):
    kernel = max(kernel, 2 * padding)
    return lib.nn.functional.avg_pool1d(x, kernel, stride, padding)


def avg_pool3d(lib, x, kernel, stride, padding):
    kernel = max(kernel, 2 * padding)
    return lib.nn.functional.avg_pool3d(x, kernel, stride, padding)


def adaptive_avg_pool1d(lib, x, kernel, stride, padding):
    return lib.nn.functional.adaptive_avg_pool1d(x, kernel + stride + padding)


FUNCTIONAL_SPECS = [
    OpSpec("conv1d", draw_conv1d, lambda lib, x, w, b, **p:
           lib.nn.functional.conv1d(x, w, b, **p)),
    OpSpec("conv3d", draw_conv3d, lambda lib, x, w, b, **p:
           lib.nn.functional.conv3d(x, w, b, **p)),
    OpSpec("interpolate", draw_interpolate, lambda lib, x, **p:
           lib.nn.functional.interpolate(x, **p)),
    OpSpec("pad_modes", draw_pad_mode, lambda lib, x, pad, mode:
           lib.nn.functional.pad(x, pad, mode=mode)),
    OpSpec("normalize", draw_normalize, lambda lib, x, p, dim:
           lib.nn.functional.normalize(x, p=p, dim=dim)),
    OpSpec("binary_cross_entropy", draw_bce, bce),
    OpSpec("binary_cross_entropy_with_logits", draw_bce_logits, bce_logits),
    OpSpec("regression_losses", draw_regression_loss, regression_loss),
    OpSpec("kl_div", draw_kl_div, lambda lib, x, t, reduction, log_target:
           lib.nn.functional.kl_div(x, t, reduction=reduction, log_target=log_target)),
    OpSpec("cosine_similarity", draw_two_same, lambda lib, x, y, dim:
           lib.nn.functional.cosine_similarity(x, y, dim=dim)),
    OpSpec("pairwise_distance", draw_two_same, lambda lib, x, y, dim:
           lib.nn.functional.pairwise_distance(x, y, keepdim=dim % 2 == 0)),
    OpSpec("max_unpool2d", draw_pool_input(2), max_unpool2d),
    OpSpec("max_pool1d", draw_pool_input(1), max_pool1d),
    OpSpec("avg_pool1d", draw_pool_input(1), avg_pool1d),
    OpSpec("avg_pool3d", draw_pool_input(3), avg_pool3d),
    OpSpec("adaptive_avg_pool1d", draw_pool_input(1), adaptive_avg_pool1d),
]

SHAPE_SPECS += FUNCTIONAL_SPECS
SHAPE_SPEC_NAMES = [spec.name for spec in SHAPE_SPECS]
