#!/usr/bin/env bash
# Puts `bookstore-lab` and the tools the lessons type (grpcurl; consul and ghz when built)
# on the user's PATH, so `bookstore-lab lesson day30` and the lessons' grpcurl lines work
# from any directory of a new shell. Called by `make build` (and so by `make lab` and
# `make test`) with the directory cargo just built into.
#
# Symlinks, not copies: a link into the target dir is current after every `make build`,
# and `bookstore-lab up` still finds the service binaries next to the real executable
# (Linux resolves the link in /proc/self/exe). A copy would start services from the
# checkout while itself staying at the version of the day it was copied.
#
# Where: $BOOKSTORE_BIN_DIR if set; else /usr/local/bin when writable (root, Homebrew
# macOS), which every default PATH has; else ~/.local/bin, with a hint when the current
# PATH lacks it. Idempotent; it replaces only its own links, never a real file, and leaves
# a tool alone that the PATH already finds elsewhere (a system grpcurl wins over ours).
set -euo pipefail

build_dir=${1:?usage: scripts/link-bin.sh <cargo target dir>/debug}
tools=${BOOKSTORE_TOOLS_DIR:-${HOME:-/tmp}/.cache/bookstore-lab/tools}

say() { printf '==> %s\n' "$*"; }

# Linking is a convenience: when there is nowhere to link (no HOME, as under some CI
# supervisors, and no writable /usr/local/bin) it says so and the build still succeeds.
if [ -n "${BOOKSTORE_BIN_DIR:-}" ]; then
  bin=$BOOKSTORE_BIN_DIR
elif [ -w /usr/local/bin ]; then
  bin=/usr/local/bin
elif [ -n "${HOME:-}" ]; then
  bin=$HOME/.local/bin
else
  say "no HOME and /usr/local/bin not writable: not linking (set BOOKSTORE_BIN_DIR)"
  exit 0
fi
mkdir -p "$bin" 2>/dev/null || { say "cannot create $bin: not linking"; exit 0; }

# link <name> <target>: bin/<name> -> target, unless something that is not our link is there.
link() {
  local name=$1 target=$2 at="$bin/$1"
  if [ -e "$at" ] && [ ! -L "$at" ]; then
    say "$at exists and is not a link; left alone (remove it to use $target)"
    return
  fi
  if ln -sfn "$target" "$at" 2>/dev/null; then
    say "linked $at -> $target"
  else
    say "cannot write $at; not linked"
  fi
}

[ -x "$build_dir/bookstore-lab" ] || { echo "error: $build_dir/bookstore-lab not built"; exit 1; }
# Absolute, so a relative CARGO_TARGET_DIR does not leave a link that dangles elsewhere.
build_dir=$(cd "$build_dir" && pwd)
link bookstore-lab "$build_dir/bookstore-lab"

for tool in grpcurl consul ghz; do
  [ -x "$tools/$tool" ] || continue
  found=$(command -v "$tool" 2>/dev/null || true)
  if [ -n "$found" ] && [ "$found" != "$bin/$tool" ]; then
    say "$tool already on PATH at $found; not linked"
    continue
  fi
  link "$tool" "$tools/$tool"
done

case ":$PATH:" in
  *":$bin:"*) ;;
  *)
    say "$bin is not on your PATH; add it (then open a new shell):"
    echo "      echo 'export PATH=\"$bin:\$PATH\"' >> ~/.bashrc   # or ~/.zshrc"
    ;;
esac
