// The API of docs/SPEC.md section 3 against a real `minotaur node` process: every endpoint, every
// error, and that a refused request changes nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <set>

#include "testing/cluster_harness.h"
#include "testing/raw_client.h"

namespace minotaur {
namespace {

namespace json = boost::json;
using testing::ClusterHarness;
using testing::HttpReply;

// Sends raw bytes to 127.0.0.1:port and returns everything read until the server closes or
// 2 s pass.
std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  testing::RawSocket s("127.0.0.1", port);
  s.send_all(bytes);
  return s.read_until_close(std::chrono::seconds(2));
}

std::string error_code(const HttpReply& r) {
  const auto j = r.json();
  if (!j.is_object() || !j.as_object().contains("error")) return "<no error object>";
  EXPECT_FALSE(j.at("error").at("message").as_string().empty());
  return std::string(j.at("error").at("code").as_string());
}

// A WebSocket client of a node: text out, one JSON message in (at most 5 s each). With a
// token, the upgrade request carries `Authorization: Bearer TOKEN`.
class WsClient {
 public:
  explicit WsClient(std::uint16_t port, const std::string& token = "") : ws_(io_) {
    namespace beast = boost::beast;
    beast::get_lowest_layer(ws_).connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    if (!token.empty()) {
      ws_.set_option(beast::websocket::stream_base::decorator(
          [bearer = "Bearer " + token](beast::websocket::request_type& req) {
            req.set(beast::http::field::authorization, bearer);
          }));
    }
    ws_.handshake("127.0.0.1", "/api/v1/ws");
  }
  void send(const std::string& text) { ws_.write(boost::asio::buffer(text)); }
  json::value next() {
    buf_.consume(buf_.size());
    boost::beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(5));
    ws_.read(buf_);
    return json::parse(boost::beast::buffers_to_string(buf_.data()));
  }

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buf_;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node = cluster.start("api1");
    std::tie(ana_id, ana) = cluster.new_user(node, "Ana");
    std::tie(bo_id, bo) = cluster.new_user(node, "Bo");
    std::tie(cy_id, cy) = cluster.new_user(node, "Cy");
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = "") {
    return cluster.request(node, method, path, body, token);
  }

  // A started game of Ana and Bo; returns its id.
  std::string started_game() {
    const auto lobby = call("POST", "/api/v1/lobbies", "", ana);
    EXPECT_EQ(lobby.status, 201) << lobby.body;
    const std::string code(lobby.json().at("join_code").as_string());
    EXPECT_EQ(call("POST", "/api/v1/lobbies/" + code + "/join", "", bo).status, 200);
    const auto started = call("POST", "/api/v1/lobbies/" + code + "/start", "", ana);
    EXPECT_EQ(started.status, 201) << started.body;
    return std::string(started.json().at("game_id").as_string());
  }

  json::value game(const std::string& id) {
    const auto r = call("GET", "/api/v1/games/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  ClusterHarness cluster;
  std::size_t node = 0;
  std::string ana_id, ana, bo_id, bo, cy_id, cy;
};

TEST_F(ApiTest, HealthReadinessMetricsAndThePage) {
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  const auto metrics = call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("minotaur_http_requests_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("minotaur_games"), std::string::npos);
  const auto page = call("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<title>Minotaur"), std::string::npos);
  EXPECT_EQ(call("GET", "/app.js").status, 200);
  EXPECT_EQ(error_code(call("GET", "/nope.html")), "not_found");
  EXPECT_EQ(error_code(call("GET", "/api/v1/nope")), "not_found");
}

TEST_F(ApiTest, ClusterListsThisNode) {
  const auto r = call("GET", "/api/v1/cluster");
  ASSERT_EQ(r.status, 200);
  const auto j = r.json();
  EXPECT_EQ(j.at("node").as_string(), "api1");
  const auto& members = j.at("members").as_array();
  ASSERT_GE(members.size(), 1u);
  EXPECT_EQ(members[0].at("name").as_string(), "api1");
  EXPECT_EQ(members[0].at("status").as_string(), "up");
}

TEST_F(ApiTest, UsersAreCreatedOnlyFromAValidName) {
  EXPECT_EQ(call("POST", "/api/v1/users", R"({"display_name":"Dee"})").status, 201);
  EXPECT_EQ(error_code(call("POST", "/api/v1/users", "{")), "bad_request");
  EXPECT_EQ(error_code(call("POST", "/api/v1/users", "{}")), "bad_request");
  EXPECT_EQ(error_code(call("POST", "/api/v1/users", R"({"display_name":7})")), "bad_request");
  EXPECT_EQ(error_code(call("POST", "/api/v1/users", R"({"display_name":""})")), "bad_request");
  EXPECT_EQ(error_code(call("POST", "/api/v1/users", R"({"display_name":"a\u0001b"})")),
            "bad_request");
  EXPECT_EQ(call("GET", "/api/v1/users").status, 405);
}

TEST_F(ApiTest, LobbiesFromCreationToStart) {
  EXPECT_EQ(call("POST", "/api/v1/lobbies").status, 401);
  EXPECT_EQ(call("POST", "/api/v1/lobbies", "", "v1.forged.token").status, 401);
  const auto lobby = call("POST", "/api/v1/lobbies", "", ana);
  ASSERT_EQ(lobby.status, 201);
  const std::string code(lobby.json().at("join_code").as_string());
  EXPECT_EQ(lobby.json().at("host_user_id").as_string(), ana_id);

  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(c - 'A' + 'a');
  const auto joined = call("POST", "/api/v1/lobbies/" + lower + "/join", "", bo);
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(joined.json().at("members").as_array().size(), 2u);
  EXPECT_EQ(error_code(call("POST", "/api/v1/lobbies/" + code + "/join", "", bo)),
            "already_member");
  EXPECT_EQ(error_code(call("POST", "/api/v1/lobbies/ZZZ2/join", "", bo)), "bad_request");
  const auto unknown = call(
      "POST", "/api/v1/lobbies/" + std::string(code == "QQQQ" ? "QQQR" : "QQQQ") + "/join", "", bo);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(error_code(call("POST", "/api/v1/lobbies/" + code + "/start", "", bo)), "not_host");
  EXPECT_EQ(call("POST", "/api/v1/lobbies/" + code + "/start", "", bo).status, 403);

  const auto started = call("POST", "/api/v1/lobbies/" + code + "/start", "", ana);
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string id(started.json().at("game_id").as_string());
  const auto g = game(id);
  EXPECT_EQ(g.at("players").as_array().size(), 2u);
  EXPECT_EQ(g.at("join_code").as_string(), code);
  EXPECT_EQ(g.at("node").as_string(), "api1");
  EXPECT_GE(g.at("epoch").as_int64(), 1);
  EXPECT_EQ(error_code(call("POST", "/api/v1/lobbies/" + code + "/join", "", cy)),
            "already_started");
  EXPECT_EQ(call("GET", "/api/v1/lobbies/" + code).json().at("game_id").as_string(), id);
}

TEST_F(ApiTest, ActionsAreCheckedAndRefusalsChangeNothing) {
  const std::string id = started_game();
  const std::string path = "/api/v1/games/" + id + "/actions";
  const json::value before = game(id);

  struct Case {
    std::string body;
    std::string token;
    int status;
    std::string code;
  };
  const Case cases[] = {
      {R"({"type":"move","vector":{"q":1,"r":0}})", "", 401, "unauthorized"},
      {R"({"type":"move","vector":{"q":1,"r":0}})", "v1.eyJ1IjoieCJ9.bad", 401, "unauthorized"},
      {R"({"type":"move","vector":{"q":1,"r":0}})", cy, 403, "not_a_player"},
      {R"({"type":"move","vector":{"q":1,"r":0})", ana, 400, "bad_request"},
      {R"({"type":"move","vector":{"q":"1","r":0}})", ana, 400, "bad_request"},
      {R"({"type":"fly"})", ana, 400, "bad_request"},
      {R"([1,2,3])", ana, 400, "bad_request"},
      {R"({"type":"move","vector":{"q":2,"r":0}})", ana, 409, "not_a_unit_vector"},
      {R"({"type":"attack","target_player_id":2})", ana, 409, "target_out_of_range"},
      {R"({"type":"attack","target_player_id":99})", ana, 409, "unknown_target"},
      {R"({"type":"attack","target_player_id":1})", ana, 409, "target_is_self"},
  };
  for (const Case& c : cases) {
    const auto r = call("POST", path, c.body, c.token);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_EQ(error_code(r), c.code) << c.body;
  }
  EXPECT_EQ(game(id), before);  // nothing changed

  // Ana stands at (-3,3) on the ring: pick a move that stays on the board.
  const auto ok = call("POST", path, R"({"type":"move","vector":{"q":1,"r":0}})", ana);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json().at("version").as_int64(), before.at("version").as_int64() + 1);
  EXPECT_EQ(ok.json().at("registered_actions").as_array().size(), 1u);
  EXPECT_EQ(error_code(call("GET", "/api/v1/games/g_unknown")), "game_not_found");
  EXPECT_EQ(call("GET", "/api/v1/games/g_unknown").status, 404);
  EXPECT_EQ(error_code(call("GET", "/api/v1/games/bad%20id")), "bad_request");
  EXPECT_EQ(call("POST", "/api/v1/games/g_unknown/actions",
                 R"({"type":"move","vector":{"q":1,"r":0}})", ana)
                .status,
            404);
  EXPECT_EQ(call("DELETE", "/api/v1/games/" + id).status, 405);
}

TEST_F(ApiTest, EndRoundTakesAPlayerOrTheAdmin) {
  const std::string id = started_game();
  const std::string path = "/api/v1/games/" + id + "/end_round";
  EXPECT_EQ(call("POST", path).status, 401);
  EXPECT_EQ(call("POST", path, "", cy).status, 403);
  // A player is ready; the round goes on until every living player is.
  const auto by_player = call("POST", path, "", bo);
  ASSERT_EQ(by_player.status, 200) << by_player.body;
  EXPECT_EQ(by_player.json().at("round").as_int64(), 1);
  EXPECT_EQ(by_player.json().at("last_round"), json::value(nullptr));
  std::size_t ready = 0;
  const json::value answer = by_player.json();
  for (const auto& p : answer.at("players").as_array()) ready += p.at("ready") == true;
  EXPECT_EQ(ready, 1u) << by_player.body;
  const auto by_ana = call("POST", path, "", ana);
  ASSERT_EQ(by_ana.status, 200) << by_ana.body;
  EXPECT_EQ(by_ana.json().at("round").as_int64(), 2);
  EXPECT_EQ(by_ana.json().at("version").as_int64(), by_player.json().at("version").as_int64() + 1);
  EXPECT_EQ(by_ana.json().at("last_round").at("round").as_int64(), 1) << by_ana.body;
  // The admin ends a round at once.
  const auto by_admin = call("POST", path, "", ClusterHarness::kAdminToken);
  ASSERT_EQ(by_admin.status, 200) << by_admin.body;
  EXPECT_EQ(by_admin.json().at("round").as_int64(), 3);
}

TEST_F(ApiTest, AdminCreatesAGameFromAGivenState) {
  const std::string body = R"({"id":"g_given","players":[
      {"id":3,"user_id":")" +
                           ana_id + R"(","display_name":"Player1","coord":{"q":-1,"r":0}},
      {"id":6,"user_id":")" +
                           bo_id + R"(","display_name":"Player2","coord":{"q":-1,"r":0}}]})";
  EXPECT_EQ(call("POST", "/api/v1/games", body).status, 401);
  EXPECT_EQ(error_code(call("POST", "/api/v1/games", body, ana)), "admin_only");
  EXPECT_EQ(
      error_code(call("POST", "/api/v1/games", "{\"id\":\"g\"}", ClusterHarness::kAdminToken)),
      "bad_request");
  EXPECT_EQ(error_code(call("POST", "/api/v1/games", R"({"id":"g","players":[]})",
                            ClusterHarness::kAdminToken)),
            "bad_request");
  const auto created = call("POST", "/api/v1/games", body, ClusterHarness::kAdminToken);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto g = created.json();
  EXPECT_EQ(g.at("round").as_int64(), 1);
  EXPECT_EQ(g.at("status").as_string(), "active");
  EXPECT_EQ(g.at("players").as_array()[0].at("health").as_int64(), 3);
  EXPECT_EQ(g.at("players").as_array()[0].at("action_points").as_int64(), 1);
  EXPECT_EQ(error_code(call("POST", "/api/v1/games", body, ClusterHarness::kAdminToken)),
            "game_exists");
  // The players act through their own tokens.
  EXPECT_EQ(call("POST", "/api/v1/games/g_given/actions",
                 R"({"type":"attack","target_player_id":6})", ana)
                .status,
            200);
}

TEST_F(ApiTest, OversizedAndMalformedRequestsAreRefusedAndTheNodeKeepsServing) {
  const std::string huge(200 * 1024, 'x');
  const auto big = call("POST", "/api/v1/users", "{\"display_name\":\"" + huge + "\"}");
  EXPECT_EQ(big.status, 413);
  const std::string garbage = raw_exchange(cluster.http_port(node), "\x16\x03\x01 garbage\r\n\r\n");
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;
  const std::string huge_header = raw_exchange(
      cluster.http_port(node),
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20'000, 'a') + "\r\n\r\n");
  EXPECT_NE(huge_header.find("413"), std::string::npos) << huge_header.substr(0, 200);
  (void)raw_exchange(cluster.http_port(node), "GET /healthz HTTP/1.1\r\nContent-Length: 99");
  EXPECT_EQ(call("GET", "/healthz").status, 200);
  EXPECT_TRUE(cluster.running(node));
}

TEST_F(ApiTest, OtherOriginsMayCallWithABearerToken) {
  const auto preflight = raw_exchange(
      cluster.http_port(node),
      "OPTIONS /api/v1/lobbies HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:1\r\n"
      "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_NE(preflight.find("204"), std::string::npos) << preflight;
  EXPECT_NE(preflight.find("Access-Control-Allow-Headers: Authorization"), std::string::npos);
  const auto get = raw_exchange(cluster.http_port(node),
                                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(get.find("Access-Control-Allow-Origin: *"), std::string::npos) << get;
}

TEST_F(ApiTest, KeepAliveAndPipeliningAnswerInOrder) {
  const std::string two =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/v1/games/g_nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string out = raw_exchange(cluster.http_port(node), two);
  const auto first = out.find("HTTP/1.1 200");
  const auto second = out.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(first, second);
}

TEST_F(ApiTest, WebSocketPushesEveryVersionOnceInOrder) {
  const std::string id = started_game();
  WsClient ws(cluster.http_port(node));
  ws.send(std::string(R"({"op":"subscribe","game_id":")") + id + "\"}");
  const auto first = ws.next();
  EXPECT_EQ(first.at("event").as_string(), "game");
  std::int64_t version = first.at("game").at("version").as_int64();
  const std::string path = "/api/v1/games/" + id;
  ASSERT_EQ(
      call("POST", path + "/actions", R"({"type":"move","vector":{"q":1,"r":0}})", ana).status,
      200);
  ASSERT_EQ(
      call("POST", path + "/actions", R"({"type":"move","vector":{"q":-1,"r":0}})", bo).status,
      200);
  ASSERT_EQ(call("POST", path + "/end_round", "", ana).status, 200);
  for (int i = 0; i < 3; ++i) {
    const auto push = ws.next();
    ASSERT_EQ(push.at("event").as_string(), "game");
    EXPECT_EQ(push.at("game").at("version").as_int64(), version + 1);
    version = push.at("game").at("version").as_int64();
  }
  // A malformed message gets an error event, and the socket stays usable.
  ws.send("not json");
  EXPECT_EQ(ws.next().at("event").as_string(), "error");
  ws.send(R"({"op":"subscribe","game_id":"g_none"})");
  EXPECT_EQ(ws.next().at("error").at("code").as_string(), "game_not_found");
}

TEST_F(ApiTest, WebSocketActionsAreAnsweredByIdAndRefusalsKeepTheSocket) {
  const std::string id = started_game();
  WsClient ws(cluster.http_port(node), ana);
  const std::string act = R"({"op":"act","game_id":")" + id + "\",";
  const std::int64_t before = game(id).at("version").as_int64();

  ws.send(act + R"("id":1,"action":{"type":"move","vector":{"q":1,"r":0}}})");
  const auto ack = ws.next();
  EXPECT_EQ(ack.at("event").as_string(), "ack") << ack;
  EXPECT_EQ(ack.at("id").as_int64(), 1);
  EXPECT_EQ(ack.at("game").at("version").as_int64(), before + 1);
  EXPECT_EQ(ack.at("game").at("registered_actions").at(0).at("type").as_string(), "move");
  EXPECT_EQ(game(id).at("version").as_int64(), before + 1);

  // Refused by the rules, malformed, unknown op: an error carrying the id; nothing changes.
  ws.send(act + R"("id":2,"action":{"type":"move","vector":{"q":2,"r":0}}})");
  auto refused = ws.next();
  EXPECT_EQ(refused.at("event").as_string(), "error");
  EXPECT_EQ(refused.at("id").as_int64(), 2);
  EXPECT_FALSE(refused.at("error").at("message").as_string().empty());
  ws.send(act + R"("id":3})");
  refused = ws.next();
  EXPECT_EQ(refused.at("error").at("code").as_string(), "bad_request");
  EXPECT_EQ(refused.at("id").as_int64(), 3);
  ws.send(R"({"op":"dance","game_id":")" + id + R"(","id":4})");
  EXPECT_EQ(ws.next().at("id").as_int64(), 4);
  ws.send("{\"op\":");
  EXPECT_EQ(ws.next().at("event").as_string(), "error");
  // A game Cy does not play in, acting with Cy's token given in the message.
  ws.send(act + R"("id":5,"token":")" + cy +
          R"(","action":{"type":"move","vector":{"q":1,"r":0}}})");
  refused = ws.next();
  EXPECT_EQ(refused.at("error").at("code").as_string(), "not_a_player") << refused;
  EXPECT_EQ(game(id).at("version").as_int64(), before + 1);

  // Pipelined: three calls before reading; each answered once, by its id, in some order (the
  // same move again still counts as a change: registering replaces and bumps the version).
  for (int i = 10; i < 13; ++i) {
    ws.send(act + "\"id\":" + std::to_string(i) +
            R"(,"action":{"type":"move","vector":{"q":1,"r":0}}})");
  }
  std::set<std::int64_t> ids;
  std::int64_t last_version = 0;
  for (int i = 0; i < 3; ++i) {
    const auto a = ws.next();
    ASSERT_EQ(a.at("event").as_string(), "ack") << a;
    ids.insert(a.at("id").as_int64());
    last_version = std::max(last_version, a.at("game").at("version").as_int64());
  }
  EXPECT_EQ(ids, (std::set<std::int64_t>{10, 11, 12}));
  EXPECT_EQ(last_version, before + 4);
  EXPECT_EQ(game(id).at("version").as_int64(), before + 4);
}

TEST_F(ApiTest, WebSocketActionsNeedAUserToken) {
  const std::string id = started_game();
  WsClient ws(cluster.http_port(node));
  const std::string move = R"(,"action":{"type":"move","vector":{"q":1,"r":0}}})";
  ws.send(R"({"op":"act","id":7,"game_id":")" + id + "\"" + move);
  auto reply = ws.next();
  EXPECT_EQ(reply.at("error").at("code").as_string(), "unauthorized");
  EXPECT_EQ(reply.at("id").as_int64(), 7);
  ws.send(R"({"op":"act","id":8,"token":")" + bo + R"(","game_id":")" + id + "\"" + move);
  reply = ws.next();
  EXPECT_EQ(reply.at("event").as_string(), "ack") << reply;
  EXPECT_EQ(reply.at("id").as_int64(), 8);
}

TEST_F(ApiTest, SigtermExitsZero) {
  cluster.stop(node, SIGTERM);
  EXPECT_EQ(cluster.exit_code(node), 0);
  EXPECT_NE(cluster.log(node).find("SIGTERM received"), std::string::npos);
}

}  // namespace
}  // namespace minotaur
