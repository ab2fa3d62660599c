# jetpool: build, test, demo. `make demo` and `make test` are the two
# commands a fresh Debian machine with Docker needs; both install what is
# missing first (nats-server, Prometheus, docker-compose, Chromium for the
# status page test) through `make deps`.

CARGO        ?= cargo
TARGET       := x86_64-unknown-linux-gnu
STATIC_BIN   := target/$(TARGET)/release/jetpool
IMAGE        ?= jetpool:local
# Run as root in CI; use sudo elsewhere when it is there.
SUDO         := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo)

.PHONY: all build static image compose-images deps test lint unit demo compose-demo fuzz clean

all: build

## build: debug build of the jetpool binary
build:
	$(CARGO) build

## static: release build, statically linked (for the FROM scratch image)
static:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --target $(TARGET)

## image: the jetpool:local image (one static binary, no base image)
image: static
	docker build -q -t $(IMAGE) . >/dev/null
	@echo "built image $(IMAGE)"

## compose-images: NATS and Prometheus images built FROM scratch around
## Debian's binaries, for the compose stack on machines without a registry
compose-images: deps
	./compose/images.sh

## deps: install what the tests and the demo need, if missing
deps:
	@missing=""; \
	command -v nats-server >/dev/null 2>&1 || missing="$$missing nats-server"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v fuse-overlayfs >/dev/null 2>&1 || missing="$$missing fuse-overlayfs"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@docker info >/dev/null 2>&1 || { echo "error: the Docker daemon does not answer (is dockerd running, and may this user use it?)"; exit 1; }

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## test: lint, then every test (unit, loop, integration with real NATS,
## Docker, docker-compose and Prometheus)
test: deps image compose-images lint
	JETPOOL_IMAGE=$(IMAGE) $(CARGO) test --all-targets -- --test-threads=4

## unit: the fast tests only (no NATS, no Docker)
unit:
	$(CARGO) test --lib

## demo: start NATS, run jetpool on a demo pool, send a burst, watch it scale out and back
demo: deps image
	JETPOOL_BIN=$(STATIC_BIN) JETPOOL_IMAGE=$(IMAGE) ./compose/demo.sh

## compose-demo: the compose stack on local images (the script builds the NATS
## and Prometheus ones): scales the labelled agent service out for a burst
## and back, shows `docker-compose ps`, tears it down
compose-demo: deps image
	JETPOOL_IMAGE=$(IMAGE) ./compose/compose-demo.sh

## fuzz: each fuzz target (tests/fuzz: the policy parser, the compose label
## parser, the agent stats decoder) for FUZZ_SECONDS on the nightly toolchain
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := policy compose_labels stats
fuzz:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
		mkdir -p tests/fuzz/corpus/$$t; \
		$(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz $$t tests/fuzz/corpus/$$t tests/fuzz/seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

clean:
	$(CARGO) clean

-include bench/bench.mk
