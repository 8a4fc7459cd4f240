target_link_libraries(tcpcopy_stats PUBLIC tcpcopy_os tcpcopy_net PRIVATE tcpcopy_config PkgConfig::LIBEVENT nlohmann_json::nlohmann_json fmt::fmt)
