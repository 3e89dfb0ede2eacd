// ServerTls: the API port's TLS (`minotaur node --tls-cert FILE --tls-key FILE`): the node's
// certificate chain and private key, read and checked once at start, in the OpenSSL context
// that every client connection's handshake uses (gateway/http_server.h).
//
// What is checked at start, each refusal naming the file and what to do: both files are
// readable and not over 1 MiB, the certificate file holds a PEM chain, the key file an
// unencrypted PEM private key (a key with a passphrase is refused rather than asked for), and
// the key is the certificate's. An expired certificate (or one not valid yet) is only warned
// about: the clients decide. Not checked: that the chain leads to a CA the clients trust, or
// that the certificate names the address the clients use.
//
// The context speaks TLS 1.2 and 1.3 only, without compression and without renegotiation (a
// client could otherwise start handshakes again after the handshake's deadline). Certificates
// are read once: a renewed certificate takes a restart.
//
// Thread: the context is shared by every connection of one io_context thread.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"

namespace boost::asio::ssl {
class context;
}

namespace minotaur::gateway {

struct ServerTls {
  std::shared_ptr<boost::asio::ssl::context> context;  // never null once loaded
  std::string cert_file;                               // for the node's log line at start
};

// The context for `cert_file` (PEM: the node's certificate, then any intermediates) and
// `key_file` (PEM: its private key); an error that names the file and says what to do.
Result<ServerTls, std::string> load_server_tls(const std::string& cert_file,
                                               const std::string& key_file);

}  // namespace minotaur::gateway
