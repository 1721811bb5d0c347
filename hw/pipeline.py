"""Pipeline register placement shared by all units.

A unit names its natural cut points in datapath order (for a multiplier:
inputs, compressed partial products, product, rounded result) and ranks them
by how much a register there shortens the critical path. ``stages`` register
ranks go to the cut points in that ranking; ranks beyond the number of cut
points stack up at the best-ranked one, where a retiming synthesis tool can
move them. A valid bit travels with the data so that ``out_valid`` follows
``in_valid`` exactly ``stages`` cycles later.
"""

from amaranth.hdl import Signal

__all__ = ["Pipeline"]


class Pipeline:
    def __init__(self, m, stages, ranking, in_valid=None):
        """``ranking``: cut-point names, best place for a register first."""
        self._m = m
        self._ranks = dict.fromkeys(ranking, 0)
        for rank in range(stages):
            self._ranks[ranking[rank] if rank < len(ranking) else ranking[0]] += 1
        self._pending = set(ranking)
        self.valid = in_valid

    def cut(self, name, *values):
        """Pass ``values`` through the registers placed at cut point ``name``.

        Returns the (possibly registered) values, one per argument. Cut points
        must be visited in datapath order, each exactly once.
        """
        if name not in self._pending:
            raise ValueError(f"cut point {name!r} is unknown or already used")
        self._pending.remove(name)
        for rank in range(self._ranks[name]):
            suffix = f"_{rank}" if self._ranks[name] > 1 else ""
            registered = []
            for value in values:
                reg = Signal.like(value, name=f"{name}{suffix}_{getattr(value, 'name', 'value')}",
                                  reset_less=True)
                self._m.d.sync += reg.eq(value)
                registered.append(reg)
            valid = Signal(name=f"{name}{suffix}_valid")
            self._m.d.sync += valid.eq(self.valid)
            values, self.valid = tuple(registered), valid
        return values if len(values) != 1 else values[0]
