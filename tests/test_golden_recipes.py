"""Precision recipes (golden/recipes.py): every recorded hardware call against an
independent recomputation (the golden MMA without the recipe's tiling, explicit
tile loops, integer matmul, the unit bench models that the RTL replay checks
against, gemmlowp's integer layer), the calls chained into each other as the
recipe says, zero padding that is dropped, and the accuracy properties of
issue 16 on the whole test split (int8 per-channel KL within 1 point of fp32 on
the MLP, 16/19-bit tensor-core recipes agreeing with fp32, FP8 within 2
points, promotion changing D only at the 13-bit level)."""

import numpy as np
import pytest

from nnarith.golden import recipes as R
from nnarith.golden.float import RNE, from_float64, to_float64
from nnarith.golden.mma import gemm, mma, promote
from nnarith.golden.network import float_gemm, im2col
from nnarith.golden.quant import calibrate, quantize, quantize_bias, quantized_linear

FEW = 6
FLOAT = [n for n, r in R.RECIPES.items() if r.family == "float"]
INT8 = [n for n, r in R.RECIPES.items() if r.family == "int8"]
TENSOR_16_19 = [n for n in FLOAT if not n.startswith("e4m3")]
FP8 = [n for n in FLOAT if n.startswith("e4m3")]
CASES = [(kind, name) for kind in ("mlp", "cnn") for name in R.RECIPES]


class Runs:
    """Prepared recipes and their results, computed once per module."""

    def __init__(self, models, split):
        self.models, self.split = models, split
        self._prepared, self._full, self._few = {}, {}, {}

    def prepared(self, kind, name):
        if (kind, name) not in self._prepared:
            self._prepared[kind, name] = R.prepare(name, self.models[kind], self.split)
        return self._prepared[kind, name]

    def few(self, kind, name):
        if (kind, name) not in self._few:
            self._few[kind, name] = R.run(self.prepared(kind, name), self.split.x_test[:FEW])
        return self._few[kind, name]

    def full(self, kind, name):
        if (kind, name) not in self._full:
            self._full[kind, name] = R.run(self.prepared(kind, name), self.split.x_test)
        return self._full[kind, name]

    def accuracy(self, kind, name):
        return R.accuracy(self.full(kind, name), self.split.y_test)


@pytest.fixture(scope="module")
def runs(models, split):
    return Runs(models, split)


def signed(bits, width):
    v = np.asarray(bits, dtype=np.uint64).astype(np.int64)
    return np.where(v >= 1 << (width - 1), v - (1 << width), v)


# ---------------------------------------------------------------- registry

def test_registry_is_the_table():
    assert list(R.RECIPES) == [
        "fp32", "fp16_fused", "fp16_v100", "fp16_a100", "fp16_h100", "bf16_a100", "bf16_h100",
        "tf32_a100", "e4m3_ada", "e4m3_h100", "e4m3_h100_promoted", "int8_sym_tensor_minmax",
        "int8_asym_channel_minmax", "int8_asym_channel_percentile", "int8_asym_channel_mse",
        "int8_asym_channel_kl"]
    for name, recipe in R.RECIPES.items():
        assert recipe.name == name and recipe.family in R.FAMILIES and recipe.label
        assert (recipe.preset is None) == (recipe.family == "fp32")
        assert R.get_recipe(recipe) is recipe and R.get_recipe(name) is recipe
        assert set(recipe.settings()) >= {"preset", "overrides", "promote_every", "method"}
    assert R.RECIPES["fp16_fused"].rm == RNE and R.RECIPES["fp16_v100"].rm is None
    assert R.RECIPES["fp16_h100"].overrides == {"in_fmt": "fp16"}
    assert R.RECIPES["e4m3_h100_promoted"].promote_every == 128
    assert [R.RECIPES[n].fp8_scaling for n in FLOAT] == [n.startswith("e4m3") for n in FLOAT]
    sym = R.RECIPES["int8_sym_tensor_minmax"]
    assert (sym.scheme, sym.weights, sym.method) == ("symmetric", "tensor", "minmax")
    assert R.RECIPES["int8_asym_channel_kl"].weights == "channel"


@pytest.mark.parametrize("bad", ["fp64", "", None, 3, "FP32"])
def test_bad_recipe_names_are_refused(bad, models, split):
    with pytest.raises(ValueError, match=r"^recipe: must be one of fp32, fp16_fused"):
        R.get_recipe(bad)
    with pytest.raises(ValueError, match=r"^recipe:"):
        R.prepare(bad, models["mlp"], split)


def test_other_arguments_are_checked(models, split):
    with pytest.raises(ValueError, match=r"^model:"):
        R.prepare("fp32", "mlp", split)
    with pytest.raises(ValueError, match=r"^split:"):
        R.prepare("int8_asym_channel_kl", models["mlp"], "calib")
    with pytest.raises(ValueError, match=r"^split: recipe e4m3_ada calibrates"):
        R.prepare("e4m3_ada", models["mlp"], np.zeros((0, 64), np.float32))
    with pytest.raises(ValueError, match=r"^prepared:"):
        R.run("fp32", split.x_test[:2])
    with pytest.raises(ValueError, match=r"^preset:"):
        R.unit_params("mma_fp64")
    with pytest.raises(ValueError, match=r"^overrides:"):
        R.unit_params("mma_fp16", {"depth": 3})
    with pytest.raises(ValueError, match=r"^overrides: k must be a multiple"):
        R.unit_params("mma_bf16_h100", {"k": 8})
    with pytest.raises(ValueError, match=r"^y:"):
        R.accuracy(np.zeros(3, np.int64), [1, 2])


def test_unit_presets_are_the_catalogues():
    """The golden's copy of each preset's parameters (the golden imports no
    hardware) is what hw.catalogue resolves, overrides included; the requant
    port widths are the unit's."""
    from nnarith.hw.catalogue import PRESETS, build
    uses = {(r.preset, tuple(r.overrides.items())) for r in R.RECIPES.values() if r.preset}
    uses |= {(p, ()) for p in R.UNIT_PRESETS} | {("requant", (("activation", "relu"),))}
    for preset, overrides in sorted(uses):
        ours = R.unit_params(preset, dict(overrides))
        theirs = PRESETS[preset].resolve(dict(overrides))
        assert ours["unit"] == PRESETS[preset].unit.__name__
        for key, value in ours.items():
            if key == "unit" or (key == "gpu" and ours["mode"] == "fused"):
                continue
            assert theirs[key] == ("none" if value is None and key == "instr" else value), \
                (preset, overrides, key)
    requant = build("requant", {"activation": "relu"})
    for port, width in R.REQUANT_PORTS.items():
        assert len(getattr(requant, port)) == width, port


# ---------------------------------------------------------------- the calls

def float_reference(call, p):
    """D of a float call by means other than gemm(tile_k=k): gemm without
    tiling when K is one tile (promoted: one group from +0, then promote), an
    explicit loop of single MMAs otherwise; in tensorcore mode also the
    block-chained gemm without tiling (the unit's k is a multiple of the block)."""
    k = p["k"]
    kw = {"gpu": p["gpu"], "rm": call.rm, "instr": p["instr"]}
    in_fmt, acc_fmt, mode = p["in_fmt"], p["acc_fmt"], p["mode"]
    a, b, c = call.a, call.b, call.c
    if call.promote_every is not None:
        acc = c
        for s in range(0, a.shape[1], call.promote_every):
            part, _ = gemm(a[:, s:s + call.promote_every], b[s:s + call.promote_every],
                           np.zeros(c.shape, np.uint64), in_fmt, acc_fmt, mode, **kw)
            acc, _ = promote(acc, part, acc_fmt)
        return [acc]
    refs = []
    if a.shape[1] == k or mode == "tensorcore":
        refs.append(gemm(a, b, c, in_fmt, acc_fmt, mode, **kw)[0])
    d = c
    for s in range(0, a.shape[1], k):
        d, _ = mma(a[:, s:s + k], b[s:s + k], d, in_fmt, acc_fmt, mode, **kw)
    refs.append(d)
    return refs


@pytest.mark.parametrize("kind,name", CASES)
def test_recorded_d_is_recomputed_independently(runs, kind, name):
    result = runs.few(kind, name)
    recipe = R.RECIPES[name]
    assert result.logits.shape == (FEW, 10) and result.logits.dtype == np.float32
    assert np.all(np.isfinite(result.logits))
    assert np.array_equal(result.predictions, np.argmax(result.logits, axis=1))
    layers = runs.models[kind].layers()
    gemms = [c for c in result.calls if isinstance(c, R.GemmCall)]
    if recipe.family == "fp32":
        assert result.calls == [] and np.array_equal(
            result.logits, runs.models[kind].forward(runs.split.x_test[:FEW]))
        return
    assert [c.layer for c in gemms] == [layer.name for layer in layers]
    p = R.unit_params(recipe.preset, recipe.overrides)
    for call in gemms:
        assert call.preset == recipe.preset and call.overrides == recipe.overrides
        assert call.tile == (p["m"], p["k"], p["n"])
        m, k, n = call.padded_shape
        assert m % p["m"] == k % (call.promote_every or p["k"]) == n % p["n"] == 0
        assert call.c.shape == call.d.shape == (m, n) and call.b.shape == (k, n)
        assert all(x.dtype == np.uint64 for x in (call.a, call.b, call.c, call.d))
        assert call.macs == m * k * n and call.mmas == m * k * n // (p["m"] * p["k"] * p["n"])
        if recipe.family == "float":
            for ref in float_reference(call, p):
                assert np.array_equal(ref, call.d), call.layer
        else:
            a, b, c = signed(call.a, 8), signed(call.b, 8), signed(call.c, 32)
            exact = a.astype(object) @ b.astype(object) + c.astype(object)   # Python ints
            wrapped = np.array([((int(v) + 2**31) % 2**32) - 2**31 for v in exact.ravel()])
            assert np.array_equal(signed(call.d, 32), wrapped.reshape(exact.shape))
            assert call.a.max() < 256 and call.d.max() < 2**32


@pytest.mark.parametrize("kind,name", [(k, n) for k, n in CASES if n != "fp32"])
def test_calls_match_the_unit_bench_models(runs, kind, name):
    """The expected outputs of the RTL replay: sim's bench models (the units'
    port packing, tile by tile, D fed back as C; promotion by golden.mma.promote
    as sim.gemm does; requant by its model on the port bit patterns)."""
    from nnarith.hw.catalogue import build
    from nnarith.sim.gemm import tile_chain
    from nnarith.sim.runner import MODELS
    for call in runs.few(kind, name).calls:
        unit = build(call.preset, call.overrides)
        model = MODELS[type(unit).__name__](unit)
        if isinstance(call, R.VectorCall):
            expected = model.expected({port: call.inputs[port] for port in model.widths})
            assert set(model.widths) == set(call.inputs)
            assert np.array_equal(expected["q"], call.outputs["q"])
            continue
        rows = slice(0, 8)                       # two row tiles: the bench models are slow
        fixed = {"rm": call.rm} if "rm" in unit.signature.members else {}
        a, b, c = call.a[rows], call.b, call.c[rows]
        if call.promote_every is None:
            expected = tile_chain(model, a, b, c, fixed)
        else:
            zero, expected = np.zeros(c.shape, np.uint64), c
            for s in range(0, a.shape[1], call.promote_every):
                part = tile_chain(model, a[:, s:s + call.promote_every],
                                  b[s:s + call.promote_every], zero, fixed)
                expected, _ = promote(expected, part, unit.acc_fmt)
        assert np.array_equal(expected, call.d[rows]), call.layer


def layer_inputs(model, x):
    """Each layer's fp32 input, for calibration."""
    h, out = x, []
    for layer in model.layers():
        out.append(np.asarray(h, np.float32).reshape((len(x),) + layer.in_shape))
        h = layer.finish(float_gemm(layer, layer.lower(h)), len(x))
    return out


def lower(layer, h, pad):
    h = h.reshape((len(h),) + layer.in_shape)
    return h.reshape(len(h), -1) if layer.kind == "dense" else im2col(
        h, layer.kernel, layer.padding, pad_value=pad)


@pytest.mark.parametrize("kind,name", [(k, n) for k, n in CASES if R.RECIPES[n].family == "float"])
def test_float_calls_chain_as_the_recipe_says(runs, kind, name):
    """A = in_fmt(x * s_x) lowered (padding +0.0), B = in_fmt(w * s_w), C =
    fp32(bias * s_x * s_w) on every row, and the next layer's input is
    float32(D) / (s_x * s_w) after ReLU and pooling; the logits are the last one.
    Scales (FP8 only, else 1) recomputed from the calibration split."""
    recipe, model, split = R.RECIPES[name], runs.models[kind], runs.split
    p = R.unit_params(recipe.preset, recipe.overrides)
    fp8 = recipe.fp8_scaling
    amax = [float(np.abs(h).max()) for h in layer_inputs(model, split.x_calib)]
    result = runs.few(kind, name)
    h = split.x_test[:FEW]
    for layer, call, x_amax in zip(model.layers(), result.calls, amax):
        s_x = np.float32(448 / x_amax) if fp8 else np.float32(1)
        s_w = np.float32(448 / np.abs(layer.weight).max()) if fp8 else np.float32(1)
        m, k, n = call.shape
        assert (m, k, n) == layer.gemm_shape(FEW)
        rows = lower(layer, np.asarray(h, np.float64) * s_x, 0.0)
        a = from_float64(rows, p["in_fmt"], saturate=fp8)[0]
        b = from_float64(layer.weight.astype(np.float64) * s_w, p["in_fmt"], saturate=fp8)[0]
        c = from_float64(layer.bias.astype(np.float64) * s_x * s_w, "fp32")[0]
        assert np.array_equal(call.a[:m, :k], a)
        assert np.array_equal(call.b[:k, :n], b)
        assert np.array_equal(call.c[:m, :n], np.broadcast_to(c, (m, n)))
        pre = to_float64(call.result(), "fp32").astype(np.float32)
        if fp8:
            pre = pre / np.float32(np.float64(s_x) * np.float64(s_w))
        h = layer.finish(pre, FEW)
    assert np.array_equal(result.logits, h)


@pytest.mark.parametrize("kind,name", [(k, n) for k, n in CASES if n in INT8])
def test_int8_calls_are_gemmlowps_integer_layer(runs, kind, name):
    """Every requant output equals golden.quant.quantized_linear (which adds
    the zero-point terms its own way: a_sum from q_x, the offset in the
    requantizer) on the layer's int8 rows; the next layer's A is the pooled
    result, im2col padded with the zero point; the logits are
    S_x * S_w * (sum (q_x - Z_x)(q_w - Z_w) + bias_q). Qparams recomputed from
    the calibration split."""
    recipe, model, split = R.RECIPES[name], runs.models[kind], runs.split
    scheme = recipe.scheme
    qps = [calibrate(h, method=recipe.method, scheme=scheme)
           for h in layer_inputs(model, split.x_calib)]
    calls = runs.few(kind, name).calls
    gemms = [c for c in calls if isinstance(c, R.GemmCall)]
    vectors = [c for c in calls if isinstance(c, R.VectorCall)]
    layers = model.layers()
    assert len(vectors) == len(layers) - 1
    assert [type(c).__name__ for c in calls] == ["GemmCall", "VectorCall"] * (len(layers) - 1) \
        + ["GemmCall"]
    q = quantize(split.x_test[:FEW], qps[0])
    for i, (layer, call) in enumerate(zip(layers, gemms)):
        x_qp = qps[i]
        w_qp = calibrate(layer.weight, scheme=scheme,
                         axis=1 if recipe.weights == "channel" else None)
        q_w = quantize(layer.weight, w_qp)
        bias_q = quantize_bias(layer.bias, x_qp.scale, w_qp.scale)
        rows = lower(layer, q, int(x_qp.zero_point))
        m, k = rows.shape
        n = layer.weight.shape[1]
        asym = bool(np.any(w_qp.zero_point != 0))
        assert asym == (scheme == "asymmetric")
        assert call.shape == (m, k, n + asym)
        assert np.array_equal(signed(call.a[:m, :k], 8), rows)
        assert np.array_equal(signed(call.b[:k, :n], 8), q_w)
        if asym:
            assert np.all(signed(call.b[:k, n], 8) == 1) and np.all(call.c[:, n] == 0)
        d = signed(call.result(), 32)
        if i + 1 < len(layers):
            requant = vectors[i]
            assert requant.overrides == {"activation": "relu"} and requant.vectors == m * n
            assert np.array_equal(requant.value("acc").reshape(m, n), d[:, :n])
            assert np.all(requant.value("offset") == 0)
            out = quantized_linear(rows, q_w, x_qp, w_qp, bias_q, qps[i + 1], activation="relu")
            assert np.array_equal(requant.value("q").reshape(m, n), out)
            zp = int(qps[i + 1].zero_point)
            q = layer.finish(out - zp, FEW) + zp
        else:
            exact = (rows - x_qp.zero_point) @ (q_w - w_qp.zero_point) + bias_q
            logits = (exact * (x_qp.scale * w_qp.scale)).astype(np.float32)
            assert np.array_equal(runs.few(kind, name).logits, logits)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", ["fp16_fused", "bf16_h100", "e4m3_h100_promoted",
                                  "int8_asym_channel_kl", "int8_sym_tensor_minmax"])
def test_padding_is_zero_and_dropped(runs, kind, name):
    """3 images: M, K and N padded to the unit's tile with zeros in A, B, C
    (and so in D); the logits are those of the same images in a larger batch."""
    prepared = runs.prepared(kind, name)
    small = R.run(prepared, runs.split.x_test[:3])
    assert np.array_equal(small.logits, runs.few(kind, name).logits[:3])
    padded_somewhere = False
    for call in small.calls:
        if not isinstance(call, R.GemmCall):
            assert call.vectors == len(call.inputs["acc"])
            continue
        m, k, n = call.shape
        for x, (r, c) in ((call.a, (m, k)), (call.b, (k, n)), (call.c, (m, n)), (call.d, (m, n))):
            assert not x[r:].any() and not x[:, c:].any()
            padded_somewhere |= x.shape != (r, c)
        assert call.result().shape == (m, n)
    assert padded_somewhere


def test_promotion_is_one_group_per_layer_here(runs):
    """K <= 128 after padding to the unit's k: the call's promote_every is that
    K, and D is what padding K to 128 and promoting every 128 gives."""
    for kind in ("mlp", "cnn"):
        for call in runs.few(kind, "e4m3_h100_promoted").calls:
            k = call.a.shape[1]
            assert call.promote_every == k <= 128 and k % 32 == 0
            a = np.pad(call.a[:8], ((0, 0), (0, 128 - k)))
            b = np.pad(call.b, ((0, 128 - k), (0, 0)))
            d, _ = gemm(a, b, call.c[:8], "e4m3", "fp32", "tensorcore", gpu="h100",
                        tile_k=32, promote_every=128)
            assert np.array_equal(d, call.d[:8])


def test_promotion_changes_d_only_at_the_13_bit_level(runs, split):
    """Promoted and unpromoted E4M3 H100 GEMMs see the same first-layer
    operands and differ (the bias joins in fp32 instead of the 13-bit block),
    by at most the block's truncations: (K + blocks + 1) units of 2**-12 of the
    largest term; accuracy equal within 1 point."""
    for kind in ("mlp", "cnn"):
        plain = runs.few(kind, "e4m3_h100").calls[0]
        promoted = runs.few(kind, "e4m3_h100_promoted").calls[0]
        assert all(np.array_equal(getattr(plain, x), getattr(promoted, x)) for x in "abc")
        du, dp, c = (to_float64(x, "fp32") for x in (plain.d, promoted.d, plain.c))
        assert np.any(du != dp)
        a, b = np.abs(to_float64(plain.a, "e4m3")), np.abs(to_float64(plain.b, "e4m3"))
        largest = np.maximum.reduce([(a[:, :, None] * b[None]).max(axis=1), np.abs(c),
                                     np.abs(du), np.abs(dp)])
        k = plain.a.shape[1]
        assert np.all(np.abs(du - dp) <= (k + k // 32 + 1) * 2.0 ** -12 * largest)
        gap = abs(runs.accuracy(kind, "e4m3_h100") - runs.accuracy(kind, "e4m3_h100_promoted"))
        assert gap <= 0.01


# ---------------------------------------------------------------- accuracy (whole test split)

def test_int8_per_channel_kl_is_within_a_point_of_fp32_on_the_mlp(runs):
    assert runs.accuracy("mlp", "int8_asym_channel_kl") >= runs.accuracy("mlp", "fp32") - 0.01


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", TENSOR_16_19)
def test_16_and_19_bit_recipes_agree_with_fp32(runs, kind, name):
    assert R.agreement(runs.full(kind, name), runs.full(kind, "fp32")) >= 0.99


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", FP8)
def test_fp8_recipes_are_within_two_points_of_fp32(runs, kind, name):
    assert runs.accuracy(kind, name) >= runs.accuracy(kind, "fp32") - 0.02
    assert np.all(np.isfinite(runs.full(kind, name).logits))


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_int8_recipes_stay_close_to_fp32(runs, kind):
    fp32 = runs.accuracy(kind, "fp32")
    for name in INT8:
        assert runs.accuracy(kind, name) >= fp32 - 0.02, name


def test_metrics(runs, split):
    result = runs.few("mlp", "fp32")
    assert R.accuracy(result, split.y_test[:FEW]) == R.accuracy(result.logits, split.y_test[:FEW])
    assert R.agreement(result, result.predictions) == 1.0
    with pytest.raises(ValueError, match=r"^b:"):
        R.agreement(result, result.predictions[:2])
