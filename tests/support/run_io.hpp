#pragma once
// Runs an io_context on the test's thread, in slices of 5 ms, until `done`
// holds or `deadline` passes: awaiting a condition, not sleeping for one.
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace placemesh::test {

inline bool run_io_until(asio::io_context& io, std::chrono::milliseconds deadline, const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < until) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace placemesh::test
