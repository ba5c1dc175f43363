// Computing a decoder's logits for the last position only.
//
// A generation decoder's export (Hugging Face Optimum, transformers.js) computes `logits`
// [N, T, V] for every one of the T positions it is fed, but generating reads only the last one.
// In a prefill of T positions that is T-1 wasted rows of the LM head: with Qwen2's 151,936-token
// vocabulary and d_model 896 (FastVLM-0.5B's language model), ~40 % of a 310-position prefill.
// Hugging Face `generate()` avoids it with `logits_to_keep`/`num_logits_to_keep`; ONNX Runtime
// computes every node whatever outputs are asked for, so here the graph is rewritten once, at
// load: the LM head's input is sliced to its last position first,
//
//     hidden [N,T,D] -> Slice(starts=[-1], ends=[INT64_MAX], axes=[1]) -> [N,1,D] -> MatMul -> ...
//
// and the output becomes [N, 1, V] (the same values as the last row of the original: each row of
// a MatMul is computed alone).
//
// The rewrite applies only where it is exact: `output` is a graph output produced by a MatMul
// (or com.microsoft MatMulNBits, the 4-bit exports), possibly through Cast/Identity, whose weight
// input depends on no graph input, whose activation input is rank 3 (read from the output's
// declared shape: rank 3, its positions axis of no fixed size), and whose result feeds nothing but
// `output`, not even a read from inside an If/Loop body. Anything else (logits made inside an If,
// by another op, or shared with another node) is left alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace sightline::runtime {

// The ModelProto bytes with `output`'s LM head fed the last position only; nullopt when the graph
// does not have the pattern above (load it unchanged). Errors: kFailedPrecondition when the bytes
// are not a well-formed ModelProto. Weight bytes are copied, never parsed.
Result<std::optional<std::string>> SliceOutputToLastPosition(const uint8_t* data, size_t size,
                                                             const std::string& output);

}  // namespace sightline::runtime
