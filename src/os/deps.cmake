target_link_libraries(tcpcopy_os PUBLIC tcpcopy_net PkgConfig::LIBEVENT)
# sd_notify for Type=notify units (readiness, STATUS=, watchdog): os/service.h.
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
target_link_libraries(tcpcopy_os PRIVATE PkgConfig::SYSTEMD)
