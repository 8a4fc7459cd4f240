#pragma once
// The tunnel's shared secret (--secret-file), read by one function for both daemons so that a
// file one of them accepts the other reads the same way.
//
// The secret is the first line of the file without its line end (LF or CRLF) and without
// trailing spaces and tabs; everything after the first line is ignored. An empty secret, or one
// longer than kMaxSecretSize bytes, is refused.

#include <cstddef>
#include <string>
#include <string_view>

#include "tcpcopy/os/result.h"

namespace tcpcopy::tunnel {

inline constexpr std::size_t kMaxSecretSize = 1024;
// How much of the file is read at most: the first line must end within it.
inline constexpr std::size_t kMaxSecretFileRead = 64 * 1024;

// The secret in a file's content. Errors read after `fileName`: "F: the secret is empty".
os::Result<std::string> parseSecret(std::string_view content, std::string_view fileName);
// Reads `path` (at most kMaxSecretFileRead bytes) and parses it. Errors name the file.
os::Result<std::string> readSecretFile(const std::string& path);

}  // namespace tcpcopy::tunnel
