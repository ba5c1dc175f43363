// How an engine's pool threads behave. Shared by the model config (what the user asked for) and
// the backend options (what the engine is told).
#pragma once

namespace sightline::runtime {

// When pool threads may busy-wait for work instead of sleeping. Spinning wakes them faster
// (unloaded p95 4.4 vs 5.6 ms on cnn224) but the spinning threads take the cores that I/O threads
// and other models need: under 3x overload accepted p95 went from ~12 to 12-16 ms and shed
// answers' p99 from ~3 to ~5 ms (docs/BENCHMARKS.md). Spinning only inside a run (ORT's
// session.force_spinning_stop) was measured too and was worse than both.
enum class Spinning {
  kOff,     // always sleep (the server's default)
  kAlways,  // spin between runs too (ONNX Runtime's own default)
};

// The Linux scheduling class of the pool threads (not of the thread that calls Run, which takes
// the scheduler's locks and must not be starved while holding them). kIdle (SCHED_IDLE) lets any
// ordinary thread — an I/O thread answering a refusal, a health probe — take the core at once
// instead of waiting out the pool thread's time slice, and the kernel places such wake-ups on a
// core that runs only SCHED_IDLE work: under a 3x flood shed answers' p95 fell from ~1.8 to
// ~0.5 ms. The price: pool threads get almost no CPU while other ordinary threads want it, so a
// CPU-bound neighbour outside the server's cgroup slows inference toward one thread per run.
// Meant for a server that has its host or container to itself.
enum class PoolPriority {
  kNormal,  // SCHED_OTHER, like every other thread (the default)
  kIdle,    // SCHED_IDLE
};

}  // namespace sightline::runtime
