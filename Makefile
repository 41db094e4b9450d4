# Sekisho — the two commands: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
VENV := .venv
PY := $(VENV)/bin/python
export SEKISHO_CORPORA ?= $(abspath ../shared/corpora)
# Tests that would skip for want of an input (corpora, Redis) fail instead under make test.
export SEKISHO_REQUIRE_ALL ?= 1
# Where cargo puts binaries (honours CARGO_TARGET_DIR, as cargo does).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: run build test deps builddeps sysdeps pydeps lint rust-test compat-test bench loadtest clean-demo

## Start Sekisho on the demo config with the embedded store (http://127.0.0.1:8080).
run: builddeps
	$(CARGO) build --release --bin sekisho
	mkdir -p var/demo
	$(TARGET_DIR)/release/sekisho serve --config config/demo.toml

## Install what is missing, then run every test (lint, Rust unit/integration/e2e, Redis, pytest).
test: deps lint rust-test compat-test

deps: sysdeps pydeps

# System packages (Debian). To build: pkg-config/libssl/libxml2/libxmlsec1/clang for the SAML
# stack (samael's bindings are generated with libclang). To test, as well: Redis for the
# shared-store tests, Python for the compat suite, xmlsec1 for the signed SAML fixtures, Chromium
# and its driver for the browser sign-in tests (selenium).
BUILD_PKGS := pkg-config libssl-dev libxml2-dev libxmlsec1-dev libxmlsec1-openssl clang libclang-dev
SYS_PKGS := $(BUILD_PKGS) redis-server python3 python3-venv python3-pip xmlsec1 chromium \
            chromium-driver
# Installs (apt, as root or through sudo) those of $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef
builddeps:
	$(call apt_install,$(BUILD_PKGS))
sysdeps:
	$(call apt_install,$(SYS_PKGS))

pydeps: $(VENV)/.installed
$(VENV)/.installed: tests/compat/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r tests/compat/requirements.txt
	touch $@

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

rust-test:
	scripts/with-redis.sh $(CARGO) test --all-targets

compat-test:
	$(CARGO) build --bin sekisho
	scripts/with-redis.sh $(VENV)/bin/pytest -q tests/compat

## Criterion benchmarks (SigV4, token, policy).
bench: builddeps
	$(CARGO) bench --bench sigv4 --bench token --bench policy

## Load test: Sekisho vs a minimal axum floor server, in the same run.
loadtest: builddeps
	$(CARGO) build --release --bin sekisho --bin sekisho-loadgen
	$(TARGET_DIR)/release/sekisho-loadgen --seconds 10

clean-demo:
	rm -rf var/demo
	rmdir var 2>/dev/null || true
