// The browser game's static files (gateway/web/), compiled into the binary so that a node
// serves its own matching front end, with nothing to install beside it.
#pragma once

#include <string_view>

namespace minotaur::gateway {

struct WebAsset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view content;
};

// nullptr when there is no such file.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace minotaur::gateway
