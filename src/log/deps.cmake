target_link_libraries(tcpcopy_log PUBLIC spdlog::spdlog fmt::fmt)
