#!/usr/bin/env bash
# Install the Debian packages that hold the course's offline data, only those that are missing.
# Called by `make data` (so by `make run`, `make test` and `make lab`) and so by .ci/run: one place.
#   dataset-fashion-mnist    Fashion-MNIST (notebooks 03, 04)
#   tuxpaint-stamps-default  animal photo cut-outs (notebooks 05a, 05b)
#   gcompris-qt-data         1024x768 animal photos in Qt resource bundles (notebooks 05a, 05b)
#   bubblewrap               the sandbox `tools/notebooks.py grade` runs each submission in (tools/grading/)
# As root it runs apt-get itself, otherwise `sudo -n` where that works without a password; otherwise
# it stops with one line naming the command to run. `apt-get update` runs only when apt has no
# candidate for a missing package. Not Debian/Ubuntu (no apt-get, dpkg-query): says so and exits 0;
# helpers.prepare then downloads Fashion-MNIST (when online) and says what the doggy-door data needs.
# SYSTEM_PACKAGES=skip skips this script (e.g. `make run SYSTEM_PACKAGES=skip`).
set -euo pipefail

PACKAGES=(dataset-fashion-mnist tuxpaint-stamps-default gcompris-qt-data bubblewrap)

if [ "${SYSTEM_PACKAGES:-}" = skip ]; then
    echo "system packages: skipped (SYSTEM_PACKAGES=skip)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system packages: not a Debian/Ubuntu system (no apt-get), so ${PACKAGES[*]} are not installed;" \
         "Fashion-MNIST will be downloaded by torchvision when online, and the doggy-door photos must come" \
         "from Oxford-IIIT Pet (online) or your own photos (see README, Platforms)."
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: ${PACKAGES[*]} already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    AS=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS=(sudo -n)
else
    echo "system packages missing: ${missing[*]}; run \`sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}\` and then make again" >&2
    exit 1
fi

# apt-get update only when apt knows no candidate for one of the missing packages (fresh images
# often ship without package lists)
for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
        echo "system packages: apt has no candidate for $pkg; running apt-get update"
        "${AS[@]}" apt-get update -q
        break
    fi
done
echo "system packages: installing ${missing[*]}"
"${AS[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
