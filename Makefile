# bookstore-lab — the two commands a learner needs:
#   make lab    install what is missing, build, start the stack and open the lab
#   make test   the same set-up, then the whole test suite against real MariaDB/Redis/Consul
# Both are idempotent and print what they do. `make build` (and so both) also links
# bookstore-lab, grpcurl and the other lesson tools onto your PATH (scripts/link-bin.sh).

CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
LAB := $(TARGET_DIR)/debug/bookstore-lab

.PHONY: lab test setup build link up down status lint fmt clean-lab

setup:
	@scripts/setup.sh

build: setup
	@echo "==> cargo build --workspace"
	@$(CARGO) build --workspace --bins
	@scripts/link-bin.sh $(TARGET_DIR)/debug

link:
	@scripts/link-bin.sh $(TARGET_DIR)/debug

lab: build
	@$(LAB) up
	@$(LAB)

test: build
	@scripts/test.sh $(LAB)

up: build
	@$(LAB) up

down:
	@$(LAB) down

status:
	@$(LAB) status

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-lab: down
	rm -rf .lab .lab-test
