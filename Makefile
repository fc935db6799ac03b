# The two commands a new user needs: `make demo` and `make test`.
# Everything else (venv, toolchain, program build) is set up on demand and is
# quick when already done.

VENV        := .venv
PY          := $(VENV)/bin/python
PYTHON_SYS  ?= python3
STAMP       := $(VENV)/.installed

.PHONY: demo test program idl-fresh setup ipfs browser anchor-clients lint bench clean

# `make demo`: the whole system in one process on the embedded chain;
# `make demo URL=localnet`: on Surfpool, the operator and agents as processes.
# In a terminal it serves the dashboard until Ctrl-C; CI=true (or no tty) exits.
demo: setup program
	$(PY) scripts/demo.py $(if $(URL),--url $(URL))

test: setup program idl-fresh ipfs browser anchor-clients
	cargo test -q -p fedstake
	cargo clippy -q -p fedstake --all-targets -- -D warnings
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

# setup first: the post-link check (scripts/check_sbf.py) runs in the venv.
program: setup
	bash scripts/build_program.sh

# In CI, the IDLs the build just wrote must equal the committed ones: the tests
# read the regenerated files, so only this catches a commit that forgot them.
idl-fresh: program
	@if [ "$$CI" = true ] && git rev-parse --git-dir >/dev/null 2>&1; then \
		git diff --exit-code --stat -- target/idl client_kit/program \
		|| { echo "the committed IDLs are stale: run make program and commit them"; exit 1; }; fi

# A real IPFS node (kubo, built from the Go module proxy, cached in .tools/)
# for the storage tests; without Go those tests skip and say why.
ipfs:
	@if command -v go >/dev/null; then bash scripts/ipfs/install.sh >/dev/null; \
	else echo "[ipfs] go not installed: the kubo storage tests will skip"; fi

# Debian's Chromium for the dashboard tests (Playwright drives it; its own
# browser download is never used); without apt those tests skip and say why.
browser:
	@bash scripts/install_chromium.sh

# Anchor's own clients for tests/outside_clients: @coral-xyz/anchor (npm ci into
# tests/anchor_ts/) and anchorpy 0.21 (its own venv, .tools/anchorpy-venv). When
# one cannot be set up, its tests skip and say why.
anchor-clients:
	@bash scripts/anchor_clients/install_ts.sh \
		|| echo "[anchor-ts] not set up: tests/outside_clients/test_anchor_ts.py will skip"
	@bash scripts/anchor_clients/install_anchorpy.sh \
		|| echo "[anchorpy] not set up: tests/outside_clients/test_anchorpy.py will skip"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON_SYS) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev,bench,flower]'
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	cargo clippy -q -p fedstake --all-targets -- -D warnings

bench: setup program
	$(PY) bench/compute_units.py
	$(PY) bench/aggregation.py
	$(PY) bench/robustness.py
	$(PY) bench/watcher.py
	$(PY) bench/operator.py
	$(PY) bench/api_feed.py
	$(PY) bench/privacy.py
	$(PY) bench/participants.py

clean:
	rm -rf target/sbpf target/deploy $(VENV)
