# Pure logic: framers, pairing, comparison and the reports. nlohmann_json writes the JSON report
# (public: the module's tests read it back).
target_link_libraries(tcpcopy_diff PUBLIC tcpcopy_net nlohmann_json::nlohmann_json)
