// The replaced global operator new and delete (kept in a file of their own: GCC warns of a
// mismatched free wherever it sees both this new and a delete inlined).
#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
thread_local bool t_counted = false;
std::atomic<long long> g_allocations{0};
}  // namespace

namespace alloc_counter {
void CountThisThread(bool on) { t_counted = on; }
long long Count() { return g_allocations.load(); }
void Reset() { g_allocations = 0; }
}  // namespace alloc_counter

void* operator new(std::size_t n) {
  if (t_counted) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
