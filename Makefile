# The two commands of the README: `make demo` and `make test`.
# Both create (or reuse) .venv and install the package from pyproject.toml.
PYTHON ?= python3.11
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: demo test clean system-deps arm64-sysroot web-page

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev,cluster,bench]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/antispoof demo --data ../shared/data/nuaa --webcam ../shared/data/webcam-multi

# The web page (toolkit/web): its npm packages, pinned by package-lock.json, and its bundle,
# made as `antispoof web` and `export` make them (antispoof.pipeline.web.page_bundle).
WEB := toolkit/web
$(WEB)/dist/app.js: $(WEB)/package-lock.json $(wildcard $(WEB)/src/*) | $(STAMP) system-deps
	$(VENV)/bin/python -c 'from antispoof.pipeline.web import page_bundle; page_bundle()'

web-page: $(WEB)/dist/app.js

# System tools the tests drive for real: Chromium, Node.js and npm, sshd, adb/adbd, qemu-user,
# mmdebstrap.
CACHE := .cache
system-deps:
	bash tests/system_tools.sh $(CACHE)/adbd

# An aarch64 Python (Debian bookworm, extracted, nothing ARM runs) and aarch64 wheels of the
# runtime pinned in pyproject.toml, for the ARM parity check under qemu-aarch64.
ARM64 := $(CACHE)/arm64
# The Debian archive this machine's apt already uses (no host is named here).
DEBIAN_MIRROR ?= $(shell bash tests/debian_mirror.sh)
ARM_WHEELS = $(shell grep -oE '"(numpy|ai-edge-litert)==[^"]+"' pyproject.toml | tr -d '"')
ARM_PLATFORMS := manylinux_2_28_aarch64 manylinux_2_27_aarch64 manylinux2014_aarch64 manylinux_2_17_aarch64
$(ARM64)/.ready: pyproject.toml | $(STAMP) system-deps
	rm -rf $(ARM64) && mkdir -p $(ARM64)
	mmdebstrap --quiet --arch=arm64 --variant=extract --include=python3.11,libstdc++6,libgcc-s1 \
	  bookworm $(ARM64)/root $(DEBIAN_MIRROR)
	$(VENV)/bin/pip install --quiet --no-warn-conflicts --target $(ARM64)/site --only-binary=:all: \
	  --python-version 3.11 --implementation cp $(addprefix --platform ,$(ARM_PLATFORMS)) $(ARM_WHEELS)
	touch $@

arm64-sysroot: $(ARM64)/.ready

# Two pytest workers, a test file each at a time (a file's servers and trained runs stay in one
# worker; the runs every file reads are built once, see tests/conftest.py).
PYTEST_WORKERS ?= 2
test: $(STAMP) system-deps arm64-sysroot web-page
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) $(CACHE) build *.egg-info .pytest_cache $(WEB)/node_modules $(WEB)/dist
