#include "tcpcopy/tunnel/secret.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tcpcopy/os/unique_fd.h"

namespace tcpcopy::tunnel {

os::Result<std::string> parseSecret(std::string_view content, std::string_view fileName) {
    using R = os::Result<std::string>;
    const std::string name(fileName);
    const std::size_t end = content.find('\n');
    if (end == std::string_view::npos && content.size() >= kMaxSecretFileRead) {
        return R::fail(name + ": no line end in the first " + std::to_string(kMaxSecretFileRead / 1024) +
                       " KiB: not a secret file");
    }
    std::string_view line = content.substr(0, end);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
        line.remove_suffix(1);
    }
    if (line.empty()) return R::fail(name + ": the secret (its first line) is empty");
    if (line.size() > kMaxSecretSize) {
        return R::fail(name + ": the secret is " + std::to_string(line.size()) + " bytes, at most " +
                       std::to_string(kMaxSecretSize) + " are accepted");
    }
    return R::ok(std::string(line));
}

os::Result<std::string> readSecretFile(const std::string& path) {
    using R = os::Result<std::string>;
    os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) return R::fail(path + ": cannot read the secret file: " + std::strerror(errno));
    std::string content(kMaxSecretFileRead, '\0');
    std::size_t have = 0;
    while (have < content.size()) {
        const ssize_t n = ::read(fd.get(), content.data() + have, content.size() - have);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return R::fail(path + ": cannot read the secret file: " + std::strerror(errno));
        if (n == 0) break;
        have += static_cast<std::size_t>(n);
        if (std::memchr(content.data(), '\n', have) != nullptr) break;
    }
    content.resize(have);
    return parseSecret(content, path);
}

}  // namespace tcpcopy::tunnel
