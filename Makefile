# headroom — build, test and demo entry points. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
APT_PKGS := pipewire pipewire-bin wireplumber libpipewire-0.3-dev libclang-dev clang pkg-config dbus sox tmux ffmpeg

.PHONY: all deps toolchain build release test check lint fmt demo bench soak soak-32 eval sweep install uninstall deb clean

all: build

## deps: install the Debian packages headroom needs (idempotent, quiet when all are there)
deps: toolchain
	@scripts/apt-ensure.sh $(APT_PKGS)

## toolchain: make sure the pinned Rust toolchain (rust-toolchain.toml) resolves
toolchain:
	@scripts/ensure-toolchain.sh

build: deps
	$(CARGO) build --workspace --bins

release: deps
	$(CARGO) build --workspace --bins --release

fmt:
	$(CARGO) fmt --all

## lint: formatting, clippy and the API docs, warnings are errors
lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

## check: the edit loop — lint, then every test that needs no PipeWire (unit, property, golden,
## control-plane and engine tests); the end-to-end sandbox tests are left to `make test`
check: lint
	$(CARGO) test --workspace --exclude headroom-tests -- --skip live::

## test: lint, then every unit, property and PipeWire end-to-end test; then prove nothing was left running
test: lint
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast
	$(CARGO) test -p headroom-core --bench chain
	HEADROOM_FOOTPRINT_SMOKE=1 $(CARGO) test -p headroom-tests --bench daemon_footprint
	$(CARGO) test -p headroom-cli --bench offline
	@scripts/no-leftovers.sh

## demo: play a loud/quiet programme straight and through headroom, show before/after loudness
demo: deps
	@scripts/demo.sh

## bench: criterion benchmarks and the daemon footprint (figures go to BENCHMARKS.md)
bench: deps
	$(CARGO) build --release -p headroomd -p headroom-cli
	$(CARGO) bench --workspace

## soak: 10 minutes at quantum 256 through the processed bus with the release build, expects
## 0 xruns (not in CI)
soak: deps
	@scripts/soak.sh

## soak-32: 60 s at quantum 256 with 32 application streams playing at once, each tapped by
## Layer A, with the release build; expects 0 xruns (not in CI)
soak-32: deps
	@HEADROOM_SOAK_SECS=$${HEADROOM_SOAK_SECS:-60} HEADROOM_SOAK_STREAMS=32 scripts/soak.sh

## eval: the levelling evaluation — programmes from recorded and synthetic material rendered
## through every profile and measured (not part of `make test`; see README "Evaluating the levelling")
eval: deps
	@scripts/eval.sh

## sweep: user profiles at the edges of their documented ranges, rendered (programmes of
## `make eval` and synthetic signals) and measured with ffmpeg and `headroom analyze` (not in CI)
sweep: deps
	$(CARGO) build --release -p headroom-cli
	@scripts/profile-sweep.py $(SWEEP_ARGS)

## install: binaries to $(PREFIX)/bin (default ~/.local), the systemd user unit, completions, man page
install: release
	@scripts/install.sh

uninstall:
	@scripts/install.sh --uninstall

## deb: a Debian package (target/deb/headroom_VERSION_ARCH.deb) of the release build, checked
## with lintian (no errors allowed) when it is installed
deb: release
	@scripts/deb.sh

clean:
	$(CARGO) clean
