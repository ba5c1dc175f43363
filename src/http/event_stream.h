// Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html) over a
// streamed answer: `event: <name>\ndata: <json>\n\n` per event, Content-Type text/event-stream,
// no caching, no proxy buffering. Tasks report progress and partial results through it; the
// last event carries the final result (or an `error` event). Nothing is sent before the first
// event: a request that fails before any (bad labels, an overload) gets a plain error answer with
// its own HTTP status rather than 200 and an error event. Where the responder cannot stream
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
  // The answer (200, text/event-stream) starts with the first event.
  static std::shared_ptr<EventStream> Start(const Responder& respond);

  // One event; false once the client has gone (stop producing).
  bool Send(std::string_view event, std::string_view data);
  // The last event, then the end of the answer.
  void Finish(std::string_view event, std::string_view data);
  // An `error` event with the v1 error object, then the end; before any event, the plain v1 error
  // answer instead.
  void Fail(const Status& status);
  bool client_gone() const;

  // "event: x\ndata: {...}\n\n" (data lines split at newlines, as the format requires); an empty
  // event name leaves the event line out (a default "message" event: OpenAI's stream format).
  static std::string Format(std::string_view event, std::string_view data);

 private:
  EventStream() = default;
  // Sends the head on first use (mu_ held); false once finished.
  bool BeginLocked();
  Responder respond_;
  std::shared_ptr<ResponseStream> stream_;  // null: collecting into `collected_`
  mutable std::mutex mu_;
  std::string collected_;
  bool begun_ = false;
  bool finished_ = false;
};

}  // namespace sightline::http
