// The router's messages to other nodes (sessions.proto) from and to the session layer's values:
// what a call carries, what its reply carries. Bytes from another node are checked, not trusted.
#pragma once

#include <string>

#include "base/result.h"
#include "sessions/errors.h"
#include "sessions/host.h"
#include "sessions/sessions.pb.h"

namespace minotaur::sessions::wire {

v1::Caller to_proto(const Caller& c);
Caller from_proto(const v1::Caller& m);
v1::GameView to_proto(const GameView& v);
Result<GameView, std::string> from_proto(const v1::GameView& m);
v1::Error to_proto(const SessionError& e);
// An error another node sent: a kind and name this build does not know arrive as bad_reply.
SessionError from_proto(const v1::Error& m);

// The key of the session a request is about (SessionKey::str()); empty when it names none.
std::string key_of(const v1::Request& r);
bool mutates(const v1::Request& r);  // not a read
bool creates(const v1::Request& r);  // a game or a lobby that does not exist yet

}  // namespace minotaur::sessions::wire
