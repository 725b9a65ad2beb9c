#pragma once
// Runs a shell command to its end, for the tests of command-line programs
// (placemeshctl, placemeshd --check, openssl): its exit code and what it
// printed on stdout and stderr together.

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace placemesh::test {

struct Ran {
  int code = -1;
  std::string output;  // stdout and stderr
};

inline Ran run_command(const std::string& command) {
  Ran ran;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) ran.output += buffer;
  const int status = ::pclose(pipe);
  ran.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ran;
}

}  // namespace placemesh::test
