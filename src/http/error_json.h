// The v1 error object, {"code", "type"?, "message", "retry_after_sec"?}, as a JSON value: the one
// writer behind whole-request errors (error_response.cc), per-item errors (v1_codec.cc) and SSE
// error events (event_stream.cc). Kept apart from error_response.h so that header stays free of
// Boost.JSON.
#pragma once

#include <boost/json/object.hpp>

#include "core/status.h"

namespace sightline::http {

boost::json::object ErrorObject(const Status& status);

}  // namespace sightline::http
