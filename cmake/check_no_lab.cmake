# Fails when a source file of the product (node/, or tools/ outside
# tools/lab/) includes a header of the lab (tools/lab/): the lab measures
# and breaks the product, and ships nothing (issue 14). Run as a ctest test.
file(GLOB files "${ROOT}/node/*.hpp" "${ROOT}/node/*.cpp" "${ROOT}/tools/*.hpp" "${ROOT}/tools/*.cpp")
set(bad "")
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"tools/lab/")
  foreach(line IN LISTS lines)
    string(APPEND bad "\n  ${file}: ${line}")
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "the product must not include the lab (tools/lab/):${bad}")
endif()
message(STATUS "node/ and tools/ include nothing from tools/lab/")
