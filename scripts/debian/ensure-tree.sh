#!/usr/bin/env bash
# Prints the path of the cached Debian tree (bookworm or trixie) for tests/debian, building it
# first when the recipe (build-tree.sh) changed or the cache is empty.
# Usage: ensure-tree.sh <cache root, e.g. .cache/debian> [nspawn|vm] [bookworm|trixie]
#
# Cache layout: <root>/<suite>-<flavor>-<12 hex of sha256(build-tree.sh + flavor + suite)>/ (the
# tree, read-only lower dir of every test server's overlay), <root>/debs/ (debootstrap's .deb
# cache, shared by the suites — file names carry versions —, so a recipe change does not
# download everything again). Several test files may call this at once: one builds under an
# flock (one lock for all suites, as they share the .deb cache), the others wait and then reuse
# the result. A tree is published by an atomic rename only once complete; stale trees of older
# recipes of the same suite and flavor are deleted unless a running test server still uses them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:?usage: ensure-tree.sh <cache root> [nspawn|vm] [bookworm|trixie]}
flavor=${2:-nspawn}
suite=${3:-bookworm}
case $suite in
  bookworm | trixie) ;;
  *) echo "unknown suite $suite (bookworm|trixie)" >&2; exit 1 ;;
esac
mkdir -p "$root"
root=$(realpath "$root")
hash=$( { cat "$here/build-tree.sh"; echo "flavor=$flavor"; echo "suite=$suite"; } | sha256sum | cut -c1-12)
tree="$root/$suite-$flavor-$hash"

exec 9>"$root/.lock"
if [ ! -f "$tree/.complete" ]; then
  echo "Waiting for the Debian tree build lock ($root/.lock)…" >&2
  flock -w 1800 9 || { echo "timed out waiting for $root/.lock" >&2; exit 1; }
  if [ ! -f "$tree/.complete" ]; then
    started=$(date +%s)
    tmp="$tree.build-$$"
    rm -rf "$tree" "$root"/"$suite"-"$flavor"-*.build-*
    if ! bash "$here/build-tree.sh" "$tmp" "$root/debs" "$flavor" "$suite"; then
      rm -rf "$tmp"
      echo "building the Debian tree failed (see above)" >&2
      exit 1
    fi
    echo "$hash built in $(($(date +%s) - started)) s on $(date -u +%FT%TZ)" >"$tmp/.complete"
    mv -T "$tmp" "$tree"
    echo "Debian $suite tree built in $(($(date +%s) - started)) s: $tree" >&2
    # Older recipes: delete unless an overlay still uses one as its lower dir.
    for old in "$root"/"$suite"-"$flavor"-* "$root"/bookworm-[0-9a-f]*; do
      [ "$old" = "$tree" ] && continue
      [ -d "$old" ] || continue
      if grep -qF "lowerdir=$old" /proc/self/mounts; then continue; fi
      rm -rf "$old"
    done
  fi
  flock -u 9
fi
echo "$tree"
