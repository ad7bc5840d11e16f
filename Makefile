# Two commands on a fresh clone: `make demo` and `make test`. Both create the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch (a plain `torch` can pull a multi-GB CUDA build); override e.g. TORCH_SPEC="torch>=2.3"
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: install demo test peer-tests lint format docs dist dist-check bench clean

# Every extra (zoo, mujoco, compare) and the dev tools: what the tests and the docs need
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m sb3_reinforce.demo

test: install
	$(BIN)/python -m pytest -q tests

# The peers' own suites with this package's algorithms in their place (SB3's tests, REINFORCE as A2C; sb3-contrib's
# MaskablePPO and RecurrentPPO tests, each also with MaskableRecurrentREINFORCE; rl-zoo's, --algo reinforce)
peer-tests: install
	$(BIN)/python scripts/peer_tests.py sb3 -p no:warnings
	$(BIN)/python scripts/peer_tests.py contrib-mask -p no:warnings
	$(BIN)/python scripts/peer_tests.py contrib-lstm -p no:warnings
	$(BIN)/python scripts/peer_tests.py contrib-mask-lstm-masking -p no:warnings
	$(BIN)/python scripts/peer_tests.py contrib-mask-lstm-recurrent -p no:warnings
	$(BIN)/python scripts/peer_tests.py zoo -p no:warnings

lint: install
	$(BIN)/ruff check sb3_reinforce tests docs scripts
	$(BIN)/ruff format --check sb3_reinforce tests docs scripts
	$(BIN)/mypy sb3_reinforce

format: install
	$(BIN)/ruff format sb3_reinforce tests docs scripts
	$(BIN)/ruff check --fix sb3_reinforce tests docs scripts

# The documentation site (Sphinx), warnings as errors: docs/_build/html/index.html
docs: install
	$(BIN)/sphinx-build -q -E -W --keep-going -b html docs docs/_build/html

# Wheel and sdist in dist/
dist: install
	rm -rf dist
	$(BIN)/python -m build -q --outdir dist .

# Install the wheel in a clean venv without extras: the algorithm works, the tools name their extra
dist-check: dist
	bash scripts/dist_check.sh dist $(TORCH_SPEC)

bench: install
	$(BIN)/python -m sb3_reinforce.bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache docs/_build .peer_tests
