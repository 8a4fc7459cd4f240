#include "tcpcopy/protocol/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tcpcopy::protocol {
namespace {

constexpr std::string_view kBlanks = " \t";

std::string octalMode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

}  // namespace

os::Result<Credentials> Credentials::parse(std::string_view text, std::string_view source) {
    Credentials credentials;
    std::size_t lineNumber = 0;
    while (!text.empty()) {
        ++lineNumber;
        const std::size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        const std::size_t start = line.find_first_not_of(kBlanks);
        if (start == std::string_view::npos || line[start] == '#') {
            continue;
        }
        line.remove_prefix(start);
        const std::size_t userEnd = std::min(line.find_first_of(kBlanks), line.size());
        const std::string user(line.substr(0, userEnd));
        std::string_view password = line.substr(userEnd);
        const std::size_t passwordStart = password.find_first_not_of(kBlanks);
        password =
            passwordStart == std::string_view::npos ? std::string_view{} : password.substr(passwordStart);
        if (!credentials.passwords_.emplace(user, std::string(password)).second) {
            return os::Result<Credentials>::fail(std::string(source) + ":" + std::to_string(lineNumber) +
                                                 ": user '" + user + "' appears twice");
        }
    }
    return os::Result<Credentials>::ok(std::move(credentials));
}

os::Result<Credentials> Credentials::load(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return os::Result<Credentials>::fail("credentials file " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    std::string error;
    if (::fstat(fd, &st) != 0) {
        error = "credentials file " + path + ": " + std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
        error = "credentials file " + path + " is not a regular file";
    } else if ((st.st_mode & 077) != 0) {
        error = "credentials file " + path + " has mode " + octalMode(st.st_mode) +
                ", open to group or others: it must be 0600 or stricter (chmod 600 " + path + ")";
    }
    std::string text;
    while (error.empty()) {
        char chunk[4096];
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error = "credentials file " + path + ": " + std::strerror(errno);
        }
        if (n <= 0) {
            break;
        }
        text.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!error.empty()) {
        return os::Result<Credentials>::fail(error);
    }
    return parse(text, path);
}

const std::string* Credentials::password(std::string_view user) const {
    const auto it = passwords_.find(std::string(user));
    return it == passwords_.end() ? nullptr : &it->second;
}

}  // namespace tcpcopy::protocol
