#!/usr/bin/env bash
# `make test`: start MariaDB, Redis and Consul once in a private stack directory (.lab-test,
# apart from the learner's .lab), run the whole suite against them, and always stop them.
set -euo pipefail
lab="$1"          # path of the bookstore-lab binary
dir=.lab-test

cleanup() { "$lab" --dir "$dir" down >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

echo "==> starting test infrastructure in $dir"
"$lab" --dir "$dir" up --infra-only
eval "$("$lab" --dir "$dir" env)"
export BOOKSTORE_TOOLS_DIR=${BOOKSTORE_TOOLS_DIR:-${HOME:-/tmp}/.cache/bookstore-lab/tools}

echo "==> cargo test --workspace"
# A hung test must fail the run, not eat CI's whole 90 minutes: 45 is far above a normal
# run (a few minutes warm) and leaves room for a cold build before it.
timeout --signal=INT 45m cargo test --workspace --no-fail-fast
