// Request bodies sent compressed (RFC 9110 8.4 Content-Encoding): tritonclient's
// request_compression_algorithm="gzip" | "deflate", which Triton accepts, and any HTTP client that
// compresses uploads. The body is inflated once, before any route sees it, so every parser reads
// the bytes the client meant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sightline::http {

// Whether `encoding` (a Content-Encoding value) is one InflateBody takes: gzip, x-gzip, deflate.
bool IsInflatableEncoding(std::string_view encoding);

// The body inflated. "deflate" is the zlib format (RFC 1950) as HTTP defines it, raw deflate
// (RFC 1951) also accepted since some clients send that. Errors: kPayloadTooLarge once the
// inflated bytes pass `limit` (a zip bomb stops there, never allocating past it);
// kInvalidArgument for bytes that are not what the encoding says, or are cut short.
Result<std::string> InflateBody(std::string_view body, std::string_view encoding, size_t limit);

}  // namespace sightline::http
