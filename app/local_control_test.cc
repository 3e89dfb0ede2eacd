// The control port's decisions: other origins refused, the admin token required, the page's own
// origin allowed (preflight included), and any bytes answered without a crash.
#include "app/local_control.h"

#include <gtest/gtest.h>

namespace minotaur::app {
namespace {

const ControlPolicy kPolicy{page_origins({8080, 8081}), "the-admin-token", 2};

std::string head(const std::string& method, const std::string& target,
                 const std::string& headers = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:8079\r\n" + headers + "\r\n";
}

// A POST from a web page at `origin` with the right token.
ControlReply post_from(const std::string& origin, const std::string& target) {
  return decide_control(
      head("POST", target, "Origin: " + origin + "\r\nAuthorization: Bearer the-admin-token\r\n"),
      kPolicy);
}

TEST(LocalControl, ThePagesOwnOriginWithTheTokenRunsTheCommand) {
  const auto r = post_from("http://127.0.0.1:8081", "/local/restart?node=2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.command, "restart 2");
  EXPECT_EQ(r.allow_origin, "http://127.0.0.1:8081");
  const std::string reply = render_control_reply(r);
  EXPECT_NE(reply.find("Access-Control-Allow-Origin: http://127.0.0.1:8081\r\n"),
            std::string::npos);
  EXPECT_EQ(reply.find('*'), std::string::npos) << reply;
}

TEST(LocalControl, AnotherOriginIsRefusedEvenWithTheToken) {
  const auto r = post_from("http://evil.example", "/local/kill?node=1");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.command.empty());
  EXPECT_EQ(render_control_reply(r).find("Access-Control-Allow-Origin"), std::string::npos);
  EXPECT_EQ(
      decide_control(head("OPTIONS", "/local/kill?node=1", "Origin: null\r\n"), kPolicy).status,
      403);
}

TEST(LocalControl, TheTokenIsRequired) {
  EXPECT_EQ(decide_control(head("POST", "/local/roll"), kPolicy).status, 401);
  EXPECT_EQ(decide_control(head("POST", "/local/roll", "Authorization: Bearer wrong\r\n"), kPolicy)
                .status,
            401);
  const auto r = decide_control(
      head("POST", "/local/roll", "Authorization: Bearer the-admin-token\r\n"), kPolicy);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.command, "roll");
}

TEST(LocalControl, APreflightFromThePageIsAnsweredWithoutTheToken) {
  const auto r = decide_control(
      head("OPTIONS", "/local/kill?node=1",
           "Origin: http://localhost:8080\r\nAccess-Control-Request-Method: POST\r\n"),
      kPolicy);
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.command.empty());
  const std::string reply = render_control_reply(r);
  EXPECT_NE(reply.find("Access-Control-Allow-Headers: Authorization"), std::string::npos) << reply;
}

TEST(LocalControl, UnknownCallsAndGarbageAreRefused) {
  const std::string token = "Authorization: Bearer the-admin-token\r\n";
  EXPECT_EQ(decide_control(head("POST", "/local/kill?node=1;rm", token), kPolicy).status, 404);
  EXPECT_EQ(decide_control(head("POST", "/local/kill?node=", token), kPolicy).status, 404);
  EXPECT_EQ(decide_control(head("POST", "/local/kill?node=3", token), kPolicy).status, 404);
  EXPECT_EQ(decide_control(head("POST", "/local/kill?node=0", token), kPolicy).status, 404);
  EXPECT_EQ(decide_control(head("GET", "/local/roll", token), kPolicy).status, 405);
  EXPECT_EQ(decide_control("", kPolicy).status, 400);
  EXPECT_EQ(decide_control("\x01\x02 garbage\r\n\r\n", kPolicy).status, 400);
  EXPECT_EQ(decide_control(std::string(kControlMaxHeadBytes + 1, 'a'), kPolicy).status, 431);
  EXPECT_EQ(decide_control("POST /local/roll HTTP/1.1\r\nHost: x\r\n", kPolicy).status, 400);
}

}  // namespace
}  // namespace minotaur::app
