#!/bin/bash
# System tools that the tests drive for real, installed by `make test` on a fresh Debian
# bookworm machine (as root): headless Chromium (HTML report), openssh-server and -client (bench
# over ssh), adb (bench over adb), kotlin 1.3 and junit4 (the Android demo's pure part and its
# JVM tests), aapt2, zipalign, apksigner and zip, with bullseye's android.jar (API 23) and dx
# (dalvik-exchange), pinned low (an offline APK), mmdebstrap (aarch64 sysroot), qemu-user 10 from
# bookworm-backports (bookworm's own 7.2 segfaults and miscomputes int8 with XNNPACK), and the
# adbd daemon from bookworm-backports, extracted into $1 rather than installed (it conflicts
# with bookworm's adb packages).
set -euo pipefail
ADBD_DIR=${1:?usage: system_tools.sh ADBD_DIR}
export DEBIAN_FRONTEND=noninteractive
BACKPORTS=/etc/apt/sources.list.d/antispoof-backports.sources

missing=()
for tool in chromium:chromium sshd:openssh-server ssh:openssh-client adb:adb mmdebstrap:mmdebstrap \
        kotlinc:kotlin; do
    command -v "${tool%%:*}" >/dev/null || [ -x "/usr/sbin/${tool%%:*}" ] || missing+=("${tool#*:}")
done
[ -f /usr/share/java/junit4.jar ] || missing+=(junit4)
for tool in aapt2:aapt zipalign:zipalign apksigner:apksigner zip:zip; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
BULLSEYE=/etc/apt/sources.list.d/antispoof-bullseye.sources
if ! command -v dalvik-exchange >/dev/null || [ ! -f /usr/lib/android-sdk/platforms/android-23/android.jar ]; then
    if [ ! -f "$BULLSEYE" ]; then
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bullseye\n%s\n%s\n' \
            "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" > "$BULLSEYE"
        printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' \
            > /etc/apt/preferences.d/antispoof-bullseye
    fi
    need_bullseye=1
fi
qemu_major=$(qemu-aarch64 --version 2>/dev/null | sed -n 's/^qemu-aarch64 version \([0-9]*\).*/\1/p')
if [ "${qemu_major:-0}" -lt 10 ] || [ ! -x "$ADBD_DIR/usr/lib/android-sdk/platform-tools/adbd" ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\n%s\n%s\n' \
            "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" > "$BACKPORTS"
    fi
    need_backports=1
fi
if [ ${#missing[@]} -gt 0 ] || [ -n "${need_backports:-}" ] || [ -n "${need_bullseye:-}" ]; then
    apt-get update -qq
    # adbd's own shared-library dependencies (regular bookworm packages)
    apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        libprotobuf32 liblz4-1 libbrotli1 libzstd1 libsystemd0 >/dev/null
fi
if [ -n "${need_bullseye:-}" ]; then
    apt-get install -y -qq --no-install-recommends libandroid-23-java dalvik-exchange >/dev/null
fi
if [ "${qemu_major:-0}" -lt 10 ]; then
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user >/dev/null
fi
if [ ! -x "$ADBD_DIR/usr/lib/android-sdk/platform-tools/adbd" ]; then
    debs=$(mktemp -d)
    chmod 777 "$debs"
    (cd "$debs" && apt-get download -qq -t bookworm-backports adbd android-libbase \
        android-libcutils android-liblog android-libboringssl 2>/dev/null)
    mkdir -p "$ADBD_DIR"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$ADBD_DIR"; done
    rm -rf "$debs"
fi
