# os: Result and UniqueFd (the packet ring's socket). NFQUEUE: intercept's on-target mode.
target_link_libraries(tcpcopy_capture PUBLIC tcpcopy_net tcpcopy_os PkgConfig::PCAP PkgConfig::NFQUEUE)
