# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# analytics.js (@segment/analytics-next), which the gateway serves as Segment's CDN, and esbuild,
# which bundles the browser tests' npm-package app offline: installed from the committed lock
# file with npm (only the registry is reached); npm writes this file.
WEB := web/node_modules/.package-lock.json
ARGS ?=
# The container image (Dockerfile, docs/container.md), built and run with podman and the
# project's own podman settings (tools/containers.conf: the runc runtime, no ulimits).
IMAGE ?= localhost/pointillist-mock:dev
PODMAN := CONTAINERS_CONF=$(CURDIR)/tools/containers.conf podman

.PHONY: demo test lint typecheck unit docs install wheel clean bench system-test system-demo \
	system-image image image-wheels

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

$(WEB): web/package.json web/package-lock.json
	command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (apt-get install -y npm)"; exit 1; }
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	touch $(WEB)

# Debian packages first (tools/system-deps.sh): installed as root, else named with the command.
system-test system-demo system-image:
	bash tools/system-deps.sh $(@:system-%=%)

# The wheels the image installs, built here so that the image build reaches no package index:
# this tree's wheel and its dependencies' (with the demo extra). The one place to change when
# `make wheel` exists: build the project's wheel with it (analytics.js inside) and copy it here.
# The image installs the wheel users get (`make wheel`: analytics.js inside) and its
# dependencies' wheels, built here so nothing is fetched inside the image's build.
image-wheels: wheel
	rm -rf build/wheels && mkdir -p build/wheels
	cp dist/pointillist_mock-*.whl build/wheels/
	$(BIN)/python -m pip wheel --quiet -w build/wheels "$$(ls build/wheels/pointillist_mock-*.whl)[demo]"

# The base image is made from Debian's packages when podman lacks it (no registry reachable).
image: system-image image-wheels
	CONTAINERS_CONF=$(CURDIR)/tools/containers.conf bash tools/base-image.sh
	$(PODMAN) build --format docker --network=host --build-arg WHEELS=build/wheels --build-arg PIP_NO_INDEX=1 \
		--tag $(IMAGE) .

install: $(STAMP) $(WEB)

# The package as it is distributed: dist/pointillist_mock-<version>-py3-none-any.whl, carrying
# analytics.js from web/'s lock file and its license (setup.py copies them when it builds).
# Install it with the README's line; it never needs npm or make.
wheel: $(STAMP) $(WEB)
	rm -rf build dist/pointillist_mock-*.whl
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --no-index -w dist .
	@ls dist/pointillist_mock-*.whl

demo: system-demo $(STAMP) $(WEB)
	$(BIN)/pointillist-mock demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: system-test system-image $(STAMP) $(WEB)
	$(BIN)/pytest -n auto --dist loadfile $(ARGS)

# The reference documentation (docs/, mkdocs.yml) as a site in site/ (git-ignored); strict: a
# broken link or anchor inside docs/ fails it (tests/examples/test_docs_links.py checks the
# README's links into docs/). Nothing is fetched. Never --quiet: mkdocs 1.6 then stops counting
# warnings and --strict passes a broken link.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: system-test system-image lint typecheck docs unit

# The benchmark suite (benchmarks/README.md); never part of `make test`. Needs wrk (installed
# here when missing, as root), Java and npm for the peers. ARGS="--quick" for a smoke run.
bench: $(STAMP)
	command -v wrk >/dev/null || { test "$$(id -u)" = 0 && apt-get install -y wrk; }
	$(BIN)/python -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist site
