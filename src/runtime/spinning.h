// When an engine's pool threads may busy-wait for work instead of sleeping. Shared by the model
// config (what the user asked for) and the backend options (what the engine is told).
#pragma once

namespace sightline::runtime {

// Waking a sleeping pool thread costs microseconds at every parallel section of a run; spinning
// between runs burns the cores that the I/O threads and the other models need.
enum class Spinning {
  kOff,     // always sleep
  kInRun,   // spin while a run is in progress, stop as soon as it returns
  kAlways,  // spin between runs too (ONNX Runtime's own default)
};

}  // namespace sightline::runtime
