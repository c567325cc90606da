"""Winograd's F(4x4, 3x3): a 3x3 convolution with fewer multiplications.

A 3x3 convolution (stride 1) computes each 4x4 block of outputs from a 6x6
tile of the input with 16 * 9 = 144 multiplications. Winograd's minimal
filtering algorithm gets the same 16 outputs from 36: it transforms the
input tile (V = B^T d B) and the kernel (U = G w G^T) into 6x6 arrays,
multiplies them element by element (36 products), and transforms the
result back (Y = A^T (U * V) A). The idea, in one dimension: the outputs
of a 3-tap filter over 6 inputs are the coefficients of a product of two
polynomials (degrees 2 and 3), and a polynomial of degree 5 is fixed by
its values at 6 points, so 6 products of values at those points (here
0, 1, -1, 2, -2 and infinity, the standard choice) replace 4 * 3 = 12;
in two dimensions 6 * 6 = 36 replace 144. The transforms are only
additions and multiplications by constants, and are shared: U once per
kernel, V once per tile and input channel, A^T once per tile and output
channel, while the 36 products are summed over the input channels. So the
work is 36 matrix products (one per position of the 6x6 array),
(tiles, C_in) @ (C_in, C_out), instead of one product with 4 times the
arithmetic.

The price is precision: the transforms have entries up to 8 and 1/24 and
mix the values of a tile, so float32 results differ from the exact sum by
up to about 1.5e-6 of the sum of |w| |x| over the windows of a 4x4 block
(measured; tests/test_winograd.py allows 1e-5), some ten times float32's
rounding of a direct sum.

The entry points work on plain arrays of shape (N, C, H, W), for a 3x3
kernel, stride 1, dilation 1, groups 1 and padding 1 (the output has the
input's size): :func:`winograd_conv2d_into` (y, from the kernel's
:func:`transformed_kernel`; dx is the same convolution of gy with the
:func:`flipped_kernel`), and :func:`winograd_weight_grad_part` with
:func:`kernel_grad_from_transformed` (dW, through the transposes of the
same maps); :func:`winograd_grads_part` makes dx and dW's part at once.
Their callers in ``_conv_arithmetic.py`` split the batch into chunks
(see :mod:`minidl.parallel`) and decide where this route is used
(:func:`conv2d_prefers_winograd`; the GPU's version in
``minidl/kernels/cuda_conv.py`` keeps im2col).
"""
from ... import kernels
from ...backend import get_array_module
from ._im2col import pad_to_cover
from ._workspace import scratch

# Output tile (4x4), kernel (3x3) and input tile (6 = 4 + 3 - 1) sizes.
TILE = 4
KERNEL = 3
INPUT_TILE = TILE + KERNEL - 1

# The transforms of F(4, 3) for the points 0, 1, -1, 2, -2 and infinity
# (A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural
# Networks", 2016). G evaluates the kernel's polynomial at the 6 points
# (scaled so that the other two need no divisions), B^T gives the input's
# matching values, and A^T turns the 6 products back into the 4 outputs.
INPUT_TRANSFORM_T = (          # B^T, (6, 6)
    (4, 0, -5, 0, 1, 0),
    (0, -4, -4, 1, 1, 0),
    (0, 4, -4, -1, 1, 0),
    (0, -2, -1, 2, 1, 0),
    (0, 2, -1, -2, 1, 0),
    (0, 4, 0, -5, 0, 1),
)
KERNEL_TRANSFORM = (           # G, (6, 3)
    (1 / 4, 0, 0),
    (-1 / 6, -1 / 6, -1 / 6),
    (-1 / 6, 1 / 6, -1 / 6),
    (1 / 24, 1 / 12, 1 / 6),
    (1 / 24, -1 / 12, 1 / 6),
    (0, 0, 1),
)
OUTPUT_TRANSFORM_T = (         # A^T, (4, 6)
    (1, 1, 1, 1, 1, 0),
    (0, 1, -1, 2, -2, 0),
    (0, 1, 1, 4, 4, 0),
    (0, 1, -1, 8, -8, 1),
)


def _matrix(rows, like):
    """One of the transforms above as an array of like's dtype and device."""
    return get_array_module(like).asarray(rows, dtype=like.dtype)


def tile_counts(size):
    """(tiles along H, tiles along W) for outputs of size (H, W): ceil(/4)."""
    return tuple(-(-s // TILE) for s in size)


def _both_sides(matrix, a, slot=None):
    """M @ a[.., .., r] @ M^T over the two leading axes of a (I, I, R):
    out[p, q, r] = sum over i, j of M[p, i] a[i, j, r] M[q, j], for M (P, I).

    Two matrix products with a short inner dimension (6 or 4): the first
    over axis j, one product per i (matmul broadcasts M over them), the
    second over axis i with the rest flattened. R stays innermost, so the
    result is already laid out for the products that follow; and a that is
    a view with only its last axis contiguous (rows and columns 1 to 4 of
    the tiles) is read in place. With a `slot`, the result is a scratch
    buffer of that name (valid until the next call on this thread): a
    fresh array of this size would cost more than the products that fill
    it (see ``_workspace.py``).
    """
    xp = get_array_module(a)
    rows_out = matrix.shape[0]
    rows_in, _, rest = a.shape
    if slot is None:
        rows = xp.matmul(matrix, a)  # (I, P, R)
        return xp.matmul(matrix, rows.reshape(rows_in, rows_out * rest)) \
            .reshape(rows_out, rows_out, rest)
    rows = scratch(slot + "_rows", (rows_in, rows_out, rest), a)
    xp.matmul(matrix, a, out=rows)
    out = scratch(slot, (rows_out, rows_out, rest), a)
    xp.matmul(matrix, rows.reshape(rows_in, rows_out * rest),
              out=out.reshape(rows_out, rows_out * rest))
    return out


def transformed_kernel(weight):
    """U = G w G^T for each kernel of weight (C_out, C_in, 3, 3), as
    (36, C_in, C_out): one (C_in, C_out) matrix per position of the 6x6
    array, the right operands of the 36 products."""
    xp = get_array_module(weight)
    c_out, c_in = weight.shape[:2]
    g = _matrix(KERNEL_TRANSFORM, weight)
    taps_first = weight.transpose(2, 3, 1, 0).reshape(KERNEL, KERNEL,
                                                      c_in * c_out)
    u = _both_sides(g, xp.ascontiguousarray(taps_first))
    return u.reshape(INPUT_TILE * INPUT_TILE, c_in, c_out)


def _gather_blocks_into(blocks, x):
    """blocks[p, q, n, ty, tx, c] = x[n, c, 4 ty + p, 4 tx + q] (0 past the
    end of x): the 4x4 blocks of x (N, C, H, W), channels last.

    One copy (from x itself, or, when H or W is not a multiple of 4, from x
    padded after its end), its innermost loop over the C channels (4 to 7
    times faster, measured, than one over the few tiles of a row).
    """
    _, _, n, tiles_h, tiles_w, c = blocks.shape
    covered = pad_to_cover(x, (0, 0), (TILE * tiles_h, TILE * tiles_w), 0)
    in_order = covered.reshape(n, c, tiles_h, TILE, tiles_w, TILE)
    blocks[...] = in_order.transpose(3, 5, 0, 2, 4, 1)


def _gather_tiles_into(gathered, x):
    """gathered[i, j, n, ty, tx, c] = x[n, c, 4 ty + i - 1, 4 tx + j - 1]
    (0 outside x): the 6x6 tiles of x padded by 1, channels last.

    No padded copy of x is made. Rows and columns 1 to 4 of the tiles are
    the 4x4 blocks of x, which do not overlap: one copy moves them into
    place (:func:`_gather_blocks_into`). A tile's first row (i = 0) is the
    row above its block, row 4 of the tile above (zeros for the top
    tiles), and its last row (i = 5) is row 1 of the tile below (zeros for
    the bottom ones); so do columns. These are copied inside `gathered`,
    between contiguous runs of C channels.
    """
    _gather_blocks_into(gathered[1:5, 1:5], x)
    inner_rows = gathered[1:5]  # columns 0 and 5 from the tiles beside
    inner_rows[:, 0, :, :, 1:] = inner_rows[:, 4, :, :, :-1]
    inner_rows[:, 0, :, :, 0] = 0
    inner_rows[:, 5, :, :, :-1] = inner_rows[:, 1, :, :, 1:]
    inner_rows[:, 5, :, :, -1] = 0
    gathered[0, :, :, 1:] = gathered[4, :, :, :-1]  # rows 0 and 5, whole
    gathered[0, :, :, 0] = 0
    gathered[5, :, :, :-1] = gathered[1, :, :, 1:]
    gathered[5, :, :, -1] = 0


def _gathered_tiles(x):
    """The 6x6 tiles of x (N, C, H, W), padded by 1, channels last:
    (6, 6, N, tiles_h, tiles_w, C), in a scratch buffer (valid until the
    next call on this thread); see :func:`_gather_tiles_into`."""
    n, c, h, w = x.shape
    tiles_h, tiles_w = tile_counts((h, w))
    gathered = scratch("winograd_tiles", (INPUT_TILE, INPUT_TILE, n, tiles_h,
                                          tiles_w, c), x)
    _gather_tiles_into(gathered, x)
    return gathered


def _input_transform(gathered):
    """V = B^T d B for every gathered tile d (6, 6, N, tiles_h, tiles_w, C):
    (36, N * tiles_h * tiles_w, C), in a scratch buffer (valid until the
    next call on this thread)."""
    c = gathered.shape[-1]
    v = _both_sides(_matrix(INPUT_TRANSFORM_T, gathered),
                    gathered.reshape(INPUT_TILE, INPUT_TILE, -1),
                    "winograd_input_tiles")
    return v.reshape(INPUT_TILE * INPUT_TILE, -1, c)


def transformed_input_tiles(x):
    """V = B^T d B for every 6x6 tile d of x (N, C, H, W), padded by 1:
    (36, N * tiles_h * tiles_w, C), in a scratch buffer (valid until the
    next call on this thread).

    Tile (ty, tx) starts at row 4 ty, column 4 tx of the padded input, so
    neighbouring tiles overlap by 2 rows or columns. The padding is 1 before
    and as much after as the last tile needs (zeros past the input).
    """
    return _input_transform(_gathered_tiles(x))


def winograd_conv2d_into(y, x, u):
    """Write y (N, C_out, H, W) = conv2d(x, weight, padding=1), stride 1,
    for x (N, C_in, H, W), from the weight's U = transformed_kernel(weight)
    (36, C_in, C_out): per tile, A^T (U * V) A, the element-wise product
    summed over the input channels as 36 matrix products
    (36, tiles, C_in) @ (36, C_in, C_out)."""
    _outputs_from_tiles_into(y, transformed_input_tiles(x), u)


def _outputs_from_tiles_into(y, v, u):
    """Write y (N, C_out, H, W) from the transformed tiles v
    (36, tiles, C_in) of its input and U (36, C_in, C_out): the products,
    then A^T (U * V) A per tile, scattered into place."""
    xp = get_array_module(v)
    n, c_out, h, w = y.shape
    tiles_h, tiles_w = tile_counts((h, w))
    products = scratch("winograd_products", (u.shape[0], v.shape[1], c_out), v)
    xp.matmul(v, u, out=products)
    blocks = _both_sides(_matrix(OUTPUT_TRANSFORM_T, v),
                         products.reshape(INPUT_TILE, INPUT_TILE, -1),
                         "winograd_output_blocks")
    # blocks[p, q, n, ty, tx, o] is y[n, o, 4 ty + p, 4 tx + q]: one copy
    # scatters the 4x4 blocks into place, cropped to (H, W).
    blocks = blocks.reshape(TILE, TILE, n, tiles_h, tiles_w, c_out)
    in_place = blocks.transpose(2, 5, 3, 0, 4, 1)  # (N, C_out, ty, p, tx, q)
    if (h, w) == (TILE * tiles_h, TILE * tiles_w):
        y.reshape(n, c_out, tiles_h, TILE, tiles_w, TILE)[...] = in_place
    else:
        whole = scratch("winograd_blocks", in_place.shape, v)
        whole[...] = in_place
        y[...] = whole.reshape(n, c_out, TILE * tiles_h,
                               TILE * tiles_w)[:, :, :h, :w]


def flipped_kernel(weight):
    """The kernel whose convolution (padding 1) is dx of a convolution with
    weight (C_out, C_in, 3, 3): C_in and C_out swapped, turned 180 degrees,
    as (C_in, C_out, 3, 3)."""
    return weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]


def _output_grad_transform(blocks):
    """A g A^T for every 4x4 block g of blocks (4, 4, N, tiles_h, tiles_w,
    C_out) (a view whose last axis is contiguous will do): (36, tiles,
    C_out), the adjoint of the output transform, in the layout of the
    weight gradient's products, in a scratch buffer."""
    c_out = blocks.shape[-1]
    a = _matrix(OUTPUT_TRANSFORM_T, blocks).T  # A, (6, 4)
    g = _both_sides(a, blocks.reshape(TILE, TILE, -1), "winograd_grads")
    return g.reshape(INPUT_TILE * INPUT_TILE, -1, c_out)


def transformed_output_grads(gy):
    """A gy A^T for every 4x4 block of gy (N, C_out, H, W) (zeros past its
    end): (36, N * tiles_h * tiles_w, C_out), the adjoint of the output
    transform, in the layout of the weight gradient's products."""
    n, c_out, h, w = gy.shape
    tiles_h, tiles_w = tile_counts((h, w))
    blocks = scratch("winograd_grad_blocks", (TILE, TILE, n, tiles_h,
                                              tiles_w, c_out), gy)
    _gather_blocks_into(blocks, gy)
    return _output_grad_transform(blocks)


def winograd_weight_grad_part(x, gy):
    """The part of dU that the images of x (N, C_in, H, W) and
    gy (N, C_out, H, W) contribute, (36, C_in, C_out) (U's layout): the sum
    over tiles of V[p]^T (A gy A^T)[p] at each position p of the 6x6 array.

    Since y = A^T (U * V) A is linear in U, dL/dU = (A gy A^T) * V summed
    over tiles; the caller adds the parts of all chunks (in order), then
    :func:`kernel_grad_from_transformed` maps dU back to dW.
    """
    xp = get_array_module(x)
    g = transformed_output_grads(gy)  # (36, tiles, C_out)
    v = transformed_input_tiles(x)    # (36, tiles, C_in)
    return xp.matmul(v.transpose(0, 2, 1), g)  # BLAS reads v transposed


def winograd_grads_part(dx, x, gy, u_flipped):
    """Write dx (N, C_in, H, W), the convolution of gy with the flipped
    kernel (U = u_flipped), and return the images' part of dU, as
    :func:`winograd_conv2d_into` and :func:`winograd_weight_grad_part` do,
    with gy gathered once: rows and columns 1 to 4 of gy's 6x6 tiles are
    its 4x4 blocks, the ones dU needs."""
    xp = get_array_module(x)
    tiles = _gathered_tiles(gy)
    g = _output_grad_transform(tiles[1:5, 1:5])  # before the scratch is reused
    _outputs_from_tiles_into(dx, _input_transform(tiles), u_flipped)
    v = transformed_input_tiles(x)
    return xp.matmul(v.transpose(0, 2, 1), g)  # BLAS reads v transposed


def kernel_grad_from_transformed(du):
    """dW (C_out, C_in, 3, 3) = G^T dU G from dU (36, C_in, C_out): the
    adjoint of :func:`transformed_kernel`."""
    xp = get_array_module(du)
    c_in, c_out = du.shape[1:]
    g_t = _matrix(KERNEL_TRANSFORM, du).T  # (3, 6)
    dw = _both_sides(g_t, du.reshape(INPUT_TILE, INPUT_TILE, c_in * c_out))
    # dw: (3, 3, C_in * C_out)
    return xp.ascontiguousarray(
        dw.reshape(KERNEL, KERNEL, c_in, c_out).transpose(3, 2, 0, 1))


# -- where this route is used ------------------------------------------------

# Measured on 2 cores against the im2col route (forward and both gradients,
# batch 128, float32; a shared, noisy machine): Winograd took 0.3 to 0.8
# times the time from 32 channels in and out on images of 4x4 to 16x16
# (ResNet-20's last two stages); with 16 channels, on 2x2 images, or on
# 32x32 ones, it was no faster or slower. At 16 channels and 32x32
# (ResNet-20's first stage) a chunk is already small, about 3 images, the
# size of a 16x16 chunk; chunks of one image measured 1.7 to 2 times
# slower (and bands of tile rows would be smaller still), the fixed cost
# of each chunk's some 30 NumPy calls outweighing the arithmetic saved. So
# that stage stays with im2col (Winograd took 1.4x its time forward, 1.6x
# backward).
MIN_CHANNELS = 32
MIN_SIZE = 4
MAX_SIZE = 16


@kernels.register("conv2d_prefers_winograd", "numpy")
def conv2d_prefers_winograd(c_in, c_out, size):
    """Whether, with NumPy, a 3x3 stride-1 convolution (padding 1) of c_in
    to c_out channels over images of `size` (H, W) is faster by Winograd."""
    return (min(c_in, c_out) >= MIN_CHANNELS
            and MIN_SIZE <= min(size) and max(size) <= MAX_SIZE)


def chunk_elements(n, c_in, c_out, size):
    """The work size of a chunk for :func:`minidl.parallel.batch_chunks`:
    8 times the transformed tiles (36 values per tile and channel, in or
    out, whichever are more), so that a chunk's arrays stay in a core's
    own (L2) cache: about 8 images of 64 channels at 8x8, which measured
    faster (noisily) than chunks 2 or 8 times as large."""
    tiles_h, tiles_w = tile_counts(size)
    tiles = n * tiles_h * tiles_w
    return 8 * tiles * max(c_in, c_out) * INPUT_TILE * INPUT_TILE
