# CPack settings, included at the end of the top-level CMakeLists.txt (after every install
# rule). One Debian package, `losslab`, holding everything the install rules install:
#
#   cpack --config build/CPackConfig.cmake -B build/package    # -> losslab_<version>_<arch>.deb
#
# Runtime dependencies are the ELF files' own (dpkg-shlibdeps) plus what is loaded at run
# time and so invisible to it, listed in CPACK_DEBIAN_PACKAGE_DEPENDS below.

set(CPACK_PACKAGE_NAME losslab)
set(CPACK_PACKAGE_VENDOR "The LossLab developers")
# GPL-3.0-or-later (QCustomPlot, which the desktop program links, is GPL-3.0): LICENSE at the
# top of the source, packaging/copyright installed as share/doc/losslab/copyright.
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_CONTACT "The LossLab developers <losslab@users.noreply.github.com>")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/losslab/losslab")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Square loss vs cross-entropy workbench for neural classifiers")
set(CPACK_PACKAGE_DESCRIPTION
"LossLab asks one question about a neural classifier: trained on the same data with the same
recipe, does the square loss do as well as cross-entropy, or better? It runs seeded, paired
comparisons of the two losses under the protocols of Hui and Belkin (ICLR 2021), stores
every run in SQLite and writes the paper's tables, statistics and figures.

The package holds the command-line program losslab-cli, the desktop program losslab when it
was built, the vision task plugin (MNIST, Fashion-MNIST, CIFAR-10) and the experiment presets.")
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
# The programs find their library, plugins and presets relative to themselves, so any prefix
# works; /usr is where a Debian package belongs.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# liblosslab-core is private to this package: dpkg-shlibdeps must find it in the staging
# tree (relative to it) instead of asking which installed package provides it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
    "${CPACK_PACKAGING_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
string(REGEX REPLACE "^/" "" CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
       "${CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS}")

# Loaded at run time, so dpkg-shlibdeps cannot see them:
# - libopenblas0-pthread: Debian's LibTorch reaches BLAS through the libblas.so.3 alternative
#   and falls back to the slow reference BLAS without it;
# - qt6-qpa-plugins: the "offscreen" platform that renders the report's figures, and the
#   desktop program's windowing platforms;
# - fonts-dejavu-core: the figures' text.
set(_losslab_depends libopenblas0-pthread)
if(TARGET losslab_plots OR TARGET losslab_gui)
  list(APPEND _losslab_depends qt6-qpa-plugins fonts-dejavu-core)
endif()
list(JOIN _losslab_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# The default experiment's data; other tasks read downloaded files, so it is not required.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS dataset-fashion-mnist)

set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build/" "/build-[^/]*/" "/losslab-out/" "\\\\.swp$")

include(CPack)
