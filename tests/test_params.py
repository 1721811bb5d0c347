"""Parameter validation: every valid combination elaborates, every invalid one
is refused with a ValueError that names the parameter, before any hardware."""

import re
import subprocess
import sys

import pytest
from amaranth.back import rtlil
from hypothesis import HealthCheck, given, settings, strategies as st

from hw.catalogue import PRESETS, UNITS
from hw.fixed import FixedMultiplier
from hw.params import Derived


@st.composite
def valid_params(draw):
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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params())
def test_every_valid_combination_elaborates(params):
    unit = FixedMultiplier(**params)
    assert rtlil.convert(unit, name="dut")
    assert len(unit.y) == unit.params["out_width"]


def _invalid_values(param, values):
    if param.kind == "bool":
        return [0, 1, "true", None]
    if param.kind == "choice":
        return ["", "nearest", 3, True]
    lo = values[param.lo] if isinstance(param.lo, str) else param.lo
    hi = values[param.hi] if isinstance(param.hi, str) else param.hi
    return [lo - 1, hi + 1, -1000, 10**6, "8", 8.0, True]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), base=valid_params())
def test_every_invalid_value_names_its_parameter(data, base):
    values = FixedMultiplier.resolve_params(base)
    param = data.draw(st.sampled_from(FixedMultiplier.PARAMS))
    bad = data.draw(st.sampled_from(_invalid_values(param, values)))
    with pytest.raises(ValueError, match=rf"^{param.name}: must be .*, got {re.escape(repr(bad))}$"):
        FixedMultiplier(**{**values, param.name: bad})


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match="^widht: unknown parameter"):
        FixedMultiplier(widht=8)


def test_table_is_complete():
    for unit in UNITS.values():
        for param in unit.PARAMS:
            assert param.doc and param.kind in ("int", "bool", "choice")
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
])
def test_cli_rejects_bad_parameters_with_one_line(tmp_path, args, name):
    result = subprocess.run([sys.executable, "-m", "hw.cli", "verilog", "int8_mul", *args,
                             "-o", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nnarith: error: {name}:"), result.stderr
    assert not any(tmp_path.iterdir()), "nothing may be written for bad parameters"
