#pragma once
// A LocalNetwork in a fresh temporary folder that the test removes.

#include <cstdlib>
#include <stdexcept>

#include "tools/local_network.hpp"

namespace placemesh::test {

using tools::Daemon;
using tools::read_file;
using tools::run_placemeshd;
using tools::TestNode;

inline std::filesystem::path make_temp_dir(std::string_view label) {
  char pattern[] = "/tmp/placemesh-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp");
  return std::filesystem::path(pattern) / std::string(label);
}

class TestNetwork : public tools::LocalNetwork {
 public:
  explicit TestNetwork(std::string_view label) : LocalNetwork(make_temp_dir(label)) {}
  ~TestNetwork() {
    std::error_code ec;
    std::filesystem::remove_all(dir().parent_path(), ec);
  }
  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;
};

}  // namespace placemesh::test
