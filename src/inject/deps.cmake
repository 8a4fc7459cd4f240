target_link_libraries(tcpcopy_inject PUBLIC tcpcopy_net PRIVATE tcpcopy_log Libnet::Libnet)
