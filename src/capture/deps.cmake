target_link_libraries(tcpcopy_capture PUBLIC tcpcopy_net PkgConfig::PCAP PkgConfig::NFQUEUE)
