#pragma once

// The credentials file the MySQL hook logs in with: one `user password` per line (the password
// is the rest of the line after the blanks that follow the user, so it may hold blanks; a user
// alone has an empty password), `#` comments and blank lines. The file must be a regular file
// with mode 0600 or stricter: one readable or writable by group or others is refused.

#include <string>
#include <string_view>
#include <unordered_map>

#include "tcpcopy/os/result.h"

namespace tcpcopy::protocol {

class Credentials {
  public:
    // `source` names the text in errors ("FILE:LINE: ...").
    static os::Result<Credentials> parse(std::string_view text, std::string_view source);
    // Reads and parses `path` after checking its mode on the opened file.
    static os::Result<Credentials> load(const std::string& path);

    // The user's password, or null when the file does not name the user.
    const std::string* password(std::string_view user) const;
    std::size_t size() const { return passwords_.size(); }

  private:
    std::unordered_map<std::string, std::string> passwords_;
};

}  // namespace tcpcopy::protocol
