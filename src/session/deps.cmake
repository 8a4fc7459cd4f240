target_link_libraries(tcpcopy_session PUBLIC tcpcopy_net absl::flat_hash_map)
