"""Whole blocks synthesized from their parts: each distinct submodule of a
unit's top (an MMA's output elements, the Fusion array's PEs) synthesized
once, then the top with those as black boxes, and the mapped netlists
stitched together (flattened as they are, not optimized again) and counted.

A 4×4×4 float MMA is 16 identical output elements around shared decoders:
flat, ABC sees one netlist of ~200,000 gates; split, it sees one element
and the decoders. Parts are told apart by content (a hash of each module's
Verilog, its own name and its submodules' names replaced by their hashes),
so identically built modules are one part however many times, and wherever,
they are instantiated. What the stitched figures leave out: optimization
across a part's boundary (a register two parts share stays two).
"""

import hashlib
import re
from dataclasses import dataclass

__all__ = ["Part", "Split", "modules", "split"]

_MODULE = re.compile(r"(?ms)^module (\w+)\s*\(.*?^endmodule\n?")
# Yosys's Verilog backend numbers a dummy register per module: not content.
_NUMBERED = re.compile(r"_auto_verilog_backend__cc_\d+_dump_module_\d+")
_INSTANCE = re.compile(r"(?m)^(\s+)(\w+)(\s+\\?\S+\s*\()")
_INSTANCE_BODY = re.compile(r"(?ms)^(\s+)(\w+)(\s+\\?\S+\s*\()(.*?^\s*\);)")
_HEADER = re.compile(r"module \w+\s*\([^)]*\);")
_PORT = re.compile(r"(?m)^\s*((?:input|output|inout)\s+(?:signed\s+)?(?:\[[^\]]*\]\s*)?)(\w+);")
_CONNECTION = re.compile(r"\.(\w+)\(")


@dataclass(frozen=True)
class Part:
    """One distinct submodule: ``module`` names it (the first instance's
    module), ``count`` is how many instances the block has, ``text`` its
    Verilog with its own submodules."""
    module: str
    count: int
    text: str

    @property
    def alone(self):
        """``(top, text)``: the part inside a pass-through module ``top``, what
        a part's synthesis reads. Yosys maps a module better inside a parent
        than as the top itself (the int8 MMA's output element: 2,201 cells
        inside, 2,698 as the top, before ABC); the wrapper adds no logic and
        is flattened away, so the netlist is the part's."""
        top = f"{self.module}__alone"
        body = modules(self.text)[self.module]
        declared = _PORT.findall(body)
        ports = [name for _, name in declared]
        return top, (self.text + f"module {top}({', '.join(ports)});\n"
                     + "".join(f"  {kind}{name};\n" for kind, name in declared)
                     + f"  {self.module} part (\n"
                     + ",\n".join(f"    .{name}({name})" for name in ports)
                     + "\n  );\nendmodule\n")


@dataclass(frozen=True)
class Split:
    """A block in parts: ``text`` is the top module alone, every instance
    naming its part's module."""
    text: str
    parts: tuple


def modules(text):
    """Each module of Verilog ``text`` (as nnarith exports it) by name."""
    return {match[1]: match[0] for match in _MODULE.finditer(text)}


def _ports(body):
    """A module's port names in the order of their declarations (the header
    lists them in an order of its own, which differs between instances)."""
    return [name for _, name in _PORT.findall(body)]


def _renamed(body, names):
    """``body`` with the identifiers in ``names`` (old -> new) replaced."""
    if not names:
        return body
    pattern = re.compile(r"(?<![\w$\\])(" + "|".join(map(re.escape, names)) + r")(?![\w$])")
    return pattern.sub(lambda m: names[m[1]], body)


def _instances(body, names):
    """The module names instantiated in ``body``, once per instance."""
    return [match[2] for match in _INSTANCE.finditer(body) if match[2] in names]


def split(text, top):
    """The :class:`Split` of the Verilog ``text`` whose top module is ``top``;
    ``ValueError`` when the top instantiates nothing."""
    found = modules(text)
    if top not in found:
        raise ValueError(f"top: no module {top} in the Verilog")
    children = {name: _instances(body, found) for name, body in found.items()}
    if not children[top]:
        raise ValueError(f"split: {top} exports one module, with no submodule to synthesize "
                         "apart")
    digests = {}

    def content(name):
        # Ports by position: Amaranth names a port that merges a parent's
        # slices after their bit offset, different in each instance.
        if name not in digests:
            body = _HEADER.sub("module;", _NUMBERED.sub("_numbered", found[name]), count=1)
            body = _renamed(body, {port: f"port{i}_" for i, port in enumerate(_ports(body))})
            body = _INSTANCE.sub(lambda m: m[1] + (content(m[2]) if m[2] in found else m[2])
                                 + m[3], body)
            digests[name] = hashlib.sha256(body.encode()).hexdigest()
        return digests[name]

    def subtree(name):
        return [name] + [below for child in dict.fromkeys(children[name])
                         for below in subtree(child)]

    parts = {}
    for child in children[top]:
        key = content(child)
        if key in parts:
            parts[key]["count"] += 1
        else:
            parts[key] = {"module": child, "count": 1}
    chosen = {name: parts[content(name)]["module"] for name in children[top]}

    def instance(m):
        # The part's module in place of the instance's, its ports by position.
        if m[2] not in chosen:
            return m[0]
        ports = dict(zip(_ports(found[m[2]]), _ports(found[chosen[m[2]]])))
        return (m[1] + chosen[m[2]] + m[3]
                + _CONNECTION.sub(lambda c: f".{ports.get(c[1], c[1])}(", m[4]))
    top_text = _INSTANCE_BODY.sub(instance, found[top])
    return Split(top_text, tuple(
        Part(entry["module"], entry["count"],
             "".join(found[name] for name in dict.fromkeys(subtree(entry["module"]))))
        for entry in parts.values()))
