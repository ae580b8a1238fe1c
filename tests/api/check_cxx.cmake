# Compiles tests/api/cxx_api.cpp with every C++ compiler found (g++, clang++), links it
# against the shared library and runs it. Skipped (77 via SKIP_RETURN_CODE) when no C++
# compiler is installed.
#   cmake -DSRC=... -DINCLUDE=... -DLIB=<libroost.so> -DOUT=<dir> [-DFLAGS=...] -P check_cxx.cmake
# FLAGS: extra compile and link flags (the sanitizer the library was built with). A
# sanitizer runtime of one compiler family cannot load into a program of the other, so
# with FLAGS only the C compiler's own family (CC_ID: GNU or Clang) links and runs; the
# other compiles the file.
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
    set(family GNU)
    if(cxx STREQUAL "clang++")
        set(family Clang)
    endif()
    set(cxxflags -std=c++17 -Wall -Wextra -Werror -pedantic -I${INCLUDE})
    if(FLAGS AND NOT family STREQUAL CC_ID)
        execute_process(COMMAND ${CXX_${cxx}} ${cxxflags} -c ${SRC} -o ${exe}.o RESULT_VARIABLE rc)
        if(NOT rc EQUAL 0)
            message(FATAL_ERROR "${cxx} cannot compile ${SRC}")
        endif()
        message(STATUS "${cxx}: compiled (not linked: another compiler's sanitizer runtime)")
        continue()
    endif()
    separate_arguments(extra UNIX_COMMAND "${FLAGS}")
    execute_process(COMMAND ${CXX_${cxx}} ${cxxflags} ${extra} ${SRC} -o ${exe} -L${libdir} -lroost
                            -Wl,-rpath,${libdir}
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
