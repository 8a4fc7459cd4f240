// libFuzzer target for the shared-secret file (--secret-file, read the same way by both daemons):
// tunnel::parseSecret on arbitrary file contents.
// Properties: nothing crashes; an accepted secret is non-empty, at most kMaxSecretSize bytes,
// holds no line end, does not end in a blank or CR, and is where the file starts; a refused file
// gets one line naming it; the same content with CRLF instead of LF line ends gives the same
// secret.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tcpcopy/tunnel/secret.h"

namespace {

void require(bool condition) {
    if (!condition) std::abort();
}

std::string withCrlf(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view content(reinterpret_cast<const char*>(data), size);
    auto secret = tcpcopy::tunnel::parseSecret(content, "fuzz.secret");
    if (!secret) {
        require(secret.error().rfind("fuzz.secret: ", 0) == 0);
        require(secret.error().find('\n') == std::string::npos);
        return 0;
    }
    const std::string& s = secret.value();
    require(!s.empty() && s.size() <= tcpcopy::tunnel::kMaxSecretSize);
    require(s.find('\n') == std::string::npos);
    require(s.back() != ' ' && s.back() != '\t' && s.back() != '\r');
    require(content.substr(0, s.size()) == s);
    if (content.find('\r') == std::string_view::npos && size < tcpcopy::tunnel::kMaxSecretFileRead / 2) {
        auto crlf = tcpcopy::tunnel::parseSecret(withCrlf(content), "fuzz.secret");
        require(crlf && crlf.value() == s);
    }
    return 0;
}
