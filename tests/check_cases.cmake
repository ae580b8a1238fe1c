# Every case a test program runs has its own CTest entry: compares the program's own list
# (ROOST_TEST_LIST=1, tests/support.h) with the names tests/CMakeLists.txt read from its
# source, so a case the source scan missed cannot silently stop running.
#   cmake -DEXE=<program> -DEXPECTED=<a;b;c> -P check_cases.cmake
execute_process(COMMAND ${CMAKE_COMMAND} -E env ROOST_TEST_LIST=1 ${EXE}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} ROOST_TEST_LIST=1 failed (${rc})")
endif()
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE "\n" ";" listed "${out}")
list(SORT listed)
set(expected ${EXPECTED})
list(SORT expected)
if(NOT listed STREQUAL expected)
    message(FATAL_ERROR "${EXE} runs [${listed}] but CTest has entries for [${expected}]")
endif()
list(LENGTH listed n)
message(STATUS "${n} cases, each with its entry")
