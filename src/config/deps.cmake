target_link_libraries(tcpcopy_config PUBLIC CLI11::CLI11 tcpcopy_net PRIVATE fmt::fmt)
