# os: Result and UniqueFd (the raw socket).
target_link_libraries(tcpcopy_inject PUBLIC tcpcopy_net tcpcopy_os PRIVATE tcpcopy_log Libnet::Libnet)
