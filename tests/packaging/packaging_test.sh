#!/usr/bin/env bash
# packaging_test.sh CASE: one case per ctest test (tests/packaging/CMakeLists.txt sets the
# LOSSLAB_* variables below).
#
#   desktop-file    the desktop entry passes desktop-file-validate and names the program and icon
#   metainfo        the AppStream metainfo passes `appstreamcli validate --no-net`, launches
#                   the desktop entry and lists this version as its newest release
#   icon-png        the icon rendered at build time is a 256x256 RGBA PNG, newer than its SVG
#   install-prefix  `cmake --install` into a scratch prefix; the installed programs work there
#   deb             `cpack -G DEB`: the package's fields, dependencies and files, and the
#                   programs unpacked from it
#
# "The programs work" (check_installed_tree) means, from a clean environment (no
# LD_LIBRARY_PATH, no LOSSLAB_PLUGIN_PATH): --version and `tasks` run, the task list comes from
# the installed plugin, liblosslab-core comes from the installed tree through the RPATH, no
# RPATH points into the build or source tree, and presets are read from the installed copy.
set -euo pipefail

case_name=${1:?usage: packaging_test.sh CASE}
src=${LOSSLAB_SOURCE_DIR:?}
build=${LOSSLAB_BUILD_DIR:?}
version=${LOSSLAB_VERSION:?}
libdir=${LOSSLAB_LIBDIR:?}
plugin_subdir=${LOSSLAB_PLUGIN_SUBDIR:?}
datadir=${LOSSLAB_DATADIR:?}
installs_gui=${LOSSLAB_INSTALLS_GUI:-OFF}
app_id=io.github.losslab.LossLab
desktop_file=$src/resources/desktop/$app_id.desktop
metainfo_file=$src/resources/metainfo/$app_id.metainfo.xml

scratch=$(mktemp -d "${TMPDIR:-/tmp}/losslab-packaging.XXXXXX")
scratch=$(realpath "$scratch")   # the programs see their real path (/proc/self/exe)
trap 'rm -rf "$scratch"' EXIT

fail() {
  echo "FAIL ($case_name): $*" >&2
  exit 1
}

need_tool() {
  command -v "$1" >/dev/null || fail "$1 is not installed (Debian package $2; scripts/install-deps.sh installs it)"
}

# As from a fresh login: no LD_LIBRARY_PATH, no LOSSLAB_PLUGIN_PATH, nothing from the caller.
clean_env() {
  env -i PATH=/usr/bin:/bin HOME="$scratch/home" OMP_NUM_THREADS=1 "$@"
}

is_on() {
  [[ $1 =~ ^(ON|on|1|TRUE|true|YES|yes)$ ]]
}

# check_library_resolution ELF PREFIX: liblosslab-core comes from PREFIX, nothing is missing.
check_library_resolution() {
  local elf=$1 prefix=$2 resolved
  resolved=$(clean_env ldd "$elf") || fail "ldd $elf failed"
  if grep -q 'not found' <<<"$resolved"; then
    fail "$elf: libraries not found without LD_LIBRARY_PATH:"$'\n'"$(grep 'not found' <<<"$resolved")"
  fi
  local core
  core=$(awk '/liblosslab-core/ {print $3}' <<<"$resolved")
  if [[ -n $core && $(realpath -m "$(dirname "$core")") != "$(realpath -m "$prefix/$libdir")" ]]; then
    fail "$elf: liblosslab-core does not come from $prefix/$libdir:"$'\n'"$(grep liblosslab-core <<<"$resolved")"
  fi
}

# check_rpath ELF: no RUNPATH/RPATH entry points into the build or source tree.
check_rpath() {
  local elf=$1 rpath
  rpath=$(readelf -d "$elf" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
  [[ -n $rpath ]] || fail "$elf: no RUNPATH; it needs \$ORIGIN/../$libdir to find liblosslab-core"
  local entry
  IFS=: read -ra entries <<<"$rpath"
  for entry in "${entries[@]}"; do
    [[ -n $entry ]] || fail "$elf: RUNPATH '$rpath' has an empty entry (searches the current folder)"
    [[ $entry != "$build"* && $entry != "$src"* ]] || fail "$elf: RUNPATH '$rpath' points into the build or source tree"
  done
}

# check_installed_tree PREFIX: the installed programs work from PREFIX alone.
check_installed_tree() {
  local prefix=$1
  local cli=$prefix/bin/losslab-cli
  [[ -x $cli ]] || fail "$cli: not installed"

  local out
  out=$(clean_env "$cli" --version 2>&1) || fail "losslab-cli --version exited $?: $out"
  [[ $out == "losslab-cli $version" ]] || fail "losslab-cli --version printed '$out', expected 'losslab-cli $version'"

  clean_env "$cli" tasks >"$scratch/tasks.out" 2>"$scratch/tasks.err" ||
    fail "losslab-cli tasks exited $?: $(cat "$scratch/tasks.err")"
  for task in fashion_mnist/mlp fashion_mnist/cnn mnist/mlp cifar10/wrn; do
    grep -q "^$task " "$scratch/tasks.out" || fail "losslab-cli tasks does not list $task:"$'\n'"$(cat "$scratch/tasks.out" "$scratch/tasks.err")"
  done
  clean_env "$cli" tasks --verbose >/dev/null 2>"$scratch/verbose.err" || fail "losslab-cli tasks --verbose exited $?"
  grep -q "loaded plugin vision .*($prefix/$plugin_subdir/liblosslab-vision.so)" "$scratch/verbose.err" ||
    fail "the vision plugin was not loaded from $prefix/$plugin_subdir:"$'\n'"$(cat "$scratch/verbose.err")"
  if grep -qE '(plugin|task) skipped' "$scratch/verbose.err"; then
    fail "an installed plugin or task does not load:"$'\n'"$(grep -E '(plugin|task) skipped' "$scratch/verbose.err")"
  fi

  check_library_resolution "$cli" "$prefix"
  check_library_resolution "$prefix/$plugin_subdir/liblosslab-vision.so" "$prefix"
  local elf
  for elf in "$cli" "$prefix/$libdir"/liblosslab-core.so.*.*.* "$prefix/$plugin_subdir"/*.so; do
    [[ -L $elf ]] || check_rpath "$elf"
  done

  # The presets: all of them, and found from the installed folder. A preset that exists only
  # there proves it: the CLI's fallback, the source tree's resources/experiments, lacks it.
  local presets=$prefix/$datadir/losslab/experiments
  diff -r "$src/resources/experiments" "$presets" >"$scratch/presets.diff" ||
    fail "installed presets differ from resources/experiments:"$'\n'"$(cat "$scratch/presets.diff")"
  sed 's/^task:.*/task: installed_copy\/probe/' "$presets/default.yaml" >"$presets/installed-copy-probe.yaml"
  grep -q '^task: installed_copy/probe$' "$presets/installed-copy-probe.yaml" || fail "default.yaml has no top-level 'task:' line to alter"
  local status=0
  clean_env "$cli" run installed-copy-probe --db "$scratch/probe.sqlite" >/dev/null 2>"$scratch/probe.err" || status=$?
  [[ $status == 2 ]] || fail "run installed-copy-probe exited $status, expected 2 (unknown task): $(cat "$scratch/probe.err")"
  grep -q "$presets/installed-copy-probe.yaml:[0-9]*:[0-9]*: unknown task 'installed_copy/probe'" "$scratch/probe.err" ||
    fail "the preset was not read from $presets:"$'\n'"$(cat "$scratch/probe.err")"
  rm "$presets/installed-copy-probe.yaml"

  local share=$prefix/$datadir
  # The licence: GPL-3.0-or-later, machine-readable, where Debian's policy puts it.
  local copyright=$share/doc/losslab/copyright
  if [[ -f $copyright ]]; then
    grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$copyright" ||
      fail "$copyright: not in Debian's machine-readable format"
    grep -q '^License: GPL-3.0-or-later$' "$copyright" || fail "$copyright: no GPL-3.0-or-later licence"
  else
    fail "$copyright: not installed"
  fi
  if is_on "$installs_gui"; then
    [[ -x $prefix/bin/losslab ]] || fail "$prefix/bin/losslab: the desktop program is not installed"
    check_library_resolution "$prefix/bin/losslab" "$prefix"
    check_rpath "$prefix/bin/losslab"
    # Starts Qt (offscreen: no display here) and stops at the version.
    out=$(clean_env QT_QPA_PLATFORM=offscreen "$prefix/bin/losslab" --version 2>&1) || fail "losslab --version exited $?: $out"
    [[ $out == *"$version"* ]] || fail "losslab --version printed '$out', expected version $version"
    local f
    for f in "applications/$app_id.desktop" "metainfo/$app_id.metainfo.xml" \
             "icons/hicolor/scalable/apps/$app_id.svg" "icons/hicolor/256x256/apps/$app_id.png"; do
      [[ -f $share/$f ]] || fail "$share/$f: not installed"
    done
    local exec
    exec=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$share/applications/$app_id.desktop")
    [[ -x $prefix/bin/$exec ]] || fail "the desktop entry runs '$exec', which is not installed in $prefix/bin"
    cmp -s "$share/icons/hicolor/256x256/apps/$app_id.png" "${LOSSLAB_ICON_PNG:?}" ||
      fail "the installed PNG icon is not the one rendered at build time"
  else
    # No program, no launcher: a desktop entry would start nothing.
    [[ ! -e $prefix/bin/losslab && ! -e $share/applications ]] ||
      fail "no desktop program was built, yet $prefix/bin/losslab or $share/applications is installed"
  fi
}

case $case_name in
desktop-file)
  need_tool desktop-file-validate desktop-file-utils
  out=$(desktop-file-validate "$desktop_file" 2>&1) || fail "desktop-file-validate:"$'\n'"$out"
  if grep -Eq 'error|warning' <<<"$out"; then fail "desktop-file-validate:"$'\n'"$out"; fi
  grep -qx 'Exec=losslab %f' "$desktop_file" || fail "$desktop_file: expected Exec=losslab %f"
  grep -qx "Icon=$app_id" "$desktop_file" || fail "$desktop_file: expected Icon=$app_id"
  echo "desktop-file-validate: ok${out:+ ($out)}"
  ;;
metainfo)
  need_tool appstreamcli appstream
  out=$(appstreamcli validate --no-net "$metainfo_file" 2>&1) || fail "appstreamcli validate --no-net:"$'\n'"$out"
  grep -q '<project_license>GPL-3.0-or-later</project_license>' "$metainfo_file" ||
    fail "$metainfo_file: project_license is not GPL-3.0-or-later (the LICENSE file's)"
  grep -q 'GNU GENERAL PUBLIC LICENSE' "$src/LICENSE" && grep -q 'Version 3' "$src/LICENSE" ||
    fail "$src/LICENSE: not the GPL version 3"
  echo "$out"
  grep -q "<launchable type=\"desktop-id\">$app_id.desktop</launchable>" "$metainfo_file" ||
    fail "$metainfo_file: the launchable is not $app_id.desktop"
  newest=$(sed -n 's/.*<release version="\([^"]*\)".*/\1/p' "$metainfo_file" | head -n 1)
  [[ $newest == "$version" ]] ||
    fail "$metainfo_file: newest release is '$newest', the project's version is $version: add a <release>"
  ;;
icon-png)
  png=${LOSSLAB_ICON_PNG:?}
  svg=$src/resources/icons/$app_id.svg
  [[ -f $png ]] || fail "$png: not rendered (build the target losslab_icons)"
  [[ ! $svg -nt $png ]] || fail "$png is older than $svg: rebuild"
  # PNG signature, then the IHDR chunk: width and height (4 bytes each, big-endian), bit
  # depth, colour type (6 = RGBA).
  read -ra header <<<"$(od -An -tu1 -w26 -N26 "$png")"
  [[ "${header[*]:0:8}" == "137 80 78 71 13 10 26 10" ]] || fail "$png: not a PNG file"
  width=$(( header[16] << 24 | header[17] << 16 | header[18] << 8 | header[19] ))
  height=$(( header[20] << 24 | header[21] << 16 | header[22] << 8 | header[23] ))
  [[ $width == 256 && $height == 256 ]] || fail "$png: ${width}x$height, expected 256x256"
  [[ ${header[24]} == 8 && ${header[25]} == 6 ]] || fail "$png: expected 8-bit RGBA (depth ${header[24]}, colour type ${header[25]})"
  echo "icon: ${width}x$height RGBA, $(stat -c %s "$png") bytes"
  ;;
install-prefix)
  need_tool readelf binutils
  prefix=$scratch/prefix
  cmake --install "$build" --prefix "$prefix" >"$scratch/install.log" 2>&1 ||
    fail "cmake --install failed:"$'\n'"$(cat "$scratch/install.log")"
  check_installed_tree "$prefix"
  echo "installed into a scratch prefix: $(find "$prefix" -type f | wc -l) files; the programs work from there"
  ;;
deb)
  need_tool readelf binutils
  need_tool dpkg-deb dpkg
  need_tool dpkg-shlibdeps dpkg-dev
  need_tool cpack cmake
  cpack --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/package" >"$scratch/cpack.log" 2>&1 ||
    fail "cpack failed:"$'\n'"$(cat "$scratch/cpack.log")"
  debs=("$scratch"/package/losslab_*.deb)
  [[ ${#debs[@]} == 1 && -f ${debs[0]} ]] || fail "expected one losslab_*.deb, got: $(ls "$scratch/package")"
  deb=${debs[0]}
  echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"
  dpkg-deb -I "$deb"

  field() { dpkg-deb -f "$deb" "$1"; }
  # Package names of a dependency field, alternatives and version constraints dropped.
  names() { tr ',|' '\n\n' <<<"$1" | sed 's/^ *//; s/[ (].*//' | sed '/^$/d'; }
  [[ $(field Package) == losslab ]] || fail "Package: $(field Package)"
  [[ $(field Version) == "$version" ]] || fail "Version: $(field Version), expected $version"
  [[ $(field Section) == science ]] || fail "Section: $(field Section), expected science"
  [[ $(field Maintainer) == *"LossLab developers"* ]] || fail "Maintainer: $(field Maintainer)"
  [[ $(field Homepage) == https://* ]] || fail "Homepage: $(field Homepage)"
  depends=$(names "$(field Depends)")
  expected=(libc6 libstdc++6 libopenblas0-pthread)
  # What dpkg-shlibdeps must have found: the package holding the LibTorch we linked.
  torch_lib=$(ldd "$build/lib/liblosslab-core.so" | awk '/libtorch_cpu/ {print $3}')
  if owner=$(dpkg -S "$torch_lib" 2>/dev/null || dpkg -S "$(realpath "$torch_lib")" 2>/dev/null); then
    expected+=("${owner%%:*}")
  fi
  if grep -q 'libQt6' <<<"$(ldd "$build/bin/losslab-cli")"; then
    expected+=(qt6-qpa-plugins fonts-dejavu-core)
  fi
  for dep in "${expected[@]}"; do
    grep -qx -- "$dep" <<<"$depends" || fail "Depends lacks $dep: $(field Depends)"
  done
  if grep -qx 'losslab' <<<"$depends"; then fail "the package depends on itself: $(field Depends)"; fi
  grep -qx dataset-fashion-mnist <<<"$(names "$(field Recommends)")" ||
    fail "Recommends lacks dataset-fashion-mnist: $(field Recommends)"

  dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$scratch/contents"
  for f in /usr/share/doc/losslab/copyright /usr/bin/losslab-cli "/usr/$libdir/liblosslab-core.so.0" "/usr/$plugin_subdir/liblosslab-vision.so" \
           "/usr/$plugin_subdir/losslab-vision.json" "/usr/$datadir/losslab/experiments/default.yaml"; do
    grep -qx -- "$f" "$scratch/contents" || fail "the package lacks $f"
  done
  # Only the programs: no test, benchmark or build tool.
  extra=$(grep '^/usr/bin/.' "$scratch/contents" | grep -vx -e /usr/bin/losslab-cli -e /usr/bin/losslab || true)
  [[ -z $extra ]] || fail "unexpected programs in the package:"$'\n'"$extra"

  dpkg -x "$deb" "$scratch/root"
  check_installed_tree "$scratch/root/usr"
  if is_on "$installs_gui"; then
    # The desktop entry, metainfo and icons as software centres see them, together.
    need_tool appstreamcli appstream
    appstreamcli validate-tree --no-net "$scratch/root" || fail "appstreamcli validate-tree --no-net failed on the unpacked package"
  fi
  echo "unpacked $(basename "$deb"): the programs work from there"
  ;;
*)
  fail "unknown case (expected desktop-file, metainfo, icon-png, install-prefix or deb)"
  ;;
esac
