"""nnarith: synthesizable arithmetic RTL for DNN accelerators, with NumPy golden models.

Subpackages: :mod:`nnarith.golden` (bit-exact NumPy models), :mod:`nnarith.hw`
(the Amaranth units, the catalogue, Verilog export, synthesis) and
:mod:`nnarith.sim` (cocotb benches that compare the exported Verilog with the
golden models). The functions below are the public API; the command line
(``nnarith``) is a thin layer over them.
"""

__version__ = "0.2.0.dev0"

from .api import MAX_GEMM_PRODUCTS, MAX_VECTORS, build, export, presets, simulate, simulate_gemm, synthesize

__all__ = ["__version__", "build", "export", "simulate", "simulate_gemm", "synthesize", "presets",
           "MAX_VECTORS", "MAX_GEMM_PRODUCTS"]
