#include "sources/source_resolver.h"

namespace sightline::sources {

void SourceResolver::Resolve(ImageSource src, const RequestContextPtr& context, BytesCallback done) const {
  if (!src.error.ok()) return done(src.error);
  if (src.kind == ImageSource::Kind::kBytes) {
    if (src.value.empty()) return done(InvalidImage(src.label + " is empty (0 bytes)"));
    return done(std::make_shared<const std::string>(std::move(src.value)));
  }
  const bool url = src.kind == ImageSource::Kind::kUrl;
  if (!pool_ || (url ? !fetcher_ : (!paths_ || !fetcher_)))
    return done(Status(StatusCode::kForbidden, src.label + ": this server does not take " +
                                                   (url ? "image_url" : "image_path") + " sources"));
  pool_->Submit([this, src = std::move(src), context, done = std::move(done)] {
    if (context && context->cancelled()) return done(Status(StatusCode::kCancelled, "client went away"));
    FetchContext fc;
    if (context) {
      fc.cancel = context->cancel.get();
      fc.deadline = context->deadline;
      fc.traceparent = context->trace.ToTraceparent();
    }
    if (!src.field.empty()) fc.field = src.field;
    Result<std::string> bytes = src.kind == ImageSource::Kind::kUrl
                                    ? fetcher_->Fetch(src.value, fc)
                                    : paths_->Read(src.value, fetcher_->options().max_bytes);
    if (!bytes.ok()) {
      Status s = bytes.status();
      if (s.kind() == ErrorKind::kNone && s.code() != StatusCode::kCancelled &&
          s.code() != StatusCode::kDeadlineExceeded)
        s.WithKind(ErrorKind::kFetchFailed);
      return done(s);
    }
    if (bytes->empty()) return done(InvalidImage(src.label + " is empty (0 bytes)"));
    done(std::make_shared<const std::string>(std::move(bytes).value()));
  });
}

}  // namespace sightline::sources
