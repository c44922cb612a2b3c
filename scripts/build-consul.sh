#!/usr/bin/env bash
# Builds Consul (the version the course uses) from HashiCorp's Go module, once.
#
# Why this dance: Consul's root go.mod has `replace ./api`, `./sdk`, … directives that point
# at nested modules, and a module zip never contains nested modules, so a plain
# `go install github.com/hashicorp/consul@vX` fails. We copy the module into a scratch
# directory, drop those local replaces (the required versions listed in the same go.mod are
# the ones released together with it) and build there.
#
# Usage: build-consul.sh <output-binary>
set -euo pipefail
out=${1:?usage: build-consul.sh <output-binary>}
version=${CONSUL_VERSION:-v1.16.6}

if [ -x "$out" ] && "$out" version 2>/dev/null | grep -q "Consul ${version}"; then
  echo "consul ${version} already built at ${out}"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is required to build Consul (or run it via compose.yaml)"; exit 1; }

echo "==> building Consul ${version} from its Go module (first time only, a few minutes)"
dir=$(go mod download -json "github.com/hashicorp/consul@${version}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "error: go mod download of consul ${version} failed"; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir"/. "$work"/
chmod -R u+w "$work"
cd "$work"
# Two nested modules (envoyextensions, troubleshoot) are served by the module proxy but
# unknown to the checksum database (its lookup answers 404), so they alone skip that check.
export GONOSUMDB="github.com/hashicorp/consul/envoyextensions,github.com/hashicorp/consul/troubleshoot"
for m in api envoyextensions proto-public sdk troubleshoot; do
  go mod edit -dropreplace "github.com/hashicorp/consul/${m}"
done
# The tagged tree also uses `troubleshoot/ports`, a package that no troubleshoot release of
# the 1.16 line contains (it first ships in troubleshoot v0.6.0, whose other dependencies are
# a release newer). It is pure standard library, so we rebuild the nested module locally:
# the pinned troubleshoot release plus that one package, and point a replace at it.
tver=$(go list -m -f '{{.Version}}' github.com/hashicorp/consul/troubleshoot 2>/dev/null || true)
[ -n "$tver" ] || tver=$(sed -n 's/^\tgithub.com\/hashicorp\/consul\/troubleshoot \(v[^ ]*\)$/\1/p' go.mod)
tdir=$(go mod download -json "github.com/hashicorp/consul/troubleshoot@${tver}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
pdir=$(go mod download -json "github.com/hashicorp/consul/troubleshoot@v0.6.0" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
cp -r "$tdir" ./troubleshoot-local
chmod -R u+w ./troubleshoot-local
cp -r "$pdir/ports" ./troubleshoot-local/ports
rm -f ./troubleshoot-local/ports/*_test.go
go mod edit -replace=github.com/hashicorp/consul/troubleshoot=./troubleshoot-local
mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out" .
"$out" version | head -1
