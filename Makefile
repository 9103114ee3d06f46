# headroom — build, test and demo entry points. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
APT_PKGS := pipewire pipewire-bin wireplumber libpipewire-0.3-dev libclang-dev clang pkg-config dbus sox tmux ffmpeg

.PHONY: all deps toolchain build release test lint fmt demo bench soak install uninstall clean

all: build

## deps: install the Debian packages headroom needs (idempotent, quiet when all are there)
deps: toolchain
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

## toolchain: make sure the pinned Rust toolchain (rust-toolchain.toml) resolves
toolchain:
	@scripts/ensure-toolchain.sh

build: deps
	$(CARGO) build --workspace --bins

release: deps
	$(CARGO) build --workspace --bins --release

fmt:
	$(CARGO) fmt --all

## lint: formatting and clippy, warnings are errors
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## test: lint, then every unit, property and PipeWire end-to-end test; then prove nothing was left running
test: lint
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace
	@scripts/no-leftovers.sh

## demo: play a loud/quiet programme straight and through headroom, show before/after loudness
demo: deps
	@scripts/demo.sh

## bench: criterion benchmarks (figures go to PLAN.md)
bench: deps
	$(CARGO) build --release -p headroomd -p headroom-cli
	$(CARGO) bench --workspace

## soak: 10 minutes at quantum 256 through the processed bus, expects 0 xruns (not in CI)
soak: release
	@scripts/soak.sh

## install: binaries to $(PREFIX)/bin (default ~/.local), the systemd user unit, completions, man page
install: release
	@scripts/install.sh

uninstall:
	@scripts/install.sh --uninstall

clean:
	$(CARGO) clean
