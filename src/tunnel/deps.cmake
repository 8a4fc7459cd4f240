find_package(OpenSSL REQUIRED COMPONENTS Crypto)
target_link_libraries(tcpcopy_tunnel PUBLIC tcpcopy_os tcpcopy_net tcpcopy_log OpenSSL::Crypto PkgConfig::LIBEVENT
  PRIVATE tcpcopy_config)
