// Loading and checking the API port's certificate and key (see server_tls.h).
#include "gateway/server_tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace minotaur::gateway {

namespace ssl = boost::asio::ssl;

namespace {

// A PEM file of a certificate chain or a key is a few KiB; anything much larger is another file.
constexpr std::size_t kMaxPemFileBytes = 1024 * 1024;

Result<std::string, std::string> read_pem_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return err(fmt::format("cannot read the {} file {}: {}; check the path and its permissions",
                           what, path, std::strerror(errno)));
  }
  std::string bytes;
  bytes.resize(kMaxPemFileBytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad()) {
    return err(fmt::format("cannot read the {} file {} (is it a directory?); give a PEM file", what,
                           path));
  }
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  if (bytes.size() > kMaxPemFileBytes) {
    return err(fmt::format("the {} file {} is larger than 1 MiB; give the PEM file", what, path));
  }
  if (bytes.empty())
    return err(fmt::format("the {} file {} is empty; give a PEM file", what, path));
  return bytes;
}

// OpenSSL asks this for the passphrase of an encrypted key: there is none to give (a node must
// start unattended), so the key is refused instead of a prompt on the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

}  // namespace

Result<ServerTls, std::string> load_server_tls(const std::string& cert_file,
                                               const std::string& key_file) {
  auto cert = read_pem_file(cert_file, "certificate");
  if (!cert) return err(cert.error());
  auto key = read_pem_file(key_file, "key");
  if (!key) return err(key.error());

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(native, no_passphrase);

  boost::system::error_code ec;
  // The key first: with no certificate loaded yet, a failure here is the key file's alone.
  context->use_private_key(boost::asio::buffer(key.value()), ssl::context::pem, ec);
  if (ec) {
    return err(fmt::format(
        "the key file {} holds no usable private key ({}); give the certificate's private key "
        "in PEM (-----BEGIN PRIVATE KEY-----), without a passphrase (`openssl pkey -in {} -out "
        "FILE` writes it without one)",
        key_file, ec.message(), key_file));
  }
  context->use_certificate_chain(boost::asio::buffer(cert.value()), ec);
  if (ec) {
    return err(fmt::format(
        "the certificate file {} holds no usable certificate ({}); give the node's certificate "
        "in PEM (-----BEGIN CERTIFICATE-----), followed by any intermediate certificates",
        cert_file, ec.message()));
  }
  // OpenSSL drops a key that does not match the certificate loaded after it: checked here.
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return err(fmt::format(
        "the key in {} is not the private key of the certificate in {}; give the key the "
        "certificate was made for",
        key_file, cert_file));
  }
  if (X509* leaf = SSL_CTX_get0_certificate(native)) {
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
      spdlog::warn(
          "tls: the certificate in {} has expired; clients will refuse it until it is "
          "renewed",
          cert_file);
    } else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
      spdlog::warn("tls: the certificate in {} is not valid yet; check this machine's clock",
                   cert_file);
    }
  }
  return ServerTls{std::move(context), cert_file};
}

}  // namespace minotaur::gateway
