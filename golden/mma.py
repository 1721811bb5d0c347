"""Matrix multiply-accumulate golden: ``D = A·B + C`` on bit patterns, in three numerics.

* ``fused``: each output is ``C + Σ A·B`` summed exactly and rounded once to the
  output format, IEEE style (any RISC-V rounding mode, ``fflags``, canonical NaN).
* ``chain``: ``K`` fused multiply-adds in ``k`` order, each rounded (a CPU
  ``fmaf`` loop), by :func:`golden.float.fma`.
* ``tensorcore``: the measured NVIDIA tensor-core dot product of
  ``tensorcore/SPEC.md``, block by block (:func:`block_fma`), each block's rounded
  result being the next block's C. The GPU defines no exception flags, so this
  mode returns ``None`` for them. Its NaN is SPEC's 0x7FFFFFFF / 0x7FFF, not the
  canonical 0x7FC00000 / 0x7E00 of the IEEE modes.

Shapes: A ``(..., M, K)``, B ``(..., K, N)``, C and D ``(..., M, N)``, with
broadcastable leading (batch) dimensions. A and B hold ``in_fmt`` patterns, C and
D ``out_fmt`` patterns: integers in ``0..2**width - 1`` in, uint64 arrays out
(float values: :func:`nnarith.golden.values.mma`).
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import bit_patterns, count, float_fmt, round_mode
from .float import RDN, RNE, Format, RoundMode, _decode, _fma, _round_pack
from .formats import (FLAG_NV, FLAG_OF, FLOAT_FORMATS, GPUS, FloatFormat, TensorCoreMode,
                      TensorCoreParams)

__all__ = ["TensorCoreMode", "TensorCoreParams", "GPUS", "MODES", "TENSORCORE_INPUTS",
           "tensorcore_params", "validate", "block_fma", "result_format", "widen_to_fp16", "mma",
           "gemm", "promote"]

MODES = ("fused", "chain", "tensorcore")
#: Input formats of the tensor-core mode.
TENSORCORE_INPUTS = ("fp16", "bf16", "tf32", "e4m3", "e5m2")

#: Significand bits of the fp32 layout that c takes inside a block (SPEC §3 step 3).
_C_FRAC = 23


def tensorcore_params(gpu: str | TensorCoreParams) -> TensorCoreParams:
    """A preset by name, or ``gpu`` itself if it is already a :class:`TensorCoreParams`."""
    if isinstance(gpu, TensorCoreParams):
        return gpu
    if not isinstance(gpu, str) or gpu not in GPUS:
        raise ValueError(f"gpu: must be one of {', '.join(GPUS)}, got {gpu!r}")
    return GPUS[gpu]


def validate(in_fmt: Format, out_fmt: Format, mode: str, gpu: str | TensorCoreParams | None = None,
             rm: RoundMode | None = None, k: int | None = None, require_block: bool = False,
             instr: str | None = None
             ) -> tuple[FloatFormat, FloatFormat, TensorCoreMode | None, int | None]:
    """Check one MMA configuration; returns ``(in_fmt, out_fmt, core, rm)`` normalised.

    ``core`` is the GPU's :class:`TensorCoreMode` for the formats (and ``instr``,
    where Hopper's FP8 offers ``wgmma`` and ``mma``) in tensorcore mode, else
    None; ``rm`` the rounding-mode code of the IEEE modes (a name or code, RNE
    by default) or None. ``require_block``: ``k`` must be a multiple of the
    GPU's block (a unit that cannot pad). Raises ValueError naming the parameter.
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
    in_fmt, out_fmt = float_fmt(in_fmt, "in_fmt"), float_fmt(out_fmt, "out_fmt")
    in_name, out_name = in_fmt.name, out_fmt.name
    if mode != "tensorcore":
        for name, value in (("gpu", gpu), ("instr", instr)):
            if value is not None:
                raise ValueError(f"{name}: only used in mode tensorcore, got {value!r} in "
                                 f"mode {mode}")
        _check_k(k, None, None, require_block)
        return in_fmt, out_fmt, None, RNE if rm is None else round_mode(rm)
    if gpu is None:
        raise ValueError(f"gpu: mode tensorcore needs one of {', '.join(GPUS)}")
    params = tensorcore_params(gpu)
    if rm is not None:
        raise ValueError(f"rm: mode tensorcore rounds as its GPU does, got {rm!r}")
    for name, fmt, allowed in (("in_fmt", in_name, TENSORCORE_INPUTS),
                               ("out_fmt", out_name, ("fp32", "fp16"))):
        if fmt not in allowed:
            raise ValueError(f"{name}: mode tensorcore supports {', '.join(allowed)}, "
                             f"got {fmt}")
    core = params.mode(in_name, out_name, instr)
    _check_k(k, core, params.name, require_block)
    return in_fmt, out_fmt, core, None


def _check_k(k, core, gpu_name, require_block):
    """K (if given) is positive and, where ``require_block``, a multiple of the block."""
    if k is None:
        return
    count(k, "K", 1)
    if require_block and core is not None and k % core.block:
        raise ValueError(f"K: must be a multiple of the {gpu_name} block "
                         f"({core.block}), got {k}")


def _bit_length(x):
    """Bit lengths of non-negative int64 values below 2**53."""
    return np.frexp(x.astype(np.float64))[1].astype(np.int64)


def _shift(x, amount):
    """``x * 2**amount`` truncated toward zero (x >= 0); shift counts clamped to 0..63."""
    return np.where(amount >= 0, x << np.clip(amount, 0, 63), x >> np.clip(-amount, 0, 63))


def _tensorcore_nan(fmt):
    """SPEC §2.4: all ones below the sign bit."""
    return np.uint64((1 << (fmt.width - 1)) - 1)


def _product_specials(da, db, dc):
    """``(nan, inf, inf_sign)`` per dot product of the products along the last axis
    and c: a NaN operand, ``∞·0`` or both infinities make NaN, one infinity ±∞."""
    inf_times_zero = (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)
    operand_nan = da.is_nan | db.is_nan
    product_inf = (da.is_inf | db.is_inf) & ~operand_nan & ~inf_times_zero
    product_sign = da.sign ^ db.sign
    pos_inf = (product_inf & (product_sign == 0)).any(-1) | (dc.is_inf & (dc.sign == 0))
    neg_inf = (product_inf & (product_sign == 1)).any(-1) | (dc.is_inf & (dc.sign == 1))
    nan = operand_nan.any(-1) | dc.is_nan | inf_times_zero.any(-1) | (pos_inf & neg_inf)
    return nan, (pos_inf | neg_inf) & ~nan, neg_inf.astype(np.int64)


def block_fma(a: ArrayLike, b: ArrayLike, c: ArrayLike, in_fmt: Format, out_fmt: Format,
              params: str | TensorCoreParams, *, instr: str | None = None) -> np.ndarray:
    """One tensor-core block FMA per dot product (SPEC §2 and §3), integers only.

    ``a``, ``b``: ``in_fmt`` patterns of shape ``(..., K)`` with ``K`` at most the
    block size; ``c``: ``out_fmt`` patterns of shape ``(...)`` (broadcast).
    ``params``: a :data:`GPUS` name or :class:`TensorCoreParams`. Returns the
    ``out_fmt`` patterns of ``d``.
    """
    params = tensorcore_params(params)
    in_fmt, out_fmt, core, _ = validate(in_fmt, out_fmt, "tensorcore", params, instr=instr)
    a, b = (bit_patterns(x, name, in_fmt, values_hint="mma") for x, name in ((a, "a"), (b, "b")))
    c = bit_patterns(c, "c", out_fmt, values_hint="mma")
    a, b = np.broadcast_arrays(a, b)
    if a.ndim == 0 or a.shape[-1] > core.block:
        raise ValueError(f"K: a block holds at most {core.block} products on "
                         f"{params.name}, got {a.shape[-1] if a.ndim else 0}")
    c = np.broadcast_to(c, a.shape[:-1])
    if core.path == "pair_split":
        return _pair_split(a, b, c, in_fmt, out_fmt, core)
    return _block_fma(a, b, c, in_fmt, out_fmt, core)


def _block_fma(a, b, c, in_fmt, out_fmt, core):
    m, big_f = in_fmt.frac_bits, core.frac_bits
    da, db, dc = _decode(a, in_fmt, False), _decode(b, in_fmt, False), _decode(c, out_fmt, False)

    # Step 2: exact unnormalised products P·2^(X - 2M); zero products drop out.
    sig_p = da.sig * db.sig
    exp_p = da.exp + db.exp + 2 * m
    live_p = sig_p != 0
    # Step 3: c as a 24-bit significand with exponent x_c. An fp32 c keeps its
    # subnormal leading zeros; an fp16 c is a normal fp32 number (true exponent).
    live_c = dc.sig != 0
    if out_fmt.name == "fp32":
        sig_c, exp_c = dc.sig, dc.exp + _C_FRAC
    else:
        length = _bit_length(dc.sig)
        sig_c = _shift(dc.sig, _C_FRAC + 1 - length)
        exp_c = dc.exp + length - 1
    # Step 4: alignment exponent.
    lowest = np.iinfo(np.int64).min
    top = np.maximum(np.where(live_p, exp_p, lowest).max(-1), np.where(live_c, exp_c, lowest))
    any_live = top != lowest
    top = np.where(any_live, top, 0)
    if core.e_floor is not None:
        top = np.maximum(top, core.e_floor)
    # Step 5: left-justify in the window, shift right by E - X, truncate magnitudes
    # (on a grid narrower than fp32, c loses its low bits too).
    aligned_p = _shift(sig_p, (big_f - 2 * m) - (top[..., None] - exp_p))
    aligned_p = np.where(live_p, aligned_p, 0)
    aligned_c = np.where(live_c, _shift(sig_c, (big_f - _C_FRAC) - (top - exp_c)), 0)
    # Step 6: exact signed sum; steps 7-9: one rounding, to the block result's
    # precision (13 bits on the native FP8 paths) in the output's exponent range.
    total = (np.where(da.sign ^ db.sign, -aligned_p, aligned_p).sum(-1)
             + np.where(dc.sign == 1, -aligned_c, aligned_c))
    sign = (total < 0).astype(np.int64)
    result = result_format(out_fmt, core)
    bits, flags = _round_pack(sign, np.abs(total), top - big_f, result, core.rm, False, False)
    bits = bits << np.uint64(out_fmt.frac_bits - result.frac_bits)
    sign_bit = sign.astype(np.uint64) << np.uint64(out_fmt.width - 1)
    bits = np.where(flags & FLAG_OF != 0, sign_bit | np.uint64(out_fmt.inf_bits), bits)

    nan, inf, inf_sign = _product_specials(da, db, dc)
    inf_bits = (inf_sign.astype(np.uint64) << np.uint64(out_fmt.width - 1)) \
        | np.uint64(out_fmt.inf_bits)
    bits = np.where(inf, inf_bits, bits)
    return np.where(nan, _tensorcore_nan(out_fmt), bits).astype(np.uint64)


def result_format(out_fmt: FloatFormat, core: TensorCoreMode) -> FloatFormat:
    """The format a block result is rounded to: ``out_fmt``, or on the native FP8
    paths its exponent with ``core.result_bits`` fraction bits (fp32 -> e8m13)."""
    if core.result_bits is None or core.result_bits == out_fmt.frac_bits:
        return out_fmt
    if core.result_bits > out_fmt.frac_bits:
        raise ValueError(f"result_bits: at most {out_fmt.name}'s {out_fmt.frac_bits} fraction "
                         f"bits, got {core.result_bits}")
    return FloatFormat(f"e{out_fmt.exp_bits}m{core.result_bits}", out_fmt.exp_bits,
                       core.result_bits)


def widen_to_fp16(bits: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """FP8 (or fp16) patterns as the fp16 patterns of the same values: exact, E4M3's
    subnormals become fp16 normals, E5M2 is fp16's top byte; NaN stays NaN."""
    fp16 = FLOAT_FORMATS["fp16"]
    if fmt.name == "fp16":
        return bits
    d = _decode(bits, fmt, False)
    wide, _ = _round_pack(d.sign, d.sig, d.exp, fp16, RNE, False, False)
    sign = d.sign.astype(np.uint64) << np.uint64(15)
    wide = np.where(d.is_inf, sign | np.uint64(fp16.inf_bits), wide)
    return np.where(d.is_nan, sign | np.uint64(fp16.nan_bits), wide).astype(np.uint64)


#: Which products of a group of 4 the pair split's first fp16 MMA takes (k mod 4).
FIRST_PAIR = (0, 1)


def _pair_split(a, b, c, in_fmt, out_fmt, core):
    """SPEC_fp8_tf32.md §3(c) on one group of ``core.block`` (32) products: two
    fp16 block FMAs on interleaved pairs, then ``d = RNE(x2 + c)`` (an IEEE
    addition in the output format; a NaN becomes the tensor-core NaN)."""
    fp16 = FLOAT_FORMATS["fp16"]
    a, b = widen_to_fp16(a, in_fmt), widen_to_fp16(b, in_fmt)
    first = (np.arange(a.shape[-1]) % 4 < 2)
    x1 = _block_fma(a[..., first], b[..., first], np.zeros(c.shape, np.uint64), fp16, out_fmt,
                    core.inner)
    x2 = _block_fma(a[..., ~first], b[..., ~first], x1, fp16, out_fmt, core.inner)
    one = np.full(c.shape, _one(out_fmt), np.uint64)
    d, _ = _fma(x2, one, c, out_fmt, out_fmt, out_fmt, out_fmt, RNE, False, False)
    return np.where(_decode(d, out_fmt, False).is_nan, _tensorcore_nan(out_fmt), d).astype(
        np.uint64)


def _one(fmt):
    return fmt.bias << fmt.frac_bits


def _fused(a, b, c, in_fmt, out_fmt, rm):
    """Exact ``c + Σ a·b`` along the last axis, rounded once; returns ``(bits, flags)``."""
    da, db, dc = _decode(a, in_fmt, False), _decode(b, in_fmt, False), _decode(c, out_fmt, False)
    sig = np.concatenate([da.sig * db.sig if 2 * in_fmt.frac_bits + 2 <= 60
                          else da.sig.astype(object) * db.sig.astype(object),
                          dc.sig[..., None].astype(da.sig.dtype)], axis=-1)
    exp = np.concatenate([da.exp + db.exp, dc.exp[..., None]], axis=-1)
    signs = np.concatenate([da.sign ^ db.sign, dc.sign[..., None]], axis=-1)
    nonzero = sig != 0
    low = np.where(nonzero, exp, np.iinfo(np.int64).max).min(-1)
    low = np.where(nonzero.any(-1), low, 0)
    shift = np.where(nonzero, exp - low[..., None], 0)
    lengths = np.array([int(s).bit_length() for s in sig.ravel()]).reshape(sig.shape) \
        if sig.dtype == object else _bit_length(sig)
    need = int((shift + lengths).max(initial=0)) + int(sig.shape[-1]).bit_length() + 1
    if need > 62:
        sig, shift = sig.astype(object), shift.astype(object)
    terms = sig << shift
    total = np.where(signs == 1, -terms, terms).sum(-1)
    negative = total < 0
    magnitude = np.where(negative, -total, total)
    # An exact zero: a zero of the common sign if every term is a zero (RDN: -0 if any
    # is -0), otherwise +0 (RDN: -0), as a chain of IEEE additions gives.
    all_zero = ~nonzero.any(-1)
    zero_sign = np.where(all_zero, (signs == 1).all(-1) | ((rm == RDN) & (signs == 1).any(-1)),
                         rm == RDN)
    sign = np.where(magnitude == 0, zero_sign, negative).astype(np.int64)
    if magnitude.dtype != object:
        magnitude = magnitude.astype(np.int64)
    bits, flags = _round_pack(sign, magnitude, low, out_fmt, rm, False, False)

    nan, inf, inf_sign = _product_specials(da, db, dc)
    snan = (da.is_snan | db.is_snan).any(-1) | dc.is_snan
    inf_times_zero = ((da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)).any(-1)
    operand_nan = (da.is_nan | db.is_nan).any(-1) | dc.is_nan
    invalid = snan | inf_times_zero | (nan & ~operand_nan)
    if out_fmt.has_inf:
        inf_bits = (inf_sign.astype(np.uint64) << np.uint64(out_fmt.width - 1)) \
            | np.uint64(out_fmt.inf_bits)
    else:
        inf_bits = np.uint64(out_fmt.nan_bits)
    bits = np.where(nan, np.uint64(out_fmt.nan_bits), np.where(inf, inf_bits, bits))
    flags = np.where(nan, np.where(invalid, FLAG_NV, 0), np.where(inf, 0, flags))
    return bits.astype(np.uint64), flags.astype(np.int64)


def _chain(a, b, c, in_fmt, out_fmt, rm):
    """``c`` then one rounded FMA per ``k``; flags are the OR over the steps."""
    d, flags = c, np.zeros(c.shape, dtype=np.int64)
    for k in range(a.shape[-1]):
        d, step = _fma(a[..., k], b[..., k], d, in_fmt, in_fmt, out_fmt, out_fmt, rm, False,
                       False)
        flags = flags | step
    return d, flags


def _tensorcore(a, b, c, in_fmt, out_fmt, core):
    """Blocks along ``k``, zero-padded; each block's d is the next block's c."""
    pad = -a.shape[-1] % core.block
    if pad:
        widths = [(0, 0)] * (a.ndim - 1) + [(0, pad)]
        a, b = np.pad(a, widths), np.pad(b, widths)
    step = _pair_split if core.path == "pair_split" else _block_fma
    d = c
    for start in range(0, a.shape[-1], core.block):
        d = step(a[..., start:start + core.block], b[..., start:start + core.block], d,
                 in_fmt, out_fmt, core)
    return d, None


def _patterns(A, B, C, in_fmt, out_fmt):
    """A, B, C checked as bit patterns of their formats (uint64 arrays)."""
    return (bit_patterns(A, "A", in_fmt, values_hint="mma"),
            bit_patterns(B, "B", in_fmt, values_hint="mma"),
            bit_patterns(C, "C", out_fmt, values_hint="mma"))


def _operands(A, B, C):
    """The rows/columns of every output, ``(..., M, N, K)``, C and K."""
    if A.ndim < 2 or B.ndim < 2 or C.ndim < 2:
        raise ValueError(f"A, B, C: must be (..., M, K), (..., K, N), (..., M, N), got shapes "
                         f"{A.shape}, {B.shape}, {C.shape}")
    (m, k), (k_b, n) = A.shape[-2:], B.shape[-2:]
    if k_b != k:
        raise ValueError(f"B: must have K = {k} rows (A is {m}x{k}), got shape {B.shape}")
    if C.shape[-2:] != (m, n):
        raise ValueError(f"C: must be {m}x{n} (M x N), got shape {C.shape}")
    try:
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2], C.shape[:-2])
    except ValueError:
        raise ValueError(f"A, B, C: batch dimensions {A.shape[:-2]}, {B.shape[:-2]}, "
                         f"{C.shape[:-2]} do not broadcast") from None
    rows = np.broadcast_to(A[..., :, None, :], batch + (m, n, k))
    cols = np.broadcast_to(np.swapaxes(B, -1, -2)[..., None, :, :], batch + (m, n, k))
    return rows, cols, np.broadcast_to(C, batch + (m, n)), k


def mma(A: ArrayLike, B: ArrayLike, C: ArrayLike, in_fmt: Format, out_fmt: Format, mode: str, *,
        gpu: str | TensorCoreParams | None = None, rm: RoundMode | None = None,
        require_block: bool = False, instr: str | None = None
        ) -> tuple[np.ndarray, np.ndarray | None]:
    """``D = A·B + C`` in numerics ``mode``; returns ``(bits, flags)``.

    ``rm`` (fused, chain): a rounding mode, name or code, RNE by default.
    ``gpu`` (tensorcore): a :data:`GPUS` name or :class:`TensorCoreParams`; K
    is padded with zero products to a multiple of the block unless
    ``require_block`` makes that a ValueError. ``instr`` (tensorcore, FP8 on
    h100/h200): ``wgmma`` (the native 13-bit path, the default for fp32
    output) or ``mma`` (mma.sync's pair split). Flags: ``fflags`` per output
    (chain: OR over the steps); None in tensorcore mode, where the GPU
    defines none.
    """
    in_fmt, out_fmt, core, rm = validate(in_fmt, out_fmt, mode, gpu, rm, instr=instr)
    rows, cols, C, k = _operands(*_patterns(A, B, C, in_fmt, out_fmt))
    _check_k(k, core, gpu if isinstance(gpu, str) else getattr(gpu, "name", None),
             require_block)
    if mode == "fused":
        return _fused(rows, cols, C, in_fmt, out_fmt, rm)
    if mode == "chain":
        return _chain(rows, cols, C, in_fmt, out_fmt, rm)
    return _tensorcore(rows, cols, C, in_fmt, out_fmt, core)


def gemm(A: ArrayLike, B: ArrayLike, C: ArrayLike, in_fmt: Format, out_fmt: Format, mode: str, *,
         gpu: str | TensorCoreParams | None = None, rm: RoundMode | None = None,
         tile_k: int | None = None, promote_every: int | None = None,
         instr: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """An M×K×N GEMM, ``D = A·B + C``, for any K; returns ``(bits, flags)``.

    Without ``tile_k`` this is :func:`mma`: fused sums the whole K exactly,
    tensorcore chains the GPU's blocks. With ``tile_k`` K is cut into tiles of
    that many products, each tile one :func:`mma` whose rounded D is the next
    tile's C (a tiled hardware GEMM through an M×N×tile_k unit); in tensorcore
    mode ``tile_k`` must be a multiple of the block. Flags are the OR over tiles.

    ``promote_every``: the FP8 training recipes' promotion. K is cut into
    groups of that many products; each group runs as above from C = +0 and its
    ``out_fmt`` result is added to an fp32 accumulator outside the tensor
    core, one RNE fp32 addition per group. C (the accumulator's start) and D
    are then fp32, and the flags are those of the fp32 additions (OR).
    """
    checked_in, checked_out, core, _ = validate(in_fmt, out_fmt, mode, gpu, rm, instr=instr)
    gpu_name = gpu if isinstance(gpu, str) else getattr(gpu, "name", None)
    keywords = {"gpu": gpu, "rm": rm, "instr": instr}
    if promote_every is not None:
        return _promoted(A, B, C, checked_in, checked_out, mode, core, gpu_name, tile_k,
                         promote_every, keywords)
    A, B, C = _patterns(A, B, C, checked_in, checked_out)
    if tile_k is None:
        return mma(A, B, C, in_fmt, out_fmt, mode, **keywords)
    k = A.shape[-1] if A.ndim else 0
    _check_tile(tile_k, core, gpu_name)
    if k % tile_k:
        raise ValueError(f"K: must be a multiple of tile_k ({tile_k}), got {k}")
    d, flags = C, None
    for start in range(0, k, tile_k):
        d, step = mma(A[..., start:start + tile_k], B[..., start:start + tile_k, :], d,
                      in_fmt, out_fmt, mode, **keywords)
        flags = step if flags is None else flags | step
    return d, flags


def _check_tile(tile_k, core, gpu_name):
    count(tile_k, "tile_k", 1)
    if core is not None and tile_k % core.block:
        raise ValueError(f"tile_k: must be a multiple of the {gpu_name} block "
                         f"({core.block}), got {tile_k}")


def _promoted(A, B, C, in_fmt, out_fmt, mode, core, gpu_name, tile_k, every, keywords):
    """:func:`gemm` with promotion every ``every`` products to an fp32 accumulator."""
    fp32 = FLOAT_FORMATS["fp32"]
    A, B, C = _patterns(A, B, C, in_fmt, fp32)
    k = A.shape[-1] if A.ndim else 0
    count(every, "promote_every", 1)
    unit = tile_k if tile_k is not None else (core.block if core is not None else 1)
    if tile_k is not None:
        _check_tile(tile_k, core, gpu_name)
    if every % unit:
        what = "tile_k" if tile_k is not None else f"the {gpu_name} block"
        raise ValueError(f"promote_every: must be a multiple of {what} ({unit}), got {every}")
    if k % every:
        raise ValueError(f"K: must be a multiple of promote_every ({every}), got {k}")
    acc, flags = C, np.zeros(np.shape(C), dtype=np.int64)
    for start in range(0, k, every):
        part_a, part_b = A[..., start:start + every], B[..., start:start + every, :]
        zero = np.zeros(np.broadcast_shapes(part_a.shape[:-2], part_b.shape[:-2])
                        + (part_a.shape[-2], part_b.shape[-1]), np.uint64)
        partial, _ = gemm(part_a, part_b, zero, in_fmt, out_fmt, mode, tile_k=tile_k, **keywords)
        acc, step = promote(acc, partial, out_fmt)
        flags = flags | step
    return acc, flags


def promote(acc: np.ndarray, partial: np.ndarray, partial_fmt: Format
            ) -> tuple[np.ndarray, np.ndarray]:
    """One promotion step: ``RNE_fp32(acc + partial)``, ``acc`` fp32 patterns,
    ``partial`` patterns of ``partial_fmt`` (exact in fp32); returns ``(bits, flags)``.
    A NaN partial (the tensor core's 0x7FFF... pattern) gives fp32's canonical NaN."""
    fp32, partial_fmt = FLOAT_FORMATS["fp32"], float_fmt(partial_fmt, "partial_fmt")
    one = np.full(np.shape(partial), _one(partial_fmt), np.uint64)
    return _fma(np.asarray(partial, np.uint64), one, np.asarray(acc, np.uint64), partial_fmt,
                partial_fmt, fp32, fp32, RNE, False, False)
