# Operations: man pages generated from the daemons' --help, installation of the systemd units,
# example configurations and documentation, and the Debian package (CPack DEB).
# Included from the top CMakeLists.txt after the daemons are defined.

# ---- Man pages: help2man over the built binaries, so they cannot drift from --help ----
find_program(HELP2MAN_EXECUTABLE help2man REQUIRED)
set(TCPCOPY_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(tcpcopy_man_pages)
foreach(daemon tcpcopy intercept)
  set(page ${TCPCOPY_MAN_DIR}/${daemon}.8)
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TCPCOPY_MAN_DIR}
    COMMAND ${HELP2MAN_EXECUTABLE} --no-info --section=8 --no-discard-stderr
            --include=${PROJECT_SOURCE_DIR}/docs/man/${daemon}.h2m
            --source=tcpcopy --manual="System Administration"
            --output=${page} $<TARGET_FILE:${daemon}>
    DEPENDS ${daemon} ${PROJECT_SOURCE_DIR}/docs/man/${daemon}.h2m
    COMMENT "man page ${daemon}(8) from ${daemon} --help"
    VERBATIM)
  list(APPEND tcpcopy_man_pages ${page})
endforeach()
add_custom_target(man ALL DEPENDS ${tcpcopy_man_pages})
install(FILES ${tcpcopy_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# ---- systemd units, examples, docs ----
# ExecStart follows the prefix the files are installed under, known only at install time
# (cpack installs with /usr, a plain `cmake --install` with CMAKE_INSTALL_PREFIX).
set(TCPCOPY_UNIT_DIR lib/systemd/system CACHE STRING "Where the systemd units are installed, under the prefix")
foreach(unit intercept.service tcpcopy@.service)
  install(CODE "
    file(READ \"${PROJECT_SOURCE_DIR}/conf/${unit}\" text)
    string(REPLACE \"/usr/sbin/\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/\" text \"\${text}\")
    file(WRITE \"${CMAKE_BINARY_DIR}/units/${unit}\" \"\${text}\")
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${TCPCOPY_UNIT_DIR}\" TYPE FILE
         FILES \"${CMAKE_BINARY_DIR}/units/${unit}\")")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/conf/tcpcopy.conf ${PROJECT_SOURCE_DIR}/conf/intercept.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
foreach(doc README.md docs/architecture.md docs/usage.md docs/troubleshooting.md docs/metrics.md
            docs/tunnel-protocol.md docs/dependencies.md)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${doc})
    install(FILES ${PROJECT_SOURCE_DIR}/${doc} DESTINATION ${CMAKE_INSTALL_DOCDIR})
  endif()
endforeach()

# ---- Debian package: cpack -G DEB (tests/e2e/ops_package_test.sh installs and removes it) ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tcpcopy)
set(CPACK_PACKAGE_VENDOR "tcpcopy")
set(CPACK_PACKAGE_CONTACT "tcpcopy maintainers <maintainers@tcpcopy.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Replay real TCP traffic against a test server (tcpcopy, intercept)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/session-replay-tools/tcpcopy")
# The shared libraries the binaries link, found by dpkg-shlibdeps (libpcap, libnet, libevent,
# OpenSSL, libsystemd, spdlog/fmt), plus what the units and the docs point at.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
# Only the daemons and their files: the tests, benchmarks and fuzzers are not installed.
include(CPack)
