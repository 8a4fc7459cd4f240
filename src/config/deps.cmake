target_link_libraries(tcpcopy_config PUBLIC CLI11::CLI11 PRIVATE fmt::fmt)
