#include "http/event_stream.h"

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
  s->stream_ = respond.Stream(Head());
  return s;
}

std::string EventStream::Format(std::string_view event, std::string_view data) {
  std::string out = "event: ";
  out += event;
  out += '\n';
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

bool EventStream::Send(std::string_view event, std::string_view data) {
  if (stream_) return stream_->Write(Format(event, data));
  std::lock_guard lock(mu_);
  if (finished_) return false;
  collected_ += Format(event, data);
  return true;
}

void EventStream::Finish(std::string_view event, std::string_view data) {
  if (stream_) {
    stream_->Write(Format(event, data));
    stream_->End();
    return;
  }
  std::unique_lock lock(mu_);
  if (finished_) return;
  finished_ = true;
  HttpResponse r = Head();
  r.body = std::move(collected_) + Format(event, data);
  lock.unlock();
  respond_(std::move(r));
}

void EventStream::Fail(const Status& status) {
  std::string err = "{\"error\":";
  AppendErrorObject(err, status);
  Finish("error", err + "}");
}

bool EventStream::client_gone() const {
  return stream_ && stream_->client_gone();
}

}  // namespace sightline::http
