#include "http/event_stream.h"

#include <boost/json.hpp>

#include "http/error_json.h"
#include "http/error_response.h"

namespace sightline::http {
namespace {

HttpResponse Head() {
  HttpResponse head;
  head.content_type = "text/event-stream";
  head.headers.emplace_back("Cache-Control", "no-cache");
  head.headers.emplace_back("X-Accel-Buffering", "no");  // nginx: do not hold events back
  return head;
}

}  // namespace

std::shared_ptr<EventStream> EventStream::Start(const Responder& respond) {
  std::shared_ptr<EventStream> s(new EventStream());
  s->respond_ = respond;
  return s;
}

std::string EventStream::Format(std::string_view event, std::string_view data) {
  std::string out;
  if (!event.empty()) {  // unnamed events are "message"s, as OpenAI's streams send them
    out += "event: ";
    out += event;
    out += '\n';
  }
  size_t pos = 0;
  while (pos <= data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) nl = data.size();
    out += "data: ";
    out += data.substr(pos, nl - pos);
    out += '\n';
    pos = nl + 1;
  }
  out += '\n';
  return out;
}

bool EventStream::BeginLocked() {
  if (finished_) return false;
  if (!begun_) {
    begun_ = true;
    stream_ = respond_.Stream(Head());
  }
  return true;
}

bool EventStream::Send(std::string_view event, std::string_view data) {
  std::string text = Format(event, data);
  std::unique_lock lock(mu_);
  if (!BeginLocked()) return false;
  if (!stream_) {
    collected_ += text;
    return true;
  }
  auto stream = stream_;
  lock.unlock();
  return stream->Write(std::move(text));
}

void EventStream::Finish(std::string_view event, std::string_view data) {
  std::string text = Format(event, data);
  std::unique_lock lock(mu_);
  if (!BeginLocked()) return;
  finished_ = true;
  if (stream_) {
    auto stream = stream_;
    lock.unlock();
    stream->Write(std::move(text));
    stream->End();
    return;
  }
  HttpResponse r = Head();
  r.body = std::move(collected_) + text;
  lock.unlock();
  respond_(std::move(r));
}

void EventStream::Fail(const Status& status) {
  {
    std::unique_lock lock(mu_);
    if (!begun_ && !finished_) {
      finished_ = true;
      lock.unlock();
      return respond_(ErrorResponse(status, ApiStyle::kV1));
    }
  }
  boost::json::object o;
  o["error"] = ErrorObject(status);
  Finish("error", boost::json::serialize(o));
}

bool EventStream::client_gone() const {
  std::lock_guard lock(mu_);
  return stream_ && stream_->client_gone();
}

}  // namespace sightline::http
