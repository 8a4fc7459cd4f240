# os: Result and UniqueFd (the raw socket); libmnl: the RTM_GETNEIGH dump for -o's next hop.
target_link_libraries(tcpcopy_inject PUBLIC tcpcopy_net tcpcopy_os PRIVATE tcpcopy_log Libnet::Libnet PkgConfig::MNL)
