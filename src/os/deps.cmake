target_link_libraries(tcpcopy_os PUBLIC tcpcopy_net PkgConfig::LIBEVENT)
