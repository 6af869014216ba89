#!/usr/bin/env bash
# Unpack the BSD sample videos of Debian's opencv-doc (vtest.avi, tree.avi, Megamind.avi)
# into data/footage/. Needs Debian's package archive (apt-get); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data/footage
if [ -f "$dest/vtest.avi" ]; then echo "footage already in $dest"; exit 0; fi
echo "fetching the sample footage (Debian's opencv-doc package)..."
mkdir -p "$dest" build/deb
if [ -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ]; then
  src=/usr/share/doc/opencv-doc/examples/data
else
  (cd build/deb && { apt-get download opencv-doc >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get download opencv-doc >/dev/null; }; })
  dpkg -x build/deb/opencv-doc_*.deb build/deb/x
  src=build/deb/x/usr/share/doc/opencv-doc/examples/data
fi
cp "$src"/vtest.avi "$src"/tree.avi "$src"/Megamind.avi "$dest"/
rm -rf build/deb   # the package (~386 MB unpacked) was only needed for these three files
rmdir build 2>/dev/null || true
echo "footage ready in $dest: $(ls "$dest" | tr '\n' ' ')"
