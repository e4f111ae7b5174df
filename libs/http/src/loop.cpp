#include "suite/http/loop.hpp"

namespace suite::http {

namespace {
thread_local std::size_t this_loop = 0;
}

std::size_t ThisLoop() { return this_loop; }
void SetThisLoop(std::size_t index) { this_loop = index; }

}  // namespace suite::http
