#!/bin/bash
# An APK built and signed without Gradle or the Android SDK, from Debian's tools: kotlinc 1.3
# (the pure part), javac -source 8 against bullseye's android.jar (API 23), dx (bullseye's
# dalvik-exchange), aapt2, zipalign and apksigner. It holds the pure part and a self-test
# activity, not the inference: LiteRT's AAR comes only from Google's Maven.
#
#   android_demo/offline_apk/build.sh OUT_DIR      → OUT_DIR/antispoof-selftest.apk
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
ANDROID_JAR=/usr/lib/android-sdk/platforms/android-23/android.jar
STDLIB=/usr/share/java/kotlin-stdlib.jar
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

kotlinc "$HERE/../core/src/main/kotlin" -d "$WORK/core.jar" 2>/dev/null
mkdir -p "$WORK/classes"
javac -nowarn -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -cp "$WORK/core.jar:$STDLIB" \
    -d "$WORK/classes" "$HERE/src/org/antispoof/selftest/SelfTestActivity.java" 2>/dev/null
# the stdlib's Java 9 module descriptor is not for dx
mkdir -p "$WORK/stdlib" && (cd "$WORK/stdlib" && jar xf "$STDLIB" && rm -rf META-INF/versions)
dalvik-exchange --dex --min-sdk-version=23 --output="$WORK/classes.dex" \
    "$WORK/classes" "$WORK/core.jar" "$WORK/stdlib"
aapt2 link -o "$WORK/unaligned.apk" -I "$ANDROID_JAR" --manifest "$HERE/AndroidManifest.xml" 2>/dev/null
(cd "$WORK" && zip -q unaligned.apk classes.dex)
zipalign -f 4 "$WORK/unaligned.apk" "$WORK/aligned.apk"
keytool -genkeypair -keystore "$WORK/debug.jks" -storepass android -keypass android \
    -alias debug -keyalg RSA -keysize 2048 -validity 30 -dname "CN=antispoof self-test" >/dev/null 2>&1
apksigner sign --ks "$WORK/debug.jks" --ks-pass pass:android --out "$OUT/antispoof-selftest.apk" \
    "$WORK/aligned.apk"
echo "$OUT/antispoof-selftest.apk"
