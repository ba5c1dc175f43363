// Turns an ImageSource into its bytes: inline bytes at once, URLs and paths on the fetch pool
// (blocking libcurl and file reads never run on the caller's thread). Owned by the server
// object; any task that takes images resolves them here, whichever front door asked.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/request_context.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "sources/image_source.h"
#include "sources/path_policy.h"
#include "sources/url_fetcher.h"

namespace sightline::sources {

using Bytes = std::shared_ptr<const std::string>;
using BytesCallback = std::function<void(Result<Bytes>)>;

class SourceResolver {
 public:
  // Any of the three may be null: that way in is then refused (kForbidden) rather than crashing.
  SourceResolver(const UrlFetcher* fetcher, const PathPolicy* paths, ThreadPool* fetch_pool)
      : fetcher_(fetcher), paths_(paths), pool_(fetch_pool) {}

  // Calls `done` exactly once: inline for inline bytes, else from a fetch-pool thread. Errors
  // are the fetcher's and the path policy's; an empty result is kInvalidArgument (invalid_image)
  // naming the source; a request cancelled before its fetch starts gets kCancelled.
  void Resolve(ImageSource source, const RequestContextPtr& context, BytesCallback done) const;

 private:
  const UrlFetcher* fetcher_;
  const PathPolicy* paths_;
  ThreadPool* pool_;
};

}  // namespace sightline::sources
