// Throwaway PKI for TLS tests: a CA, a server certificate for "localhost" and 127.0.0.1 signed by
// it, and an unrelated second CA (which must not verify that server certificate).
//
// Keys are EC P-256; certificates are valid from an hour ago for one day. Everything is written
// as PEM files into one directory. Thread-safe (no shared state).
#pragma once

#include <string>

namespace wcp::test {

struct test_pki {
  std::string dir;            // the directory holding the files below
  std::string ca_cert;        // PEM: the CA that signed server_cert
  std::string server_cert;    // PEM: CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1
  std::string server_key;     // PEM: unencrypted private key of server_cert
  std::string other_ca_cert;  // PEM: an unrelated CA, for "untrusted certificate" tests
};

// Creates `dir` if needed and writes ca.pem, server.pem, server.key and other-ca.pem into it.
// Throws std::runtime_error on failure.
test_pki make_test_pki(const std::string& dir);

}  // namespace wcp::test
