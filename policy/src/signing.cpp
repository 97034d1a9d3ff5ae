#include "policy/signing.h"

#include "common/fs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace policy {

using common::Status;
using common::StatusOr;

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

StatusOr<Pkey> LoadKey(const std::string& path, bool is_private) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return common::ErrnoStatus("open policy key " + path, errno);
  EVP_PKEY* key = is_private ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr)
                             : PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return common::InvalidArgument(path + ": not a PEM Ed25519 " + (is_private ? "private" : "public") + " key");
  }
  return Pkey(key);
}

std::string Canonical(Manifest m) {
  m.signature.clear();
  return ToXml(m);
}

std::string Base64(const unsigned char* data, size_t len) {
  std::string out(4 * ((len + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

struct ManifestSigner::Impl {
  Pkey key;
};

ManifestSigner::ManifestSigner() : impl_(new Impl) {}
ManifestSigner::~ManifestSigner() = default;

StatusOr<std::unique_ptr<ManifestSigner>> ManifestSigner::FromPemFile(const std::string& path) {
  ASSIGN_OR_RETURN(Pkey key, LoadKey(path, true));
  std::unique_ptr<ManifestSigner> s(new ManifestSigner);
  s->impl_->key = std::move(key);
  return s;
}

Status ManifestSigner::Sign(Manifest* manifest) const {
  std::string msg = Canonical(*manifest);
  unsigned char sig[64];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, impl_->key.get()) == 1 &&
            EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return common::Internal("Ed25519 signing failed");
  manifest->signature = Base64(sig, sig_len);
  return Status::Ok();
}

struct ManifestVerifier::Impl {
  Pkey key;
};

ManifestVerifier::ManifestVerifier() : impl_(new Impl) {}
ManifestVerifier::~ManifestVerifier() = default;

StatusOr<std::unique_ptr<ManifestVerifier>> ManifestVerifier::FromPemFile(const std::string& path) {
  ASSIGN_OR_RETURN(Pkey key, LoadKey(path, false));
  std::unique_ptr<ManifestVerifier> v(new ManifestVerifier);
  v->impl_->key = std::move(key);
  return v;
}

Status ManifestVerifier::Verify(const Manifest& manifest) const {
  if (manifest.signature.empty()) return common::DataLoss("manifest is not signed");
  std::vector<unsigned char> sig(manifest.signature.size());
  int n = EVP_DecodeBlock(sig.data(), reinterpret_cast<const unsigned char*>(manifest.signature.data()),
                          static_cast<int>(manifest.signature.size()));
  // EVP_DecodeBlock counts '=' padding as zero bytes: an Ed25519 signature is
  // 64 bytes, which base64 writes as 88 characters ending in "==".
  if (n != 66 || manifest.signature.size() != 88) return common::DataLoss("manifest signature is malformed");
  std::string msg = Canonical(manifest);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, impl_->key.get()) == 1 &&
            EVP_DigestVerify(ctx, sig.data(), 64, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return common::DataLoss("manifest signature does not verify with the estate's policy key");
  return Status::Ok();
}

StatusOr<Manifest> AcceptManifest(const std::string& xml, const std::string& source,
                                  const ManifestVerifier& verifier, const std::string& device,
                                  int64_t applied_revision) {
  ASSIGN_OR_RETURN(Manifest manifest, ParseManifestXml(xml, source));
  // A beacon distributes policy but cannot forge or alter it.
  RETURN_IF_ERROR(verifier.Verify(manifest).WithContext(source));
  // Targeting gives devices different policies; a beacon must not hand
  // this device another one's.
  if (manifest.device != device) {
    return common::PermissionDenied(source + " is for device " + manifest.device + ", not this one");
  }
  if (manifest.revision < applied_revision) {
    return common::FailedPrecondition("refusing policy revision " + std::to_string(manifest.revision) +
                                      ", older than the applied " + std::to_string(applied_revision));
  }
  return manifest;
}

}  // namespace policy
