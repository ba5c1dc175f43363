// When an engine's pool threads may busy-wait for work instead of sleeping. Shared by the model
// config (what the user asked for) and the backend options (what the engine is told).
#pragma once

namespace sightline::runtime {

// Spinning wakes pool threads faster (unloaded p95 4.4 vs 5.6 ms on cnn224) but the spinning
// threads take the cores that I/O threads and other models need: under 3x overload accepted p95
// went from ~12 to 12-16 ms and shed answers' p99 from ~3 to ~5 ms (docs/BENCHMARKS.md). Spinning
// only inside a run (ORT's session.force_spinning_stop) was measured too and was worse than both.
enum class Spinning {
  kOff,     // always sleep (the server's default)
  kAlways,  // spin between runs too (ONNX Runtime's own default)
};

}  // namespace sightline::runtime
