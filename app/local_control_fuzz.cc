// Fuzz target: bytes sent to `minotaur local`'s control port. Whatever they are, nothing
// crashes, a command runs only on a 200, and no answer allows an origin the policy does not.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "app/local_control.h"
#include "base/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur::app;
  static const ControlPolicy policy{page_origins({8080, 8081}), "the-admin-token", 2};
  const std::string_view head(reinterpret_cast<const char*>(data), size);
  const ControlReply reply = decide_control(head, policy);
  MINOTAUR_ASSERT(reply.command.empty() || reply.status == 200);
  MINOTAUR_ASSERT(reply.allow_origin.empty() ||
                  std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(),
                            reply.allow_origin) != policy.allowed_origins.end());
  (void)render_control_reply(reply);
  return 0;
}
