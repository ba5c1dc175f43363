// The one place where a Status becomes an HTTP status line and body.
//   /v1 style:     {"error":{"code":"overloaded","type":"queue_full","message":"...","retry_after_sec":1.5}}
//                  (the object itself: error_json.h)
//   KServe style:  {"error":"message"} (+ "code" / "retry_after_sec" beside it, which KServe
//                  clients ignore), as Triton's clients expect a plain string.
#pragma once

#include "core/status.h"
#include "http/http_types.h"

namespace sightline::http {

enum class ApiStyle { kV1, kKServe };

int HttpStatusFor(StatusCode code);
HttpResponse ErrorResponse(const Status& status, ApiStyle style);

}  // namespace sightline::http
