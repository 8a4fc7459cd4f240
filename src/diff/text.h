#pragma once
// Text helpers of the diff module (internal): case folding, display text for raw protocol bytes,
// HTML escaping.

#include <cstddef>
#include <string>
#include <string_view>

namespace tcpcopy::diff::detail {

std::string lowerAscii(std::string_view s);
std::string upperAscii(std::string_view s);

// Raw bytes as text a person can read and any JSON or HTML writer can carry: printable ASCII,
// tabs, line feeds and valid UTF-8 are kept, a CR before a LF is dropped, every other byte
// becomes \xNN. At most `maxBytes` of `raw` are shown.
std::string displayText(std::string_view raw, std::size_t maxBytes = std::string_view::npos);

// One line of display text: like displayText, but CR and LF become \r and \n too.
std::string displayLine(std::string_view raw, std::size_t maxBytes = std::string_view::npos);

// &, <, >, " and ' as character references.
std::string htmlEscape(std::string_view text);

}  // namespace tcpcopy::diff::detail
