# Operations tests that need no root (included from tests/CMakeLists.txt). The root ones are
# tests/e2e/ops_*_test.sh (the lab) and are registered with the other end-to-end tests.
add_test(NAME ops.conf
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/conf_test.sh $<TARGET_FILE:tcpcopy> $<TARGET_FILE:intercept>
          ${PROJECT_SOURCE_DIR}/conf)
set_tests_properties(ops.conf PROPERTIES LABELS ops TIMEOUT 60)
add_test(NAME ops.units
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/units_test.sh $<TARGET_FILE:tcpcopy> $<TARGET_FILE:intercept>
          ${PROJECT_SOURCE_DIR}/conf)
set_tests_properties(ops.units PROPERTIES LABELS ops TIMEOUT 60)
