#pragma once
/// A counting operator new for the binary that links alloc_counter.cpp: it counts the
/// allocations of the threads that asked to be counted.
namespace alloc_counter {
/// Counts (or stops counting) the calling thread's allocations.
void CountThisThread(bool on);
long long Count();
void Reset();
}  // namespace alloc_counter
