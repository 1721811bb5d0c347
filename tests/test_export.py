"""Export contract: <top>.v (opening with a header that says what it is and how
to make it again), <top>.json, <top>.vlt and <top>.core, byte-identical for
identical parameters, written whole or not at all; a manifest that describes
the ports well enough to drive the unit; ports in a fixed order."""

import gc
import json
import os
import re
import shlex
import subprocess
import sys
import warnings

import pytest
from amaranth.lib.wiring import Flow

import nnarith
from nnarith.hw import export as export_module
from nnarith.hw.catalogue import build
from nnarith.hw.export import export, export_preset

SUFFIXES = ("v", "json", "core", "vlt")


def nnarith_cli(*args):
    return subprocess.run([sys.executable, "-m", "nnarith.cli", *args], capture_output=True,
                          text=True)


def header(path):
    """The facts, parameters, ports and regenerate command of an export's header."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[3:])
    command = lines[next(i for i, l in enumerate(lines) if l.startswith("Regenerate")) + 1].strip()
    facts = dict(re.fullmatch(r"([a-z ]+):\s+(.*)", line).groups() for line in lines
                 if re.fullmatch(r"[a-z ]+:\s+\S.*", line))
    start = lines.index("parameters:") + 1
    params = dict(re.fullmatch(r"\s+(\w+)\s+= (.*)", line).groups()
                  for line in lines[start:lines.index("", start)])
    start = next(i for i, l in enumerate(lines) if l.startswith("ports")) + 1
    table = lines[start:next(i for i in range(start, len(lines)) if lines[i].startswith("---"))]
    columns = re.split(r"\s{2,}", table[0].strip())
    ports = [dict(zip(columns, re.split(r"\s{2,}", row.strip(), maxsplit=len(columns) - 1)))
             for row in table[1:]]
    return {"command": command, "facts": facts, "params": params, "ports": ports}


def module_ports(path, top):
    return re.search(rf"(?m)^module {top}\((.*)\);$", path.read_text())[1].split(", ")


def test_cli_export_is_byte_identical(tmp_path):
    for out in ("one", "two"):
        result = nnarith_cli("verilog", "int8_mul", "-o", str(tmp_path / out))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [str(tmp_path / out / f"int8_mul.{suffix}")
                                         for suffix in SUFFIXES]
    for suffix in SUFFIXES:
        name = f"int8_mul.{suffix}"
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
        assert str(tmp_path) not in (tmp_path / "one" / name).read_text()
    assert "module int8_mul(a, b, y);" in (tmp_path / "one" / "int8_mul.v").read_text()


def test_identical_files_are_left_alone(tmp_path):
    files = export_preset("int8_mul", tmp_path)
    stamps = [os.stat(path).st_mtime_ns for path in files]
    os.utime(files.verilog, ns=(1, 1))
    again = export_preset("int8_mul", tmp_path)
    assert again == files and os.stat(files.verilog).st_mtime_ns == 1
    assert [os.stat(path).st_mtime_ns for path in files[1:]] == stamps[1:]


def test_manifest_of_a_combinational_unit(tmp_path):
    m = json.loads(export_preset("int8_mul", tmp_path).manifest.read_text())
    assert (m["preset"], m["unit"], m["top"]) == ("int8_mul", "FixedMultiplier", "int8_mul")
    assert m["clock"] is None and m["reset"] is None and m["valid"] is None
    assert m["latency"] == 0 and m["initiation_interval"] == 1
    ports = {p["name"]: p for p in m["ports"]}
    assert ports["a"] == {"name": "a", "dir": "in", "width": 8, "signed": True,
                          "kind": "int8", "doc": "multiplicand"}
    assert ports["y"]["dir"] == "out" and ports["y"]["width"] == 16 and ports["y"]["signed"]
    assert set(ports) == {"a", "b", "y"}
    assert m["formats"]["y"] == {"name": "int16", "width": 16, "frac": 0, "signed": True}
    assert m["params"]["arch"] == "infer"


def test_manifest_of_a_pipeline(tmp_path):
    files = export_preset("q8_8_mul", tmp_path, overrides={"stages": 3, "arch": "booth"},
                          top="qmul")
    m = json.loads(files.manifest.read_text())
    assert m["top"] == "qmul" and files.verilog == tmp_path / "qmul.v" and files.verilog.exists()
    assert (m["clock"], m["reset"], m["latency"]) == ("clk", "rst", 3)
    assert m["valid"] == {"in": "in_valid", "out": "out_valid"}
    ports = {p["name"]: p for p in m["ports"]}
    assert {"clk", "rst", "in_valid", "out_valid", "a", "b", "y", "ovf"} == set(ports)
    assert ports["a"]["kind"] == "q8.8" and ports["ovf"]["kind"] == "flag"
    verilog = files.verilog.read_text()
    for port in ports.values():
        assert re.search(rf"(?m)^  {port['dir']}put (\[\d+:0\] )?{port['name']};$", verilog)


@pytest.mark.parametrize("name, overrides, order", [
    ("int8_mul", {}, ["a", "b", "y"]),
    ("fp16_mul", {"stages": 2},
     ["clk", "rst", "a", "b", "rm", "in_valid", "y", "flags", "out_valid"]),
    ("temporal_pe", {}, None),               # ready/valid: inputs, then outputs
])
def test_ports_are_clock_reset_inputs_outputs(tmp_path, name, overrides, order):
    unit = build(name, overrides)
    if order is None:
        members = unit.signature.members
        order = (["clk", "rst"] + [n for n, m in members.items() if m.flow == Flow.In]
                 + [n for n, m in members.items() if m.flow == Flow.Out])
        assert {"in_valid", "out_ready"} < set(order[:order.index("out_valid")])
    files = export(unit, name, tmp_path, preset=name)
    assert module_ports(files.verilog, name) == order
    assert [p["name"] for p in json.loads(files.manifest.read_text())["ports"]] == order
    assert [p["name"] for p in header(files.verilog)["ports"]] == order


def test_header_states_parameters_timing_and_ports(tmp_path):
    unit = build("fp16_mul", {"stages": 2, "arch": "booth"})
    files = export(unit, "fmul", tmp_path, preset="fp16_mul")
    text = files.verilog.read_text()
    assert text.startswith("// fmul: IEEE binary16 multiplier\n"
                           f"// Generated by nnarith {nnarith.__version__} ")
    info = header(files.verilog)
    assert info["params"] == {name: str(value).lower() if isinstance(value, bool) else str(value)
                              for name, value in unit.params.items()}
    facts = info["facts"]
    assert (facts["preset"], facts["unit"]) == ("fp16_mul", "FloatMultiplier")
    assert (facts["latency"], facts["initiation interval"]) == ("2 cycles", "1 cycle")
    assert (facts["clock"], facts["reset"]) == ("clk (rising edge)",
                                                "rst (synchronous, active high)")
    manifest = json.loads(files.manifest.read_text())
    assert [(p["name"], p["dir"], p["kind"], p["doc"]) for p in info["ports"]] == \
        [(p["name"], p["dir"], p["kind"], p["doc"]) for p in manifest["ports"]]
    ports = {p["name"]: p for p in info["ports"]}
    assert ports["a"]["width"] == "16" and ports["a"]["format"].startswith("fp16 (exp_bits=5 ")
    assert ports["rm"]["format"] == "-" and ports["clk"]["kind"] == "clock"
    assert "\\" not in text and not re.search(r"\d{4}-\d\d-\d\d", text)


def test_regenerate_command_reproduces_the_files(tmp_path):
    files = export_preset("q8_8_mul", tmp_path / "api", overrides={"stages": 2, "arch": "booth"},
                          top="qmul")
    command = header(files.verilog)["command"]
    assert command == "nnarith verilog q8_8_mul -p arch=booth -p stages=2 --top qmul -o DIR"
    words = shlex.split(command)
    result = nnarith_cli(*[str(tmp_path / "cli") if word == "DIR" else word for word in words[1:]])
    assert result.returncode == 0, result.stderr
    for path in files:
        assert (tmp_path / "cli" / path.name).read_bytes() == path.read_bytes()


def test_regenerate_statement_of_a_unit_family(tmp_path):
    files = nnarith.export("FloatMultiplier", tmp_path / "api", top="my_bf16_mul",
                           params={"a_fmt": "bf16", "stages": 1})
    statement = header(files.verilog)["command"]
    assert statement.startswith("import nnarith; nnarith.export('FloatMultiplier', 'DIR', ")
    result = subprocess.run([sys.executable, "-c",
                             statement.replace("'DIR'", repr(str(tmp_path / "py")))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for path in files:
        assert (tmp_path / "py" / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("top", ["../x", "1abc", "module", "a b", "", "always_ff", "a$b"])
def test_illegal_top_is_refused_before_anything_is_built(tmp_path, monkeypatch, top):
    message = rf"^top: must be a Verilog identifier .*, got {re.escape(repr(top))}$"
    built = []
    monkeypatch.setattr(export_module, "build", lambda *args: built.append(args))
    with pytest.raises(ValueError, match=message):
        export_preset("int8_mul", tmp_path / "out", top=top)
    assert built == []
    monkeypatch.undo()
    with pytest.raises(ValueError, match=message):
        export(build("int8_mul"), top, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_refuses_an_illegal_top(tmp_path):
    result = nnarith_cli("verilog", "int8_mul", "--top", "../x", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "top: must be a Verilog identifier" in result.stderr and "'../x'" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "x.v").exists()


def test_an_interrupted_export_leaves_no_partial_file(tmp_path, monkeypatch):
    before = export_preset("int8_mul", tmp_path)
    kept = {path.name: path.read_bytes() for path in before}

    def interrupted(source, target):
        assert os.path.getsize(source) > 0         # the new text is complete beside the target
        raise KeyboardInterrupt
    monkeypatch.setattr(export_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_preset("int8_mul", tmp_path, overrides={"stages": 1})
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == kept
    with pytest.raises(KeyboardInterrupt):
        export_preset("int8_mul", tmp_path / "fresh")
    assert list((tmp_path / "fresh").iterdir()) == []


def test_rtlil_the_rewrites_do_not_parse_stops_the_export():
    from nnarith.hw.plain_verilog import UnexpectedRTLIL, _Module
    module = _Module("module \\m\n  wire width 2 \\a\nend\n")
    assert module.bits("{ \\a [1] 1'0 }") == ["0", ("\\a", 1)]
    with pytest.raises(UnexpectedRTLIL, match="SigSpec not understood"):
        module.bits("\\a [1:0] \\a")
    with pytest.raises(UnexpectedRTLIL, match="token not understood"):
        module.bits("a+b")
    with pytest.raises(UnexpectedRTLIL, match="offset/upto"):
        _Module("module \\m\n  wire width 4 offset 2 \\b\nend\n")


def test_a_cached_export_is_the_export_made_once(tmp_path, monkeypatch):
    from nnarith.hw import cache
    monkeypatch.setattr(cache, "BUILD_ROOT", tmp_path / "build")
    unit = build("q8_8_mul", {"stages": 2})
    fresh = export(unit, "qmul", tmp_path / "fresh", preset="q8_8_mul")
    first = export(unit, "qmul", tmp_path / "first", preset="q8_8_mul", cache=True)
    # A second export of an equal unit takes the files from the cache: no elaboration.
    monkeypatch.setattr(export_module, "plain_verilog", lambda *args: pytest.fail("elaborated"))
    gc.collect()                                # other tests' garbage warns before, not below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")         # and no "created but never used" for it
        taken = build("q8_8_mul", {"stages": 2})
        name = repr(taken)
        again = export(taken, "qmul", tmp_path / "again", preset="q8_8_mul", cache=True)
        del taken
        gc.collect()
    assert not [w for w in caught if name in str(w.message)]
    for files in (first, again):
        assert [p.read_bytes() for p in files] == [p.read_bytes() for p in fresh]
    assert len(list((tmp_path / "build" / "cache" / "export").glob("*.json"))) == 1


def test_the_export_cache_key_names_everything_the_files_depend_on():
    from nnarith.hw.export import cache_key
    unit = build("q8_8_mul", {"stages": 2})
    family, params = type(unit), unit.params
    key = cache_key(family, params, "qmul", "q8_8_mul")
    assert key == cache_key(family, build("q8_8_mul", {"stages": 2}).params, "qmul", "q8_8_mul")
    others = [cache_key(family, build("q8_8_mul", {"stages": 1}).params, "qmul", "q8_8_mul"),
              cache_key(family, params, "other", "q8_8_mul"), cache_key(family, params, "qmul")]
    assert len({key, *others}) == 4

    class Outside(family):              # its source is not in the key: never cached
        pass
    assert cache_key(Outside, params, "qmul") is None


def test_the_code_digest_ignores_comments_and_docstrings_only(tmp_path, monkeypatch):
    from nnarith.hw.cache import source_digest
    package = tmp_path / "digested"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "flow.py"
    monkeypatch.syspath_prepend(str(tmp_path))

    def digest_of(text):
        module.write_text(text)
        source_digest.cache_clear()
        return source_digest("digested.flow"), source_digest("digested")
    code = 'def f(x):\n    """Twice x."""\n    return 2 * x\n'
    first = digest_of(code)
    assert digest_of('"""A flow."""\n# why\ndef f(x):\n    """Double."""\n\n'
                     '    return 2 * x  # cheap\n') == first
    for changed in ('def f(x):\n    return 3 * x\n', 'def f(x):\n    """Twice x."""\n'
                    '    return 2 * x\nTOP = "x"\n', 'def f(y):\n    return 2 * y\n'):
        assert digest_of(changed)[0] != first[0]
    source_digest.cache_clear()
