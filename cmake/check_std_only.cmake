# Fails when a .hpp/.cpp file in DIR includes a header that is neither one of ours
# ("crdt/...") nor a C++ standard library header. Run by crdt/CMakeLists.txt.
set(std_headers
  algorithm any array atomic bit bitset cassert cctype cerrno charconv chrono cinttypes climits
  cmath compare concepts cstddef cstdint cstdio cstdlib cstring ctime deque exception
  functional initializer_list iomanip ios iosfwd iostream istream iterator limits list map
  memory new numeric optional ostream queue random ranges set source_location span sstream
  stdexcept string string_view system_error tuple type_traits unordered_map unordered_set
  utility variant vector)
file(GLOB files "${DIR}/*.hpp" "${DIR}/*.cpp")
set(bad "")
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "#[ \t]*include[ \t]*\"crdt/[^\"]+\"")
      continue()
    elseif(line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
      list(FIND std_headers "${CMAKE_MATCH_1}" found)
      if(found GREATER -1)
        continue()
      endif()
    endif()
    string(APPEND bad "\n  ${file}: ${line}")
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "crdt/ must use the C++ standard library only (DESIGN §2); "
                      "move this code to net/ or node/:${bad}")
endif()
file(TOUCH "${STAMP}")
