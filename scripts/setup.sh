#!/usr/bin/env bash
# Installs what bookstore-lab needs and is missing — nothing else, and nothing twice.
#   - MariaDB, Redis and tmux from the OS packages (Debian/Ubuntu: apt-get);
#   - Consul 1.16, grpcurl and ghz built from their Go modules into the tools folder
#     (${BOOKSTORE_TOOLS_DIR:-~/.cache/bookstore-lab/tools}), outside the clone so every
#     clone and every CI run reuses one build.
# Elsewhere it prints exactly what to install, or how to use compose.yaml instead.
set -euo pipefail

tools=${BOOKSTORE_TOOLS_DIR:-${HOME:-/tmp}/.cache/bookstore-lab/tools}
here=$(cd "$(dirname "$0")" && pwd)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]; }

say() { printf '==> %s\n' "$*"; }

missing=()
have mariadbd || have mysqld || missing+=(mariadb-server)
have redis-server || missing+=(redis-server)
have tmux || missing+=(tmux)

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else
      echo "error: need ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
      exit 1
    fi
    say "installing ${missing[*]} (apt-get)"
    $sudo apt-get update -qq
    # The packages' own services are not needed: the lab runs private instances.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "error: missing ${missing[*]}."
    echo "  macOS:  brew install mariadb redis tmux consul"
    echo "  other:  install MariaDB (or MySQL 8), Redis 7, tmux and Consul 1.16 with your package manager,"
    echo "          or run the servers with Docker: docker compose up -d mysql redis consul"
    echo "          and then: bookstore-lab up --external  (see README)"
    exit 1
  fi
else
  say "MariaDB, Redis and tmux are installed"
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x "$tools/consul" ] && [ -x "$tools/grpcurl" ] && [ -x "$tools/ghz" ]; then :; else
    echo "error: Go is needed once to build Consul, grpcurl and ghz (apt-get install golang, or https://go.dev/dl)"
    echo "       or use Consul from compose.yaml with --external"
    exit 1
  fi
fi

mkdir -p "$tools"
"$here/build-consul.sh" "$tools/consul"

if [ -x "$tools/grpcurl" ]; then
  say "grpcurl already built at $tools/grpcurl"
else
  say "building grpcurl from its Go module (first time only)"
  GOBIN="$tools" GOFLAGS=-mod=mod go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3
fi
# ghz, a gRPC load tester we did not write: the suite runs it against a server to prove
# that clients asking only for reflection v1alpha (ghz, older grpcurl, IDE plugins) work.
if [ -x "$tools/ghz" ]; then
  say "ghz already built at $tools/ghz"
else
  say "building ghz from its Go module (first time only)"
  GOBIN="$tools" GOFLAGS=-mod=mod go install github.com/bojand/ghz/cmd/ghz@v0.120.0
fi
say "tools ready in $tools"
