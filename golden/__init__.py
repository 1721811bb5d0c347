"""NumPy reference models: the bits every unit must produce.

Bit level, one module per unit family: :mod:`.float` (multiply, FMA, rounding),
:mod:`.mma`, :mod:`.fixed`, :mod:`.mac`, :mod:`.kulisch`, :mod:`.quant`,
:mod:`.bitfusion`, :mod:`.sparse`, :mod:`.sparse24`, :mod:`.csr`. They take
integers (bit patterns, stored values) and check them: a float array, a value
out of the format's range, an unknown format or rounding mode is one
``ValueError`` naming the parameter (:mod:`.checks`). Rounding modes are
accepted by RISC-V name (``rne``, ``rtz``, ``rdn``, ``rup``, ``rmm``) or code 0..4.

Value level: :mod:`.values` runs the float models on NumPy / ml_dtypes float
arrays (``float16``, ``bfloat16``, ``float32``, ``float64``, ``float8_e4m3fn``,
``float8_e5m2``). Shared parameters (formats, GPU presets) are in :mod:`.formats`.
"""
