// Knobs for measuring, read from the environment (SLIDESTREAM_*). The defaults in the code are
// what the benchmarks chose; these let a sweep try others without a rebuild.
#pragma once

namespace slidestream {

// The integer in environment variable `name`, clamped to [lowest, highest]; `fallback` when it
// is unset, empty, not a number or not positive.
int env_int(const char* name, int fallback, int lowest, int highest);

}  // namespace slidestream
