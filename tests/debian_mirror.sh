#!/bin/bash
# Prints the Debian archive this machine's apt already uses (the URI of its source for this
# release's main suite), so that the sources the tests add (backports, bullseye) and the aarch64
# sysroot go through the same mirror and the project names no host itself.
set -euo pipefail
etc=${APT_ETC:-/etc/apt}  # another apt configuration folder, for the tests
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
uri=$(
    {
        # deb822 stanzas (*.sources): Types, URIs, Suites
        for f in "$etc"/sources.list.d/*.sources; do [ -f "$f" ] && cat "$f" && printf '\n\n'; done |
            awk -v suite="$codename" 'BEGIN { RS = ""; FS = "\n" }
                {
                    types = uris = suites = ""
                    for (i = 1; i <= NF; i++) {
                        if ($i ~ /^Types:/) types = " " substr($i, 7) " "
                        if ($i ~ /^URIs:/) uris = substr($i, 6)
                        if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
                    }
                    if (types ~ / deb / && suites ~ (" " suite " ")) { split(uris, u, " "); print u[1] }
                }'
        # one-line sources (sources.list, *.list): deb [options] URI SUITE COMPONENTS
        { cat "$etc"/sources.list "$etc"/sources.list.d/*.list 2>/dev/null || true; } |
            sed -e 's/\[[^]]*\]//' | awk -v suite="$codename" '$1 == "deb" && $3 == suite { print $2 }'
    } | head -n 1 || true
)
if [ -z "$uri" ]; then
    echo "debian_mirror.sh: no apt source for Debian $codename in $etc; add one first" >&2
    exit 1
fi
echo "${uri%/}"
