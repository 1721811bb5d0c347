"""The quantization golden model against hand calculations, a scalar
Python-int transcription of gemmlowp / TFLite's C code written here, and
definition-level (floor division plus explicit tie rule) vectorized references."""

import itertools

import numpy as np
import pytest

from nnarith.golden.quant import (
    INT32_MAX, INT32_MIN, QParams, calibrate, choose_qparams, dequantize, fake_quantize,
    kl_threshold, linear_float, linear_terms, multiply_by_quantized_multiplier, quantize,
    quantize_bias, quantize_multiplier, quantized_linear, requantize, round_half_away,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul, wrap_int32,
)

EDGES = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -12345, -1, 0, 1, 3, 1 << 30, INT32_MAX - 1,
         INT32_MAX]


# ---------------------------------------------------------------- C transcriptions

def c_div(n, d):
    """C integer division: truncates toward zero."""
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d >= 0) else -q


def c_wrap32(v):
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def c_srdhm(a, b):
    overflow = a == b == INT32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return INT32_MAX if overflow else c_div(ab + nudge, 1 << 31)


def c_rdbpot(x, e):
    mask = (1 << e) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if (x & mask) > threshold else 0)


def c_mbqm(x, m, shift, rounding):
    if rounding == "single":
        total = 31 - shift
        return min(max((x * m + (1 << (total - 1))) >> total, INT32_MIN), INT32_MAX)
    left, right = max(shift, 0), max(-shift, 0)
    return c_rdbpot(c_srdhm(c_wrap32(x * (1 << left)), m), right)


# ---------------------------------------------------------------- definitions (vectorized)

def def_round_shift_up(n, e):
    """n / 2**e to nearest, ties toward +inf: floor((n + 2**(e-1)) / 2**e)."""
    return np.floor_divide(n + (np.int64(1) << (e - 1)), np.int64(1) << e)


def def_round_shift_away(n, e):
    """n / 2**e to nearest, ties away from zero, from the floor quotient and remainder."""
    unit = np.int64(1) << e
    q = np.floor_divide(n, unit)
    twice_rem = 2 * (n - q * unit)
    return q + ((twice_rem > unit) | ((twice_rem == unit) & (n >= 0)))


def def_mbqm(x, m, shift, rounding):
    if rounding == "single":
        return np.clip(def_round_shift_up(x * m, 31 - shift), INT32_MIN, INT32_MAX)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    xl = (((x << left) + (1 << 31)) % (1 << 32)) - (1 << 31)
    high = np.where((xl == INT32_MIN) & (m == INT32_MIN), INT32_MAX, def_round_shift_up(xl * m, 31))
    return np.where(right == 0, high, def_round_shift_away(high, np.maximum(right, 1)))


# ---------------------------------------------------------------- SRDHM / RDBPOT

def test_srdhm_hand_values():
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX) == -INT32_MAX
    assert saturating_rounding_doubling_high_mul(INT32_MAX, INT32_MAX) == INT32_MAX - 1
    assert saturating_rounding_doubling_high_mul(1 << 30, 1 << 30) == 1 << 29     # 0.5 * 0.5
    assert saturating_rounding_doubling_high_mul(1000, 1 << 30) == 500


@pytest.mark.parametrize("a, b, expected", [
    (1 << 15, 1 << 15, 1),            # +0.5 -> 1
    (-(1 << 15), 1 << 15, 0),         # -0.5 -> 0, not -1: ties go toward +inf
    (3 << 15, 1 << 15, 2),            # +1.5 -> 2
    (-(3 << 15), 1 << 15, -1),        # -1.5 -> -1
    (-(5 << 15), -(1 << 15), 3),      # +2.5 -> 3 from two negative factors
])
def test_srdhm_ties_toward_plus_infinity(a, b, expected):
    """gemmlowp's sign-dependent nudge with truncating division is ties-to-+inf,
    the same as ANCHORS' ``(a*b + 2**30) >> 31``; naive half-away would differ."""
    got = int(saturating_rounding_doubling_high_mul(a, b))
    assert got == expected == c_srdhm(a, b) == (a * b + (1 << 30)) >> 31
    half_away = int(round_half_away(a * b / 2 ** 31))
    assert (got != half_away) == (a * b < 0)


def test_srdhm_nudge_equals_floor_formula_everywhere():
    rng = np.random.default_rng(1)
    n = 200_000
    # exact ties: a * b = odd * 2**30 with a = odd_a * 2**i, b = odd_b * 2**(30 - i)
    i = rng.integers(0, 31, n)
    odd_a = 2 * rng.integers(0, np.int64(1) << (30 - i)) + 1
    odd_b = 2 * rng.integers(0, np.int64(1) << i) + 1
    sign_a, sign_b = rng.choice([-1, 1], (2, n))
    a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True),
                        sign_a * odd_a << i])
    b = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True),
                        sign_b * odd_b << (30 - i)])
    ties = (a * b) % (1 << 31) == 1 << 30
    assert ties.sum() >= n and np.sum(ties & (a * b < 0)) > n // 3
    got = saturating_rounding_doubling_high_mul(a, b)
    np.testing.assert_array_equal(got, def_round_shift_up(a * b, 31))
    for i in np.flatnonzero(ties)[:500]:
        assert got[i] == c_srdhm(int(a[i]), int(b[i]))


def test_srdhm_edges_against_c():
    pairs = list(itertools.product(EDGES, repeat=2))
    a, b = np.array(pairs).T
    assert saturating_rounding_doubling_high_mul(a, b).tolist() == [c_srdhm(x, y) for x, y in pairs]


def test_rdbpot_hand_values():
    assert rounding_divide_by_pot([-3, -2, -1, 1, 2, 3, 5], 1).tolist() == [-2, -1, -1, 1, 1, 2, 3]
    assert rounding_divide_by_pot([11, -11, 12, -12, 13, -13], 3).tolist() == [1, -1, 2, -2, 2, -2]
    assert rounding_divide_by_pot(INT32_MIN, 31) == -1
    assert rounding_divide_by_pot(INT32_MAX, 31) == 1
    assert rounding_divide_by_pot(7, 0) == 7


def test_rdbpot_all_exponents_edges_and_ties():
    xs, es = [], []
    for e in range(32):
        ties = [(2 * j + 1) << (e - 1) for j in (0, 1, 1000)] if e else []
        for x in EDGES + ties + [-t for t in ties]:
            if INT32_MIN <= x <= INT32_MAX:
                xs.append(x)
                es.append(e)
    got = rounding_divide_by_pot(np.array(xs), np.array(es))
    assert got.tolist() == [c_rdbpot(x, e) for x, e in zip(xs, es)]
    np.testing.assert_array_equal(
        got, np.where(np.array(es) == 0, xs, def_round_shift_away(np.array(xs), np.maximum(es, 1))))


def test_rdbpot_rejects_bad_exponent():
    with pytest.raises(ValueError, match="exponent"):
        rounding_divide_by_pot(5, 32)
    with pytest.raises(ValueError, match="exponent"):
        rounding_divide_by_pot(5, -1)


# ---------------------------------------------------------------- MultiplyByQuantizedMultiplier

@pytest.mark.parametrize("rounding", ["double", "single"])
def test_mbqm_edges_all_shifts_against_c(rounding):
    triples = [(x, m, s) for x in EDGES for m in EDGES for s in range(-31, 31)]
    x, m, s = np.array(triples).T
    got = multiply_by_quantized_multiplier(x, m, s, rounding)
    assert got.tolist() == [c_mbqm(*t, rounding) for t in triples]


@pytest.mark.parametrize("rounding", ["double", "single"])
def test_mbqm_million_random_against_definition(rounding):
    rng = np.random.default_rng(2)
    n = 1_000_000
    x = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    m = np.where(rng.random(n) < 0.8, rng.integers(1 << 30, 1 << 31, n),
                 rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True))
    shift = rng.integers(-31, 31, n, endpoint=False)
    got = multiply_by_quantized_multiplier(x, m, shift, rounding)
    np.testing.assert_array_equal(got, def_mbqm(x, m, shift, rounding))
    for i in rng.choice(n, 2000, replace=False):
        assert got[i] == c_mbqm(int(x[i]), int(m[i]), int(shift[i]), rounding)


def test_mbqm_second_rounding_ties():
    """M = 2**30 halves x exactly, so the only rounding is the shift: double rounds
    ties away from zero, single toward +inf -- they differ on negative ties only."""
    for s in range(1, 31):
        for j in (0, 1, 77):
            h = (2 * j + 1) << (s - 1)                   # h / 2**s is exactly half-way
            for sign in (1, -1):
                x = sign * 2 * h
                if not INT32_MIN <= x <= INT32_MAX:
                    continue
                double = int(multiply_by_quantized_multiplier(x, 1 << 30, -s, "double"))
                single = int(multiply_by_quantized_multiplier(x, 1 << 30, -s, "single"))
                assert double == c_mbqm(x, 1 << 30, -s, "double") == sign * (j + 1)
                assert single == c_mbqm(x, 1 << 30, -s, "single") == (j + 1 if sign > 0 else -j)


def test_mbqm_left_shift_wraps_like_int32():
    # 2**30 << 1 wraps to INT32_MIN before the multiply in the double-rounding path
    assert multiply_by_quantized_multiplier(1 << 30, 1 << 30, 1, "double") == -(1 << 30)
    assert multiply_by_quantized_multiplier(1 << 30, 1 << 30, 1, "single") == 1 << 30


def test_double_and_single_rounding_disagreement_rate():
    """Only right shifts can differ: at shift -k a double rounding is wrong on ~2**-(k+1)
    of random inputs (25 % at -1); averaged over shifts -31..0 that is ~1.6 %."""
    rng = np.random.default_rng(3)
    n = 400_000
    x = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    m = rng.integers(1 << 30, 1 << 31, n)
    for k in (1, 2, 3, 6):
        rate = np.mean(multiply_by_quantized_multiplier(x, m, -k, "double")
                       != multiply_by_quantized_multiplier(x, m, -k, "single"))
        assert abs(rate - 2.0 ** -(k + 1)) < 0.004
    small = rng.integers(-(1 << 20), 1 << 20, n)           # no overflow on left shifts
    left = rng.integers(0, 11, n)
    np.testing.assert_array_equal(multiply_by_quantized_multiplier(small, m, left, "double"),
                                  multiply_by_quantized_multiplier(small, m, left, "single"))
    shift = rng.integers(-31, 1, n)
    double = multiply_by_quantized_multiplier(x, m, shift, "double")
    single = multiply_by_quantized_multiplier(x, m, shift, "single")
    assert np.abs(double - single).max() == 1
    assert 0.012 < np.mean(double != single) < 0.02


def test_mbqm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shift"):
        multiply_by_quantized_multiplier(1, 1 << 30, 31)
    with pytest.raises(ValueError, match="shift"):
        multiply_by_quantized_multiplier(1, 1 << 30, -32)
    with pytest.raises(ValueError, match="rounding"):
        multiply_by_quantized_multiplier(1, 1 << 30, 0, "nearest")
    with pytest.raises(ValueError, match="x"):
        multiply_by_quantized_multiplier(1 << 31, 1 << 30, 0)


# ---------------------------------------------------------------- requantize

def test_requantize_hand_values():
    # 1000 * 0.5 * 2**-2 = 125, + zp -3 = 122
    assert requantize(1000, 1 << 30, -2, -3) == 122
    assert requantize(10_000, 1 << 30, -2, -3) == 127                    # saturates
    assert requantize(-10_000, 1 << 30, -2, -3) == -128
    assert requantize(-10_000, 1 << 30, -2, 5, out_signed=False) == 0
    assert requantize(200, 1 << 30, 0, 100, out_signed=False) == 200
    assert requantize(-200, 1 << 30, 0, 10, activation="relu") == 10     # real value clamped to 0
    assert requantize(200, 1 << 30, 0, 10, activation="relu6", relu6_q=70) == 70
    assert requantize(50, 1 << 30, 0, 0, out_bits=4) == 7
    # zero-point fold: acc - w_zp*a_sum + offset = 900 - 3*100 + 400 = 1000
    assert requantize(900, 1 << 30, -2, 0, a_sum=100, w_zp=3, offset=400) == 125


def test_requantize_wraps_before_scaling():
    # INT32_MAX + 1 wraps to INT32_MIN; scaled by 2**-24 that is -128
    assert requantize(INT32_MAX, 1 << 30, -23, 0, offset=1) == -128


def test_requantize_per_channel_broadcast():
    rng = np.random.default_rng(4)
    acc = rng.integers(-(1 << 20), 1 << 20, (7, 5))
    m = rng.integers(1 << 30, 1 << 31, 5)
    shift = rng.integers(-20, -8, 5)
    zp = rng.integers(-20, 20, 5)
    got = requantize(acc, m, shift, zp)
    for r, c in np.ndindex(acc.shape):
        expect = c_mbqm(int(acc[r, c]), int(m[c]), int(shift[c]), "double") + int(zp[c])
        assert got[r, c] == min(max(expect, -128), 127)


def test_requantize_rejects_bad_arguments():
    with pytest.raises(ValueError, match="relu6_q"):
        requantize(1, 1 << 30, 0, 0, activation="relu6")
    with pytest.raises(ValueError, match="activation"):
        requantize(1, 1 << 30, 0, 0, activation="tanh")
    with pytest.raises(ValueError, match="out_bits"):
        requantize(1, 1 << 30, 0, 0, out_bits=33)


# ---------------------------------------------------------------- quantize_multiplier

def test_quantize_multiplier_edges():
    cases = {0.0: (0, 0), 1.0: (1 << 30, 1), 0.5: (1 << 30, 0), 0.75: (3 << 29, 0),
             np.nextafter(1.0, 0.0): (1 << 30, 1),          # rounds up to 2**31: halved
             2.0 ** -32: (1 << 30, -31), 2.0 ** -33: (0, 0), 1e-12: (0, 0),
             2.0 ** 29: (1 << 30, 30), 1.0 - 2.0 ** -32: (1 << 30, 1)}
    m, s = quantize_multiplier(list(cases))
    assert list(zip(m.tolist(), s.tolist())) == list(cases.values())
    with pytest.raises(ValueError, match="real"):
        quantize_multiplier(2.0 ** 30)
    with pytest.raises(ValueError, match="real"):
        quantize_multiplier(-0.1)


def test_quantize_multiplier_round_trip():
    rng = np.random.default_rng(5)
    real = 10.0 ** rng.uniform(-9, 9, 100_000)
    m, s = quantize_multiplier(real)
    assert np.all((m >= 1 << 30) & (m < 1 << 31))
    approx = np.ldexp(m.astype(np.float64), (s - 31).astype(int))
    assert np.all(np.abs(approx - real) <= real * 2.0 ** -31)


# ---------------------------------------------------------------- quantize / dequantize

def test_quantize_seed_table_int8_scale_0_1():
    qp = QParams(0.1, 0, -128, 127)
    assert quantize([-0.3, 2.1, 13.2, 15.7, 1.3], qp).tolist() == [-3, 21, 127, 127, 13]


def test_quantize_rounds_ties_away_from_zero():
    qp = QParams(0.5, 3, -128, 127)
    assert quantize([0.25, -0.25, 0.75, -0.75, 0.2499999], qp).tolist() == [4, 2, 5, 1, 3]
    assert round_half_away(0.49999999999999994) == 0


def test_quantize_error_bound_and_saturation():
    rng = np.random.default_rng(6)
    qp = choose_qparams(-1.7, 3.2, bits=8, signed=False)
    r = rng.uniform(-1.7, 3.2, 100_000)
    q = quantize(r, qp)
    assert q.min() >= 0 and q.max() <= 255
    assert np.all(np.abs(dequantize(q, qp) - r) <= qp.scale / 2 * (1 + 1e-9))
    assert quantize([-1e300, 1e300, -np.inf, np.inf], qp).tolist() == [0, 255, 0, 255]


def test_choose_qparams_hand_values():
    qp = choose_qparams(-1.0, 2.0, signed=False)
    assert (qp.scale, qp.zero_point, qp.qmin, qp.qmax) == (3 / 255, 85, 0, 255)
    assert choose_qparams(-1.0, 2.0).zero_point == -43
    assert choose_qparams(0.5, 2.0, signed=False).zero_point == 0           # range widened to 0
    assert choose_qparams(0.5, 2.0).zero_point == -128
    sym = choose_qparams(-1.0, 2.0, scheme="symmetric")
    assert (sym.scale, sym.zero_point, sym.qmin, sym.qmax) == (2 / 127, 0, -127, 127)
    usym = choose_qparams(-1.0, 2.0, signed=False, scheme="symmetric")
    assert (usym.zero_point, usym.qmin, usym.qmax) == (128, 1, 255)
    assert choose_qparams(-1.0, 2.0, scheme="power_of_two").scale == 2.0 ** -5
    assert choose_qparams(0, 127 * 2.0 ** -6, scheme="power_of_two").scale == 2.0 ** -6
    assert choose_qparams(0.0, 0.0).scale == 1.0


def test_choose_qparams_zero_exactly_representable():
    rng = np.random.default_rng(7)
    lo = -rng.exponential(1.0, 2000) * (rng.random(2000) < 0.9)
    hi = rng.exponential(1.0, 2000) * (rng.random(2000) < 0.9)
    for scheme, signed, bits in itertools.product(("asymmetric", "symmetric", "power_of_two"),
                                                  (True, False), (4, 8)):
        qp = choose_qparams(lo, hi, bits=bits, signed=signed, scheme=scheme, axis=1)
        assert qp.scale.shape == (2000,)
        assert np.all(dequantize(quantize(np.zeros((1, 2000)), qp), qp) == 0)
        assert np.all((qp.zero_point >= qp.qmin) & (qp.zero_point <= qp.qmax))
        inside = fake_quantize(np.stack([lo, hi]), qp) - np.stack([lo, hi])
        tol = qp.scale / 2 if scheme == "asymmetric" else qp.scale
        assert np.all(np.abs(inside) <= tol * (1 + 1e-9))


def test_qparams_validation():
    with pytest.raises(ValueError, match="scale"):
        QParams(0.0, 0, -128, 127)
    with pytest.raises(ValueError, match="zero_point"):
        QParams(1.0, 200, -128, 127)
    with pytest.raises(ValueError, match="scale"):
        QParams([1.0, 2.0], [0, 0], -128, 127)                # per-channel needs an axis
    with pytest.raises(ValueError, match="bits"):
        choose_qparams(-1, 1, bits=1)
    with pytest.raises(ValueError, match="scheme"):
        choose_qparams(-1, 1, scheme="log")
    assert [QParams(1.0, 0 if lo < 0 else 128, lo, hi).bits
            for lo, hi in [(-128, 127), (-127, 127), (0, 255), (1, 255)]] \
        == [8, 8, 8, 8]


# ---------------------------------------------------------------- calibration

def test_calibrate_per_channel_matches_per_tensor_slices():
    rng = np.random.default_rng(8)
    w = rng.standard_normal((64, 6)) * np.array([0.01, 0.1, 1, 3, 10, 0.5])
    for method in ("minmax", "percentile", "mse", "kl"):
        qp = calibrate(w, method=method, scheme="symmetric", axis=1, bins=512)
        assert qp.scale.shape == (6,) and qp.axis == 1
        q = quantize(w, qp)
        for c in range(6):
            col = calibrate(w[:, c], method=method, scheme="symmetric", bins=512)
            assert qp.scale[c] == col.scale
            np.testing.assert_array_equal(q[:, c], quantize(w[:, c], col))
    assert np.all(np.diff(calibrate(w[:, :5], axis=1).scale) > 0)


@pytest.fixture(scope="module")
def gaussian_with_outliers():
    rng = np.random.default_rng(9)
    body = rng.standard_normal(100_000)
    return body, np.concatenate([body, [12.0, -12.0]])


@pytest.mark.parametrize("scheme", ["symmetric", "asymmetric"])
def test_calibration_clips_outliers(gaussian_with_outliers, scheme):
    """Every clipping method picks a range well inside the outliers. MSE minimizes
    the error on all data, so it beats min/max there; KL and percentile sacrifice
    the two outliers for the resolution of the Gaussian body."""
    body, x = gaussian_with_outliers
    minmax = calibrate(x, method="minmax", scheme=scheme)

    def error(qp, values):
        return np.mean((fake_quantize(values, qp) - values) ** 2)

    for method in ("percentile", "mse", "kl"):
        qp = calibrate(x, method=method, scheme=scheme)
        assert qp.scale < 0.85 * minmax.scale
        assert error(qp, body) < 0.7 * error(minmax, body)
    assert error(calibrate(x, method="mse", scheme=scheme), x) < 0.9 * error(minmax, x)
    assert calibrate(x, method="kl", scheme=scheme).scale < 0.4 * minmax.scale
    assert calibrate(x, method="percentile", scheme=scheme).scale < 0.4 * minmax.scale


def test_kl_threshold_near_max_on_uniform_data():
    x = np.random.default_rng(10).uniform(-1, 1, 100_000)
    assert kl_threshold(x) >= 0.99 * np.abs(x).max()
    assert calibrate(x, method="kl", scheme="symmetric").scale >= 0.99 * np.abs(x).max() / 127


def test_kl_threshold_on_gaussian_clips_tail():
    x = np.random.default_rng(11).standard_normal(100_000)
    t = kl_threshold(x)
    assert 2.5 < t < 0.9 * np.abs(x).max()
    assert kl_threshold(np.zeros(10)) == 0.0
    with pytest.raises(ValueError, match="bins"):
        kl_threshold(x, bins=128)


def test_calibrate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        calibrate([1.0], method="entropy")
    with pytest.raises(ValueError, match="x"):
        calibrate([1.0, np.nan])
    with pytest.raises(ValueError, match="axis"):
        calibrate(np.ones((2, 3)), axis=2)


# ---------------------------------------------------------------- integer linear layer

def exact_int_accumulator(q_x, q_w, x_zp, w_zp, bias_q):
    rows, k = len(q_x), len(q_w)
    out = len(q_w[0])
    w_zp = [w_zp] * out if np.ndim(w_zp) == 0 else list(w_zp)
    return [[sum((int(q_x[r][j]) - int(x_zp)) * (int(q_w[j][c]) - int(w_zp[c])) for j in range(k))
             + int(bias_q[c]) for c in range(out)] for r in range(rows)]


def test_linear_terms_fold_zero_points_mod_2_32():
    rng = np.random.default_rng(12)
    q_x = rng.integers(0, 256, (5, 40))
    q_w = rng.integers(-128, 128, (40, 3))
    w_zp = np.array([3, -7, 0])
    bias_q = np.array([INT32_MAX - 5, INT32_MIN + 9, 123])          # forces wraparound
    acc, a_sum, offset = linear_terms(q_x, q_w, 17, w_zp, bias_q)
    assert acc.shape == (5, 3) and a_sum.shape == (5,) and offset.shape == (3,)
    folded = wrap_int32(acc - w_zp * a_sum[:, None] + offset)
    exact = np.array(exact_int_accumulator(q_x, q_w, 17, w_zp, bias_q), dtype=object)
    assert folded.tolist() == [[c_wrap32(v) for v in row] for row in exact]


@pytest.mark.parametrize("rounding, activation, x_signed", [
    ("double", "none", False), ("single", "none", True), ("double", "relu", True),
    ("double", "relu6", False)])
def test_quantized_linear_bit_exact_and_close_to_float(rounding, activation, x_signed):
    rng = np.random.default_rng(13)
    x = rng.normal(0.5, 1.0, (8, 32))
    w = rng.standard_normal((32, 6)) * np.array([0.05, 0.1, 0.2, 0.3, 0.5, 1.0])
    b = rng.standard_normal(6)
    y = linear_float(x, w, b)
    if activation == "relu":
        y = np.maximum(y, 0)
    elif activation == "relu6":
        y = np.clip(y, 0, 6)
    x_qp = calibrate(x, signed=x_signed)
    w_qp = calibrate(w, scheme="symmetric", axis=1)
    out_qp = calibrate(linear_float(x, w, b), signed=x_signed)
    q_x, q_w = quantize(x, x_qp), quantize(w, w_qp)
    bias_q = quantize_bias(b, x_qp.scale, w_qp.scale)
    got = quantized_linear(q_x, q_w, x_qp, w_qp, bias_q, out_qp, rounding=rounding,
                           activation=activation)

    exact = exact_int_accumulator(q_x, q_w, x_qp.zero_point, w_qp.zero_point, bias_q)
    m, s = quantize_multiplier(x_qp.scale * w_qp.scale / out_qp.scale)
    zp = int(out_qp.zero_point)
    lo = max(out_qp.qmin, zp) if activation != "none" else out_qp.qmin
    hi = min(out_qp.qmax, zp + int(round_half_away(6 / out_qp.scale))) if activation == "relu6" \
        else out_qp.qmax
    expect = [[min(max(c_mbqm(v, int(m[c]), int(s[c]), rounding) + zp, lo), hi)
               for c, v in enumerate(row)] for row in exact]
    assert got.tolist() == expect
    assert np.abs(dequantize(got, out_qp) - y).max() < 3 * out_qp.scale
    float_of_quantized = linear_float(dequantize(q_x, x_qp), dequantize(q_w, w_qp),
                                      bias_q * x_qp.scale * w_qp.scale)
    unsaturated = (got > out_qp.qmin) & (got < out_qp.qmax)
    if activation == "none":
        assert unsaturated.mean() > 0.9
        # half a step, plus up to 2**(shift-1) steps from the first of two roundings
        bound = (0.5 + (2.0 ** (s - 1) if rounding == "double" else 0) + 1e-6) * out_qp.scale
        error = np.abs(dequantize(got, out_qp) - float_of_quantized)
        assert np.all(error[unsaturated] <= np.broadcast_to(bound, error.shape)[unsaturated])


def test_quantize_bias_saturates_int32():
    got = quantize_bias([1.0, -2.5, 1e12, -1e12], 0.5, 0.5)
    assert got.tolist() == [4, -10, INT32_MAX, INT32_MIN]


def test_quantized_linear_rejects_per_channel_activations():
    qp = QParams([1.0, 1.0], [0, 0], -128, 127, axis=1)
    tensor = QParams(1.0, 0, -128, 127)
    with pytest.raises(ValueError, match="x_qp"):
        quantized_linear(np.zeros((1, 2)), np.zeros((2, 2)), qp, tensor, [0, 0], tensor)
