"""The golden models on NumPy arrays, no hardware at all.

What a numerics study asks first: how far from the exact result is a bf16
product, an fp8 product with and without saturation, and a 64-deep dot
product with each GPU's tensor-core numerics? Every number below is the
bit-exact answer the RTL gives too (the cocotb benches compare them bit for
bit).

Run: python examples/golden_numpy.py
"""

import sys

import ml_dtypes
import numpy as np

from nnarith.golden import values


def relative_error(got, exact):
    return float(np.max(np.abs(got.astype(np.float64) - exact) / np.maximum(np.abs(exact), 1e-30)))


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=10_000)
    y = rng.normal(size=10_000)
    failures = 0

    # Products in bf16 under each rounding mode, against float64.
    a, b = x.astype(ml_dtypes.bfloat16), y.astype(ml_dtypes.bfloat16)
    exact = a.astype(np.float64) * b.astype(np.float64)
    print("bf16 products, worst relative error per rounding mode:")
    for rm in ("rne", "rtz", "rdn", "rup", "rmm"):
        product = values.multiply(a, b, rm=rm)
        error = relative_error(product, exact)
        print(f"  {rm}: {error:.3g}")
        failures += error > 2.0 ** -7                  # one bf16 ulp (7 fraction bits)
    # Round to nearest even is what NumPy/ml_dtypes do in float32 then bf16.
    reference = (a.astype(np.float32) * b.astype(np.float32)).astype(ml_dtypes.bfloat16)
    failures += int(np.count_nonzero(values.to_bits(values.multiply(a, b)) != values.to_bits(reference)))

    # FP8 E4M3 has no infinity: overflow gives NaN, or 448 with saturation (OCP).
    big = np.full(4, 300.0).astype(ml_dtypes.float8_e4m3fn)
    two = np.full(4, 2.0).astype(ml_dtypes.float8_e4m3fn)
    wrapped, fflags = values.multiply(big, two, flags=True)
    saturated = values.multiply(big, two, saturate=True)
    print(f"e4m3: 288 x 2 -> {wrapped[0]} (fflags {fflags[0]:#x}), saturating -> {saturated[0]}")
    failures += not (np.isnan(float(wrapped[0])) and float(saturated[0]) == 448.0)

    # A 16x64 by 64x16 fp16 product accumulated in fp32: fused (exact sum, one
    # rounding) against each GPU's tensor-core numerics.
    A = (x[:1024].reshape(16, 64) / 8).astype(np.float16)
    B = (y[:1024].reshape(64, 16) / 8).astype(np.float16)
    C = np.zeros((16, 16), dtype=np.float32)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    print("16x64x16 fp16 -> fp32 MMA, worst absolute error against the exact sum:")
    for label, options in (("fused", {"mode": "fused"}),
                           *((gpu, {"mode": "tensorcore", "gpu": gpu})
                             for gpu in ("v100", "a100", "h100"))):
        D = values.mma(A, B, C, **options)
        error = float(np.max(np.abs(D.astype(np.float64) - exact)))
        print(f"  {label:<6} {error:.3g}")
        failures += error > 1e-5
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
