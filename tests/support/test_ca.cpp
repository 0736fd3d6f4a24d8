#include "support/test_ca.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <memory>
#include <stdexcept>

namespace wcp::test {

namespace {

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* p) const { X509_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct ext_free {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ext_free>;

[[noreturn]] void fail(const std::string& what) {
  std::string detail;
  if (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    detail = std::string(": ") + buf;
  }
  ERR_clear_error();
  throw std::runtime_error("make_test_pki: " + what + detail);
}

void check(int ok, const char* what) {
  if (ok <= 0) fail(what);
}

pkey_ptr make_key() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("EC key generation");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) fail(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// A certificate for `subject_key` named CN=`common_name`, signed by `issuer_key` (`issuer` is the
// issuer's certificate, or null for a self-signed one).
x509_ptr make_cert(EVP_PKEY* subject_key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                   bool is_ca, const char* subject_alt_name) {
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");

  unsigned char serial_bytes[16];
  check(RAND_bytes(serial_bytes, sizeof serial_bytes), "RAND_bytes");
  serial_bytes[0] &= 0x7f;  // keep it positive
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr), BN_free);
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) fail("serial number");

  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60)) fail("notBefore");
  if (!X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 60 * 60)) fail("notAfter");

  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("wcp tests"), -1,
                                   -1, 0),
        "subject O");
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0),
        "subject CN");
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name), "issuer name");
  check(X509_set_pubkey(cert.get(), subject_key), "X509_set_pubkey");

  X509* issuer_cert = issuer ? issuer : cert.get();
  if (is_ca) {
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  } else {
    add_extension(cert.get(), issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), issuer_cert, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), issuer_cert, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
    add_extension(cert.get(), issuer_cert, NID_authority_key_identifier, "keyid:always");
  }
  if (subject_alt_name) add_extension(cert.get(), issuer_cert, NID_subject_alt_name, subject_alt_name);

  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) fail("X509_sign");
  return cert;
}

bio_ptr open_file(const std::string& path) {
  bio_ptr bio(BIO_new_file(path.c_str(), "w"));
  if (!bio) fail("cannot write " + path);
  return bio;
}

void write_cert(const std::string& path, X509* cert) {
  auto bio = open_file(path);
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
}

void write_key(const std::string& path, EVP_PKEY* key) {
  {
    auto bio = open_file(path);
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
}

}  // namespace

test_pki make_test_pki(const std::string& dir) {
  std::filesystem::create_directories(dir);
  test_pki pki;
  pki.dir = dir;
  pki.ca_cert = (std::filesystem::path(dir) / "ca.pem").string();
  pki.server_cert = (std::filesystem::path(dir) / "server.pem").string();
  pki.server_key = (std::filesystem::path(dir) / "server.key").string();
  pki.other_ca_cert = (std::filesystem::path(dir) / "other-ca.pem").string();

  auto ca_key = make_key();
  auto ca = make_cert(ca_key.get(), "wcp test CA", nullptr, ca_key.get(), true, nullptr);
  auto server_key = make_key();
  auto server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), false, "DNS:localhost,IP:127.0.0.1");
  auto other_key = make_key();
  auto other_ca = make_cert(other_key.get(), "wcp unrelated test CA", nullptr, other_key.get(), true, nullptr);

  write_cert(pki.ca_cert, ca.get());
  write_cert(pki.server_cert, server.get());
  write_key(pki.server_key, server_key.get());
  write_cert(pki.other_ca_cert, other_ca.get());
  return pki;
}

}  // namespace wcp::test
