#!/bin/bash
# System tools that the tests drive for real, installed by `make test` on a fresh Debian
# bookworm machine (as root): headless Chromium (HTML report, web page), Node.js and npm (the
# web page's bundle), openssh-server and -client (bench over ssh), adb (bench over adb), kotlin
# 1.3 and junit4 (the Android demo's pure part and its JVM tests), aapt2, zipalign, apksigner
# and zip, with bullseye's android.jar (API 23) and dx (dalvik-exchange), pinned low (an
# offline APK), mmdebstrap (aarch64 sysroot), qemu-user 10 from bookworm-backports (bookworm's
# own 7.2 segfaults and miscomputes int8 with XNNPACK), and the adbd daemon from
# bookworm-backports, extracted into $1 rather than installed (it conflicts with bookworm's adb
# packages).
set -euo pipefail
# usage: system_tools.sh ADBD_DIR [--dry-run]   (--dry-run: print what is missing, change nothing)
ADBD_DIR=${1:?usage: system_tools.sh ADBD_DIR [--dry-run]}
DRY_RUN=${2:-}
export DEBIAN_FRONTEND=noninteractive
BACKPORTS=/etc/apt/sources.list.d/antispoof-backports.sources
BULLSEYE=/etc/apt/sources.list.d/antispoof-bullseye.sources
MIRROR=$(bash "$(dirname "$0")/debian_mirror.sh")  # the archive this machine's apt already uses

# What is missing, decided before anything is written.
missing=()
for tool in chromium:chromium sshd:openssh-server ssh:openssh-client adb:adb mmdebstrap:mmdebstrap \
        kotlinc:kotlin; do
    command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] || missing+=("${tool#*:}")
done
[ -f /usr/share/java/junit4.jar ] || missing+=(junit4)
# Node.js with npm: the archive's nodejs carries npm where it comes from NodeSource (and
# conflicts with Debian's npm package); Debian's own needs its npm package beside it
{ command -v node && command -v npm; } >/dev/null || need_node=1
for tool in aapt2:aapt zipalign:zipalign apksigner:apksigner zip:zip; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ! command -v dalvik-exchange >/dev/null || [ ! -f /usr/lib/android-sdk/platforms/android-23/android.jar ]; then
    need_bullseye=1
fi
# no qemu yet: the version is empty (not an error that would stop the script here)
qemu_major=$( { qemu-aarch64 --version 2>/dev/null || true; } |
    sed -n 's/^qemu-aarch64 version \([0-9]*\).*/\1/p')
[ "${qemu_major:-0}" -ge 10 ] || need_qemu=1
[ -x "$ADBD_DIR/usr/lib/android-sdk/platform-tools/adbd" ] || need_adbd=1

if [ "$DRY_RUN" = --dry-run ]; then
    echo "mirror: $MIRROR"
    echo "missing: ${missing[*]}${need_node:+ nodejs npm}${need_bullseye:+ libandroid-23-java dalvik-exchange}${need_qemu:+ qemu-user}${need_adbd:+ adbd}"
    exit 0
fi

if [ -n "${need_bullseye:-}" ] && [ ! -f "$BULLSEYE" ]; then
    printf 'Types: deb\nURIs: %s\nSuites: bullseye\n%s\n%s\n' "$MIRROR" \
        "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" > "$BULLSEYE"
    printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' \
        > /etc/apt/preferences.d/antispoof-bullseye
fi
if { [ -n "${need_qemu:-}" ] || [ -n "${need_adbd:-}" ]; } &&
        ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\n%s\n%s\n' "$MIRROR" \
        "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" > "$BACKPORTS"
fi
if [ ${#missing[@]} -gt 0 ] || [ -n "${need_node:-}${need_bullseye:-}${need_qemu:-}${need_adbd:-}" ]; then
    apt-get update -qq
    # adbd's own shared-library dependencies (regular bookworm packages)
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        libprotobuf32 liblz4-1 libbrotli1 libzstd1 libsystemd0 >/dev/null
fi
if [ -n "${need_node:-}" ]; then
    apt-get install -y -qq --no-install-recommends nodejs >/dev/null
    command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
if [ -n "${need_bullseye:-}" ]; then
    apt-get install -y -qq --no-install-recommends libandroid-23-java dalvik-exchange >/dev/null
fi
if [ -n "${need_qemu:-}" ]; then
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user >/dev/null
fi
if [ -n "${need_adbd:-}" ]; then
    debs=$(mktemp -d)
    chmod 777 "$debs"
    (cd "$debs" && apt-get download -qq -t bookworm-backports adbd android-libbase \
        android-libcutils android-liblog android-libboringssl 2>/dev/null)
    mkdir -p "$ADBD_DIR"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$ADBD_DIR"; done
    rm -rf "$debs"
fi
