#!/usr/bin/env bash
# Install the Debian packages a target needs, only when they are missing.
#   scripts/system-deps.sh demo   -> Python venv support
#   scripts/system-deps.sh test   -> plus GDAL tools, GRASS and QGIS (reference outputs, plugin tests)
set -euo pipefail
target=${1:-demo}
packages=()
python3 -c "import ensurepip, venv" 2>/dev/null || packages+=(python3-venv)
if [ "$target" = test ]; then
  command -v gdaldem >/dev/null || packages+=(gdal-bin)
  command -v grass >/dev/null || packages+=(grass-core)
  [ -x /usr/bin/qgis_process.bin ] || packages+=(qgis)
  /usr/bin/python3 -c "import qgis.core" 2>/dev/null || packages+=(python3-qgis)
  command -v Xvfb >/dev/null || packages+=(xvfb)
fi
[ ${#packages[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${packages[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root (or sudo) to apt-get install ${packages[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
