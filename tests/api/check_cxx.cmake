# Compiles tests/api/cxx_api.cpp with every C++ compiler found (g++, clang++), links it
# against the shared library and runs it. Skipped (77 via SKIP_RETURN_CODE) when no C++
# compiler is installed.
#   cmake -DSRC=... -DINCLUDE=... -DLIB=<libroost.so> -DOUT=<dir> -P check_cxx.cmake
set(found 0)
foreach(cxx g++ clang++)
    find_program(CXX_${cxx} ${cxx})
    if(NOT CXX_${cxx})
        message(STATUS "${cxx}: not installed")
        continue()
    endif()
    math(EXPR found "${found} + 1")
    get_filename_component(libdir ${LIB} DIRECTORY)
    set(exe ${OUT}/cxx_api_${cxx})
    execute_process(COMMAND ${CXX_${cxx}} -std=c++17 -Wall -Wextra -Werror -pedantic -I${INCLUDE}
                            ${SRC} -o ${exe} -L${libdir} -lroost -Wl,-rpath,${libdir}
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${cxx} cannot compile or link ${SRC} against <roost.h>")
    endif()
    execute_process(COMMAND ${exe} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "${exe} failed (${rc})")
    endif()
    message(STATUS "${cxx}: compiled, linked and ran")
endforeach()
if(found EQUAL 0)
    # cmake -P cannot exit 77 itself; the marker below is turned into a skip by the test's
    # SKIP_REGULAR_EXPRESSION.
    message("ROOST_SKIP: no C++ compiler")
endif()
