# Both daemons' application code: tcpcopy's replay (and its regression diff) and intercept's forwarding, their counters,
# --check, and the start-up they share (config: the process options both declare). libnftables:
# intercept --nfqueue --check reads the ruleset.
target_link_libraries(tcpcopy_app PUBLIC tcpcopy_session tcpcopy_net tcpcopy_capture tcpcopy_inject
  tcpcopy_tunnel tcpcopy_protocol tcpcopy_diff tcpcopy_os tcpcopy_log tcpcopy_stats tcpcopy_config nlohmann_json::nlohmann_json
  PRIVATE PkgConfig::NFTABLES)
# What -v/--version prints.
target_compile_definitions(tcpcopy_app PRIVATE TCPCOPY_VERSION="${PROJECT_VERSION}")
