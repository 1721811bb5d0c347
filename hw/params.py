"""Declared unit parameters: one table per unit, checked before any hardware is built.

Each unit lists its parameters as :class:`Param` rows (name, default, range,
meaning). :func:`resolve` fills defaults and validates a keyword set against the
table, raising a ``ValueError`` that names the parameter and its allowed range;
the catalogue prints the same table for ``nnarith list``. An integer bound may
name an earlier parameter (``hi="a_width"``), and a bound or a default may be
computed from earlier ones (:class:`Derived`), so the table also states the constraints between parameters.
A parameter that only applies to some configurations says so (``when``):
giving any other configuration a value other than its default is an error
rather than silently ignored.
"""

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Param", "Derived", "resolve", "parse_value"]


def parse_value(text: str):
    """A parameter value written as text (``-p``, sweep ranges): int (any base
    Python reads), bool (true/false) or string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text, 0)
    except ValueError:
        return text


@dataclass(frozen=True)
class Derived:
    """A default computed from the parameters before it."""

    compute: Callable[[dict], Any]
    text: str

    def __str__(self):
        return self.text


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    doc: str
    lo: int | str | None = None
    hi: int | str | None = None
    choices: tuple | None = None
    #: For open-ended values (e.g. float format names): raises ValueError if invalid.
    parse: Callable[[Any], Any] | None = None
    allowed_text: str | None = None
    #: The condition, on earlier parameters, under which this one applies.
    when: Derived | None = None

    @property
    def kind(self):
        if self.parse is not None:
            return "text"
        if self.choices is not None:
            return "choice"
        if self.lo is not None or self.hi is not None:
            return "int"
        return "bool"

    def bound(self, bound, values):
        """The value of bound ``bound`` (a number, a parameter name or :class:`Derived`)."""
        if isinstance(bound, Derived):
            return bound.compute(values)
        return values[bound] if isinstance(bound, str) else bound

    def allowed(self, values=None):
        """The allowed values as text; bounds that name other parameters are
        shown by name, with their current value when ``values`` is given."""
        if self.kind == "text":
            return self.allowed_text
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "bool":
            return "true or false"

        def show(bound):
            if isinstance(bound, (str, Derived)) and values is not None:
                return f"{bound} ({self.bound(bound, values)})"
            return str(bound)
        return f"{show(self.lo)}..{show(self.hi)}"

    def check(self, value, values):
        """Return ``value`` if allowed, else raise ``ValueError`` naming this parameter."""
        def fail():
            raise ValueError(f"{self.name}: must be {self.allowed(values)}, got {value!r}")
        if self.kind == "text":
            if not isinstance(value, str):
                fail()
            try:
                self.parse(value)
            except ValueError as error:
                raise ValueError(f"{self.name}: {error}") from None
        elif self.kind == "bool":
            if not isinstance(value, bool):
                fail()
        elif self.kind == "choice":
            # By type too: True == 1 would otherwise pass for a choice of 1.
            if not any(value == c and type(value) is type(c) for c in self.choices):
                fail()
        else:
            if not isinstance(value, int) or isinstance(value, bool):
                fail()
            if not self.bound(self.lo, values) <= value <= self.bound(self.hi, values):
                fail()
        return value

    def describe(self):
        """Plain-data row for ``nnarith list --json``."""
        default = str(self.default) if isinstance(self.default, Derived) else self.default
        return {"name": self.name, "kind": self.kind, "default": default,
                "allowed": self.allowed(), "doc": self.doc,
                "when": str(self.when) if self.when else None}


def resolve(table, given):
    """Validate ``given`` keyword parameters against ``table``; return all values.

    Parameters are checked in table order, so a bound or derived default may
    refer to any parameter listed before it.
    """
    known = {param.name for param in table}
    for name in given:
        if name not in known:
            raise ValueError(f"{name}: unknown parameter; this unit takes "
                             f"{', '.join(param.name for param in table)}")
    values = {}
    for param in table:
        default = (param.default.compute(values) if isinstance(param.default, Derived)
                   else param.default)
        value = param.check(given.get(param.name, default), values)
        # A unit's own resolved values (defaults included) may be passed back.
        if param.when is not None and value != default and not param.when.compute(values):
            raise ValueError(f"{param.name}: applies only with {param.when}, got "
                             f"{param.name}={value!r}")
        values[param.name] = value
    return values
