"""An int8 asymmetric quantized linear layer through the RTL: ``dp4a`` (as a
running sum) computes every ``Σ q_x·q_w`` and, against a column of ones,
every row sum ``Σ q_x``; ``requant`` turns them into int8 outputs. Both run as
exported Verilog in cocotb, the second on the first one's outputs, and the
result must equal the golden integer-only layer bit for bit.

The layer is real: a least-squares classifier fitted on a NumPy-generated
dataset, its activations calibrated with KL divergence and with min/max, its
weights asymmetric per output channel."""

import numpy as np
import pytest

from nnarith.golden.quant import (calibrate, dequantize, linear_float, linear_terms, quantize,
                          quantize_bias, quantize_multiplier, quantized_linear)
from nnarith.sim.runner import simulate
from nnarith.sim.vectors import from_bits, to_bits

LANES = 4


def dataset(rng, rows=96, features=32, classes=10):
    """Gaussian class clusters, passed through a ReLU feature map: skewed,
    non-negative activations with a long tail, as after a hidden layer."""
    centres = rng.normal(0, 1.5, (classes, features))
    labels = rng.integers(0, classes, rows * 4)
    x = np.maximum(centres[labels] + rng.normal(0, 1.0, (len(labels), features)), 0)
    x[rng.random(x.shape) < 0.002] *= 6                        # rare outliers
    return x, labels


def fit_layer(x, labels, classes):
    """Least-squares linear classifier: real weights and bias."""
    targets = np.eye(classes)[labels]
    design = np.hstack([x, np.ones((len(x), 1))])
    solution, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return solution[:-1], solution[-1]


def pack_lanes(values, width=8):
    """(count, LANES) int8 values -> packed dp4a port patterns."""
    bits = to_bits(values, width).astype(np.uint64)
    return sum(bits[:, i] << np.uint64(width * i) for i in range(LANES))


def dp4a_stream(q_x, q_w):
    """One running sum per (row, column): K / 4 steps, clear on the first."""
    rows, k = q_x.shape
    cols = q_w.shape[1]
    steps = k // LANES
    a = np.repeat(q_x.reshape(rows, 1, steps, LANES), cols, axis=1).reshape(-1, LANES)
    b = np.broadcast_to(q_w.T.reshape(1, cols, steps, LANES), (rows, cols, steps, LANES))
    clear = np.tile(np.arange(steps) == 0, rows * cols)
    return {"a": pack_lanes(a), "b": pack_lanes(b.reshape(-1, LANES)),
            "clear": clear.astype(np.uint64)}


@pytest.mark.parametrize("method", ["kl", "minmax"])
def test_int8_layer_through_dp4a_and_requant_is_bit_exact(method):
    rng = np.random.default_rng(2026)
    classes = 10
    x, labels = dataset(rng)
    w, bias = fit_layer(x, labels, classes)
    calib, x = x[:256], x[256:]
    x_qp = calibrate(calib, method=method)
    w_qp = calibrate(w, method="minmax", axis=1)          # asymmetric, per output channel
    out_qp = calibrate(linear_float(calib, w, bias), method=method)
    assert x_qp.zero_point != 0 and np.any(w_qp.zero_point != 0), "the layer must be asymmetric"
    q_x, q_w = quantize(x, x_qp), quantize(w, w_qp)
    bias_q = quantize_bias(bias, x_qp.scale, w_qp.scale)
    golden = quantized_linear(q_x, q_w, x_qp, w_qp, bias_q, out_qp)

    # dp4a: the weights plus a column of ones, whose sums are the row sums.
    rows, k = q_x.shape
    with_ones = np.hstack([q_w, np.ones((k, 1), dtype=np.int64)])
    sums = simulate("dp4a", {"accumulate": True}, inputs=dp4a_stream(q_x, with_ones),
                    tag=f"layer-dp4a-{method}")
    assert sums.ok, sums.summary()
    last = np.arange(k // LANES - 1, len(sums.outputs()["y"]), k // LANES)
    totals = from_bits(sums.outputs()["y"][last], 32, True).reshape(rows, classes + 1)
    acc, a_sum = totals[:, :classes], totals[:, classes]
    ref_acc, ref_a_sum, offset = linear_terms(q_x, q_w, x_qp.zero_point, w_qp.zero_point, bias_q)
    assert np.array_equal(acc, ref_acc) and np.array_equal(a_sum, ref_a_sum)

    # requant on what the dp4a produced; per-channel scale, zero point, offset.
    multiplier, shift = quantize_multiplier(x_qp.scale * w_qp.scale / out_qp.scale)
    per_vector = {"acc": acc.ravel(), "a_sum": np.repeat(a_sum, classes),
                  "w_zp": np.tile(w_qp.zero_point, rows), "offset": np.tile(offset, rows),
                  "multiplier": np.tile(multiplier, rows), "shift": np.tile(shift, rows),
                  "out_zp": np.full(rows * classes, out_qp.zero_point)}
    widths = {"acc": 32, "a_sum": 32, "w_zp": 9, "offset": 32, "multiplier": 32, "shift": 6,
              "out_zp": 9}
    requant = simulate("requant", {"stages": 2}, tag=f"layer-requant-{method}",
                       inputs={n: to_bits(v, widths[n]) for n, v in per_vector.items()})
    assert requant.ok, requant.summary()
    q_out = from_bits(requant.outputs()["q"], 8, True).reshape(rows, classes)
    assert np.array_equal(q_out, golden)

    # And the integer layer is a faithful approximation of the float one.
    real = linear_float(x, w, bias)
    error = np.abs(dequantize(q_out, out_qp) - real)
    inside = (real > dequantize(out_qp.qmin, out_qp)) & (real < dequantize(out_qp.qmax, out_qp))
    assert np.median(error[inside]) < 2 * out_qp.scale
    agreement = np.mean(np.argmax(q_out, axis=1) == np.argmax(real, axis=1))
    print(f"{method}: {q_out.size} outputs bit-exact, argmax agreement {agreement:.3f}, "
          f"median |error| {np.median(error[inside]) / out_qp.scale:.2f} output steps")
    assert agreement > 0.9, agreement
