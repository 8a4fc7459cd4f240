# Pure protocol logic (hooks): bytes in, bytes out, nothing of the engine. libcrypto for the
# SHA1/SHA256 of the MySQL password scrambles, libsodium for MariaDB's ed25519 (its low-level
# Ed25519 primitives: MariaDB signs with a secret derived from a password of any length, which
# OpenSSL's EVP Ed25519 API cannot take). os/result.h is header-only.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
target_link_libraries(tcpcopy_protocol PUBLIC OpenSSL::Crypto PRIVATE PkgConfig::SODIUM)
