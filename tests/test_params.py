"""Parameter validation: every valid combination elaborates, every invalid one
is refused with a ValueError that names the parameter, before any hardware."""

import re
import subprocess
import sys

import pytest
from amaranth.back import rtlil
from hypothesis import HealthCheck, given, settings, strategies as st

from nnarith.hw.catalogue import PRESETS, UNITS
from nnarith.golden.formats import FLOAT_FORMATS, GPUS, float_format
from nnarith.hw.fixed import FixedMultiplier
from nnarith.hw.params import Derived


@st.composite
def valid_fixed(draw):
    p = {}
    for port in ("a", "b"):
        p[f"{port}_width"] = draw(st.integers(2, 64))
        p[f"{port}_signed"] = draw(st.booleans())
        p[f"{port}_frac"] = draw(st.integers(0, p[f"{port}_width"]))
    p["out_width"] = draw(st.integers(2, 128))
    p["out_signed"] = draw(st.booleans())
    p["out_frac"] = draw(st.integers(0, p["out_width"]))
    p["rounding"] = draw(st.sampled_from(["trunc", "zero", "half_up", "half_even"]))
    p["overflow"] = draw(st.sampled_from(["wrap", "saturate"]))
    p["arch"] = draw(st.sampled_from(["infer", "booth"]))
    p["stages"] = draw(st.integers(0, 8))
    # Leave some parameters to their (possibly derived) defaults.
    for name in draw(st.sets(st.sampled_from(sorted(p)))):
        p.pop(name, None)
        if name.endswith("_width"):                 # a default width takes the default frac
            p.pop(name.replace("_width", "_frac"), None)
    return p


float_formats = st.one_of(
    st.sampled_from(sorted(FLOAT_FORMATS)),
    st.builds(lambda e, m: f"e{e}m{m}", st.integers(2, 11), st.integers(1, 30)))


@st.composite
def valid_float(draw):
    p = {"a_fmt": draw(float_formats), "b_fmt": draw(float_formats),
         "out_fmt": draw(float_formats), "ftz": draw(st.booleans()),
         "saturate": draw(st.booleans()), "arch": draw(st.sampled_from(["infer", "booth"])),
         "stages": draw(st.integers(0, 8))}
    for name in draw(st.sets(st.sampled_from(sorted(p)))):
        p.pop(name)
    return p


@st.composite
def valid_mac(draw):
    p = {"a_width": draw(st.integers(2, 32)), "a_signed": draw(st.booleans()),
         "b_width": draw(st.integers(2, 32)), "b_signed": draw(st.booleans()),
         "lanes": draw(st.integers(1, 8)),
         "overflow": draw(st.sampled_from(["wrap", "saturate"])),
         "accumulate": draw(st.booleans()), "arch": draw(st.sampled_from(["infer", "booth"]))}
    p["acc_width"] = draw(st.integers(p["a_width"] + p["b_width"], 128))
    p["stages"] = draw(st.integers(1 if p["accumulate"] else 0, 8))
    for name in draw(st.sets(st.sampled_from(["acc_width", "stages", "arch", "overflow"]))):
        p.pop(name)
    return p


@st.composite
def valid_requant(draw):
    p = {"out_bits": draw(st.integers(2, 16)), "out_signed": draw(st.booleans()),
         "rounding": draw(st.sampled_from(["double", "single"])),
         "activation": draw(st.sampled_from(["none", "relu", "relu6"])),
         "correction": draw(st.booleans()),
         "fixed_multiplier": draw(st.sampled_from([0, 1, 1 << 30, (1 << 31) - 1])),
         "fixed_shift": draw(st.integers(-31, 30)), "stages": draw(st.integers(0, 8)),
         "arch": draw(st.sampled_from(["infer", "booth"]))}
    for name in draw(st.sets(st.sampled_from(sorted(p)))):
        p.pop(name)
    return p


@st.composite
def valid_fma(draw):
    p = {"a_fmt": draw(float_formats), "b_fmt": draw(float_formats), "c_fmt": draw(float_formats),
         "ftz": draw(st.booleans()), "saturate": draw(st.booleans()),
         "accumulate": draw(st.booleans()), "arch": draw(st.sampled_from(["infer", "booth"]))}
    p["out_fmt"] = p["c_fmt"] if p["accumulate"] else draw(float_formats)
    p["stages"] = draw(st.integers(1 if p["accumulate"] else 0, 8))
    for name in draw(st.sets(st.sampled_from(["b_fmt", "out_fmt", "ftz", "saturate", "arch",
                                              "stages"]))):
        p.pop(name)
    return p


@st.composite
def valid_kulisch(draw):
    in_fmt = draw(st.one_of(st.sampled_from(["fp16", "bf16", "e4m3", "e5m2", "tf32"]),
                            st.builds(lambda e, m: f"e{e}m{m}", st.integers(2, 6),
                                      st.integers(1, 10))))
    fmt = float_format(in_fmt)
    exact_lsb, exact_msb = 2 * (fmt.emin - fmt.frac_bits), 2 * (fmt.emax + 1)
    lsb = draw(st.integers(exact_lsb, exact_msb - 1))
    p = {"in_fmt": in_fmt, "out_fmt": draw(float_formats), "lanes": draw(st.integers(1, 4)),
         "carry_bits": draw(st.integers(1, 64)), "lsb": lsb,
         "msb": draw(st.integers(lsb + 1, min(exact_msb, lsb + 200))),
         "ftz": draw(st.booleans()), "stages": draw(st.integers(1, 8))}
    for name in draw(st.sets(st.sampled_from(["out_fmt", "lanes", "carry_bits", "ftz", "stages"]))):
        p.pop(name)
    if fmt.exp_bits <= 6 and draw(st.booleans()):      # the exact register: at most ~200 bits
        p.pop("lsb"), p.pop("msb")
    return p


@st.composite
def valid_float_mma(draw):
    p = {"m": draw(st.integers(1, 2)), "n": draw(st.integers(1, 2)),
         "mode": draw(st.sampled_from(["fused", "tensorcore"])), "stages": draw(st.integers(0, 8))}
    if p["mode"] == "tensorcore":
        gpu = GPUS[draw(st.sampled_from(sorted(GPUS)))]
        p["gpu"] = gpu.name
        p["in_fmt"], p["acc_fmt"] = draw(st.sampled_from(gpu.modes()))
        instr = draw(st.sampled_from(gpu.instructions(p["in_fmt"], p["acc_fmt"])))
        if instr is not None:
            p["instr"] = instr
        block = gpu.mode(p["in_fmt"], p["acc_fmt"], instr).block
        # FP8 blocks of 32 products: one block of one output keeps elaboration quick.
        p["k"] = block * (draw(st.integers(1, 2)) if block <= 16 else 1)
        if block > 16:
            p["m"] = p["n"] = 1
    else:
        p["in_fmt"] = draw(st.sampled_from(["fp16", "e4m3", "e5m2"]))
        p["acc_fmt"] = draw(st.sampled_from(["fp32", "fp16"]))
        p["k"] = draw(st.integers(1, 4))
    return p


@st.composite
def valid_int_mma(draw):
    p = {"m": draw(st.integers(1, 3)), "n": draw(st.integers(1, 3)), "k": draw(st.integers(1, 6)),
         "in_bits": draw(st.integers(2, 16)), "a_signed": draw(st.booleans()),
         "b_signed": draw(st.booleans()), "overflow": draw(st.sampled_from(["wrap", "saturate"])),
         "arch": draw(st.sampled_from(["infer", "booth"])), "stages": draw(st.integers(0, 8))}
    p["acc_width"] = draw(st.integers(max(16, 2 * p["in_bits"]), 64))
    return p


@st.composite
def valid_fusion_unit(draw):
    p = {"max_prec": draw(st.sampled_from([8, 16])), "stages": draw(st.integers(1, 8))}
    p["min_prec"] = draw(st.sampled_from([2, 4]))
    p["acc_width"] = draw(st.integers(2 * p["max_prec"] + 1, 64))
    for name in draw(st.sets(st.sampled_from(sorted(p)))):
        p.pop(name)
    return p


@st.composite
def valid_temporal(draw):
    p = {"max_prec": draw(st.sampled_from([8, 16])), "min_prec": draw(st.sampled_from([2, 4])),
         "mult_bits": draw(st.sampled_from([2, 4]))}
    p["acc_width"] = draw(st.integers(2 * p["max_prec"] + 1, 64))
    for name in draw(st.sets(st.sampled_from(sorted(p)))):
        p.pop(name)
    return p


@st.composite
def valid_fusion_array(draw):
    p = {"rows": draw(st.integers(1, 3)), "cols": draw(st.integers(1, 3)),
         "max_prec": draw(st.sampled_from([8, 16])), "min_prec": draw(st.sampled_from([2, 4]))}
    p["acc_width"] = draw(st.integers(2 * p["max_prec"] + 1, 64))
    p["stages"] = p["rows"] + p["cols"] + draw(st.integers(0, 2))
    for name in draw(st.sets(st.sampled_from(["min_prec", "acc_width", "stages"]))):
        p.pop(name)
    return p


@st.composite
def valid_sparse_join(draw):
    p = {"chunk": draw(st.integers(8, 128)), "matches": draw(st.sampled_from([1, 2, 4, 8])),
         "value_width": draw(st.integers(2, 16)), "value_signed": draw(st.booleans()),
         "arch": draw(st.sampled_from(["infer", "booth"])), "stages": draw(st.integers(1, 16))}
    p["acc_width"] = draw(st.integers(2 * p["value_width"] + 1, 64))
    for name in draw(st.sets(st.sampled_from(["chunk", "matches", "value_signed", "arch",
                                              "acc_width", "stages"]))):
        p.pop(name)
    return p


@st.composite
def valid_sparse24(draw):
    p = {"k": 4 * draw(st.integers(1, 8)), "in_fmt": draw(st.sampled_from(["int", "fp16"])),
         "stages": draw(st.integers(0, 8))}
    if p["in_fmt"] == "int":
        p |= {"w_width": draw(st.integers(2, 16)), "w_signed": draw(st.booleans()),
              "x_width": draw(st.integers(2, 16)), "x_signed": draw(st.booleans()),
              "overflow": draw(st.sampled_from(["wrap", "saturate"])),
              "arch": draw(st.sampled_from(["infer", "booth"]))}
        p["acc_width"] = draw(st.integers(p["w_width"] + p["x_width"], 64))
    else:
        p["acc_fmt"] = draw(st.sampled_from(["fp32", "fp16"]))
    for name in draw(st.sets(st.sampled_from(["k", "x_width", "x_signed", "acc_width", "arch",
                                              "acc_fmt", "stages"]))):
        p.pop(name, None)
    if "x_width" not in p:                       # the default x_width is w_width
        p.pop("acc_width", None)
    return p


@st.composite
def valid_csr_join(draw):
    p = {"width": draw(st.integers(1, 2)), "index_width": draw(st.integers(4, 32)),
         "value_width": draw(st.integers(2, 16)), "value_signed": draw(st.booleans()),
         "stages": draw(st.integers(1, 16))}
    p["acc_width"] = draw(st.integers(2 * p["value_width"], 64))
    for name in draw(st.sets(st.sampled_from(["width", "index_width", "value_signed",
                                              "stages"]))):
        p.pop(name)
    return p


#: A strategy of valid parameters per unit: a new unit must add one here.
VALID = {"FixedMultiplier": valid_fixed(), "FloatMultiplier": valid_float(),
         "IntMAC": valid_mac(), "Requantizer": valid_requant(),
         "FloatFMA": valid_fma(), "KulischAccumulator": valid_kulisch(),
         "FloatMMA": valid_float_mma(), "IntMMA": valid_int_mma(),
         "BitBrick": st.fixed_dictionaries({}, optional={"width": st.sampled_from([2, 4]),
                                                         "stages": st.integers(0, 8)}),
         "FusionUnit": valid_fusion_unit(), "TemporalPE": valid_temporal(),
         "FusionArray": valid_fusion_array(), "SparseJoin": valid_sparse_join(),
         "CSRJoin": valid_csr_join(),
         "Sparse24Dot": valid_sparse24()}


@pytest.mark.parametrize("unit_name", sorted(UNITS))
def test_every_unit_has_a_parameter_strategy(unit_name):
    assert unit_name in VALID


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), unit_name=st.sampled_from(sorted(VALID)))
def test_every_valid_combination_elaborates(data, unit_name):
    cls = UNITS[unit_name]
    unit = cls(**data.draw(VALID[unit_name]))
    assert rtlil.convert(unit, name="dut")
    assert set(unit.port_docs) == set(unit.signature.members)


def _invalid_values(param, values):
    if param.kind == "text":
        return ["fp17", "e1m3", "e12m2", "e5m0", "e5m53", "", 16, True]
    if param.kind == "bool":
        return [0, 1, "true", None]
    if param.kind == "choice":
        return ["", "nearest", 3, True]
    lo, hi = param.bound(param.lo, values), param.bound(param.hi, values)
    outside = [v for v in (lo - 1, hi + 1, -1000, 10**6) if not lo <= v <= hi]
    return [*outside, "8", 8.0, True]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), unit_name=st.sampled_from(sorted(VALID)))
def test_every_invalid_value_names_its_parameter(data, unit_name):
    cls = UNITS[unit_name]
    values = cls.resolve_params(data.draw(VALID[unit_name]))
    param = data.draw(st.sampled_from(cls.PARAMS))
    bad = data.draw(st.sampled_from(_invalid_values(param, values)))
    message = rf"^{param.name}: .*(must be|got) .*{re.escape(repr(bad))}\)?$"
    with pytest.raises(ValueError, match=message):
        cls(**{**values, param.name: bad})


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match="^widht: unknown parameter"):
        FixedMultiplier(widht=8)


def test_table_is_complete():
    for unit in UNITS.values():
        for param in unit.PARAMS:
            assert param.doc and param.kind in ("int", "bool", "choice", "text")
            if not isinstance(param.default, Derived):
                param.check(param.default, {p.name: p.default for p in unit.PARAMS})
    for preset in PRESETS.values():
        preset.resolve()


@pytest.mark.parametrize("args, name", [
    (["-p", "a_width=0"], "a_width"),
    (["-p", "b_width=65"], "b_width"),
    (["-p", "a_frac=9"], "a_frac"),
    (["-p", "rounding=nearest"], "rounding"),
    (["-p", "stages=-1"], "stages"),
    (["-p", "a_signed=3"], "a_signed"),
    (["-p", "nope=1"], "nope"),
    (["-p", "a_fmt=fp17"], "a_fmt"),
    (["-p", "out_fmt=e1m3"], "out_fmt"),
    (["-p", "exp_bits=1"], "exp_bits"),
    (["-p", "lanes=0"], "lanes"),
    (["-p", "acc_width=15"], "acc_width"),
    (["-p", "fixed_shift=31"], "fixed_shift"),
])
def test_cli_rejects_bad_parameters_with_one_line(tmp_path, args, name):
    preset = ("fp16_mul" if name in ("a_fmt", "out_fmt", "exp_bits")
              else "dp4a" if name in ("lanes", "acc_width")
              else "requant" if name == "fixed_shift" else "int8_mul")
    result = subprocess.run([sys.executable, "-m", "nnarith.cli", "verilog", preset, *args,
                             "-o", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nnarith: error: {name}:"), result.stderr
    assert not any(tmp_path.iterdir()), "nothing may be written for bad parameters"


@pytest.mark.parametrize("unit, params, message", [
    ("Sparse24Dot", {"in_fmt": "fp16", "w_width": 4}, "w_width: applies only with in_fmt=int"),
    ("Sparse24Dot", {"in_fmt": "fp16", "overflow": "saturate"},
     "overflow: applies only with in_fmt=int"),
    ("Sparse24Dot", {"acc_fmt": "fp16"}, "acc_fmt: applies only with in_fmt=fp16"),
    ("FloatMMA", {"gpu": "a100"}, "gpu: applies only with mode=tensorcore"),
])
def test_a_parameter_that_does_not_apply_is_refused(unit, params, message):
    with pytest.raises(ValueError, match=f"^{message}, got "):
        UNITS[unit](**params)


def test_parameters_that_apply_only_sometimes_say_when():
    table = {param.name: param.describe() for param in UNITS["Sparse24Dot"].PARAMS}
    assert table["arch"]["when"] == "in_fmt=int" and table["k"]["when"] is None
