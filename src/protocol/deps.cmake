# Pure protocol logic (hooks): bytes in, bytes out; of the engine, only its hook interface
# (session/hook.h, driven through engine_hook.h). libcrypto for the
# SHA1/SHA256 of the MySQL password scrambles, libsodium for MariaDB's ed25519 (its low-level
# Ed25519 primitives: MariaDB signs with a secret derived from a password of any length, which
# OpenSSL's EVP Ed25519 API cannot take). os/result.h is header-only.
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
target_link_libraries(tcpcopy_protocol PUBLIC OpenSSL::Crypto tcpcopy_session PRIVATE PkgConfig::SODIUM)
