# Turns a text file into a C++ header with one std::string_view constant:
#   cmake -DIN=file -DOUT=header -DNAME=identifier -P embed.cmake
# Used for the dashboard page, so the node serves it without reading files.
file(READ "${IN}" content)
string(FIND "${content}" ")PMEMBED\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )PMEMBED\"")
endif()
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/embed.cmake: do not edit.\n#pragma once\n#include <string_view>\nnamespace placemesh {\ninline constexpr std::string_view ${NAME} = R\"PMEMBED(${content})PMEMBED\";\n}  // namespace placemesh\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
