# pyweb.deploy developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
COLLECTION_LINK := .cache/collections/ansible_collections/pyweb/deploy

SCENARIO ?=
PLATFORMS ?=

.PHONY: help setup link lint docs-lint plugin-docs-lint plugin-docs-lint-run docs unit units sanity matrix test test-env images build importer changelog release ee clean demo demo-clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed link ## create .venv with the pinned toolchain

link: ## make this checkout importable as the collection pyweb.deploy
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn ../../../.. $(COLLECTION_LINK)

# ansible-lint takes most of lint's time (80 s on 2 cores): it is skipped when it passed already
# on exactly these file contents (tracked and untracked, Markdown aside), as a
# stamp under .cache/ records. A clean clone (CI) always runs it.
LINT_KEY = $(shell git ls-files -co --exclude-standard -z -- . ':!*.md' | xargs -0 sha1sum 2>/dev/null | sha1sum | cut -c1-16)

lint: setup ## yamllint, ansible-lint (production profile), syntax check of every playbook, docs lints
	yamllint --strict .
	@stamp=.cache/ansible-lint-ok-$(LINT_KEY); \
	if [ -e "$$stamp" ]; then echo "ansible-lint: passed already on these files ($$stamp)"; \
	else ansible-lint && mkdir -p .cache && rm -f .cache/ansible-lint-ok-* && touch "$$stamp"; fi
	@for pb in playbooks/*.yml; do \
	  [ -e "$$pb" ] || continue; \
	  ansible-playbook --syntax-check -i inventories/example/hosts.yml "$$pb" >/dev/null || exit 1; \
	  echo "syntax ok: $$pb"; \
	done
	tools/role-docs --check
	antsibull-changelog lint
	@stamp=.cache/docs-lint-ok-$(LINT_KEY); \
	if [ -e "$$stamp" ]; then echo "plugin docs: passed already on these files ($$stamp)"; \
	else $(MAKE) --no-print-directory plugin-docs-lint-run && mkdir -p .cache && rm -f .cache/docs-lint-ok-* && touch "$$stamp"; fi

# ansible-doc on every module, filter and role, then antsibull-docs' lint (about 60 s on 2 cores):
# `make lint` skips it, as it does ansible-lint, when it passed already on the same file contents.
plugin-docs-lint: setup plugin-docs-lint-run

plugin-docs-lint-run:
	@for m in plugins/modules/*.py; do m=$$(basename $$m .py); \
	  ansible-doc -t module pyweb.deploy.$$m >/dev/null || exit 1; echo "docs ok: module $$m"; done
	@$(CHECK_FILTER_DOCS)
	@for r in roles/*/; do r=$$(basename $$r); \
	  ansible-doc -t role pyweb.deploy.$$r >/dev/null || exit 1; echo "docs ok: role $$r"; done
	tools/docs lint

docs-lint: setup ## antsibull-docs lint-collection-docs --plugin-docs (antsibull-docs in .cache/docs-venv)
	tools/docs lint

docs: setup ## the collection's docsite (antsibull-docs + Sphinx) into build/docs: every role, module, filter
	tools/docs build

# Every filter a FilterModule returns has its documentation (plugins/filter/<name>.yml) that
# ansible-doc shows; `ansible-doc -l` marks one without it UNDOCUMENTED.
CHECK_FILTER_DOCS = filters=$$(python -c 'import glob, importlib.util as u; \
	  [print(n) for f in sorted(glob.glob("plugins/filter/*.py")) \
	   for s in [u.spec_from_file_location("f", f)] for m in [u.module_from_spec(s)] \
	   if not s.loader.exec_module(m) and hasattr(m, "FilterModule") for n in m.FilterModule().filters()]') || exit 1; \
	for f in $$filters; do \
	  [ -f plugins/filter/$$f.yml ] || { echo "plugins/filter/$$f.yml is missing: document the filter $$f"; exit 1; }; \
	  ansible-doc -t filter pyweb.deploy.$$f >/dev/null || exit 1; echo "docs ok: filter $$f"; done; \
	! ansible-doc -t filter -l pyweb.deploy 2>&1 | grep -i undocumented

unit: setup ## unit tests of the collection's Python plugins
	python -m pytest -q tests/unit

units: setup ## the unit tests through ansible-test units (its own venv; about 1 min)
	tools/ansible-test-run units

sanity: setup ## ansible-test sanity (every test; about 1.5 min, 4 the first time)
	tools/ansible-test-run sanity

# The ansible-core versions the matrix checks, oldest first: each gets a venv under .cache/matrix
# (from PyPI, with the Python it needs from pyenv); the pinned one is .venv's. The oldest and the
# newest also run the deploy scenario MATRIX_SCENARIO (empty: none) with that ansible-core.
MATRIX ?= 2.15 2.16 2.17 2.18 2.19 2.20 2.21
MATRIX_SCENARIO ?= site_static
matrix: setup ## syntax, docs, unit tests per ansible-core; a real deploy on the oldest and newest (MATRIX="2.15 2.21")
	MATRIX_SCENARIO=$(MATRIX_SCENARIO) tools/matrix $(MATRIX)

test-env: ## make sure a Docker engine answers and the apt cache runs
	tools/ensure-docker.sh
	tools/ensure-apt-cache.sh

images: test-env ## build the systemd test images (only when their recipe changed)
	tools/build-images.sh $(PLATFORMS)

test: setup lint unit sanity test-env ## lint, unit tests, ansible-test sanity, then every Molecule scenario (SCENARIO=x for one, PLATFORMS=... to override, JOBS=n at once, default 2)
	tools/run-scenarios $(if $(PLATFORMS),--platforms "$(PLATFORMS)") $(if $(JOBS),--jobs $(JOBS)) $(SCENARIO)

demo: setup ## deploy the three example apps into a local container and show them
	tools/demo.sh

demo-clean: ## remove the demo container
	tools/demo.sh clean

build: setup ## build the collection tarball into build/ and check its file list
	ansible-galaxy collection build --force --output-path build .
	tools/check-tarball

importer: build ## galaxy-importer on the built tarball, clean of warnings (its own venv under .cache)
	tools/importer

changelog: setup ## CHANGELOG.rst for galaxy.yml's version from the fragments (kept; run it again any time)
	tools/changelog

# Checks only: it tags and publishes nothing.
release: setup ## check a release: version, changelog, lint, unit, sanity, build, galaxy-importer, docsite (publishes nothing)
	tools/release-check
	tools/changelog --check
	$(MAKE) --no-print-directory lint unit sanity build importer docs
	@echo "release $$(sed -n 's/^version: *//p' galaxy.yml) is ready: tag it and publish build/*.tar.gz by hand"

ee: build ## check execution-environment.yml: ansible-builder create (a separate venv under .cache)
	tools/ee-check

clean: ## remove build output and test logs
	rm -rf build .cache/test-logs

bench: setup ## benchmarks: deploy time and served speed vs. references (QUICK=1, PARTS="1 2 3", ARGS=...)
	python bench/bench.py $(if $(QUICK),--quick) $(if $(PARTS),--parts "$(PARTS)") $(ARGS)
