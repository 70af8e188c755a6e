# Two commands do all the set-up on a fresh machine with python3 and make:
#   make demo   - the main job: `flywheel run` on the bundled examples against the sandbox
#   make test   - the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-helix bench reliability clean install compile

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# An editable install leaves the package uncompiled, and with PYTHONDONTWRITEBYTECODE set every `flywheel` process
# would compile it again (~0.2 s of CPU each): compile it once, as a regular install does. Stale files are ignored.
compile: $(STAMP)
	$(BIN)/python -m compileall -q flywheel_cli > /dev/null

demo: compile
	rm -rf .flywheel/demo
	$(BIN)/flywheel --state .flywheel/demo/state.db --config configs/flywheel.toml \
		run --workload tool_router --sandbox --logs examples/logs.jsonl

test: compile
	$(BIN)/python -m pytest -q

bench: compile
	$(BIN)/python -m benchmarks

reliability: compile
	$(BIN)/python -m pytest -q -m reliability tests/reliability -p no:cacheprovider -s

# Integration tests against a real local NeMo Helix (installs it into .helix/ on first use).
test-helix: compile
	bash scripts/helix/test.sh

clean:
	rm -rf $(VENV) .flywheel .pytest_cache benchmarks/out
