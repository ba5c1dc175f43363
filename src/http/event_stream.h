// Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html) over a
// streamed answer: `event: <name>\ndata: <json>\n\n` per event, Content-Type text/event-stream,
// no caching, no proxy buffering. Tasks report progress and partial results through it; the
// last event carries the final result (or an `error` event). Where the responder cannot stream
// (a test's lambda), the events are collected and answered as one text/event-stream body at the
// end, byte for byte what a client would have read.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/http_types.h"

namespace sightline::http {

class EventStream {
 public:
  // Starts the answer (200, text/event-stream) at once.
  static std::shared_ptr<EventStream> Start(const Responder& respond);

  // One event; false once the client has gone (stop producing).
  bool Send(std::string_view event, std::string_view data);
  // The last event, then the end of the answer.
  void Finish(std::string_view event, std::string_view data);
  // An `error` event with the v1 error object, then the end.
  void Fail(const Status& status);
  bool client_gone() const;

  // "event: x\ndata: {...}\n\n" (data lines split at newlines, as the format requires).
  static std::string Format(std::string_view event, std::string_view data);

 private:
  EventStream() = default;
  Responder respond_;
  std::shared_ptr<ResponseStream> stream_;  // null: collecting into `collected_`
  std::mutex mu_;
  std::string collected_;
  bool finished_ = false;
};

}  // namespace sightline::http
