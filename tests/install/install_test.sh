#!/usr/bin/env bash
# Installs zen from a build tree into a temporary prefix, then builds a small program
# against it twice — with pkg-config (static and shared) and with CMake's find_package —
# and runs each. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"

# shared library
cc -o "$prefix/consumer" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs zen)
LD_LIBRARY_PATH="$libdir" "$prefix/consumer"

# static library (libzen.a; its own dependencies from Libs.private)
cc -o "$prefix/consumer_static" "$src/tests/install/consumer.c" $(pkg-config --cflags zen) \
  -L"$libdir" -Wl,-Bstatic -lzen -Wl,-Bdynamic $(pkg-config --static --libs zen | sed 's/-lzen//')
"$prefix/consumer_static" "$src/tests/install/consumer.c" $(pkg-config --cflags zen) \
  "$libdir/libzen.a" $(pkg-config --libs-only-other --static zen | sed 's/-lzen//') \
  $(pkg-config --static --libs zen | sed 's/-L[^ ]*//; s/-lzen//')
"$prefix/consumer_static"

# CMake package
cmake -S "$src/tests/install/cmake_consumer" -B "$prefix/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/cm/consumer_cmake"
echo "install test: pkg-config (shared, static) and find_package consumers built and ran"
