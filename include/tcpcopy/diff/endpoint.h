#pragma once
// Endpoint keys: what a mismatch is counted under. HTTP: the method and the path with its
// variable parts collapsed, so /api/users/123 and /api/users/456 count together as
// "GET /api/users/{n}"; RESP: the command name; generic: one key for the whole protocol.

#include <string>
#include <string_view>

#include "tcpcopy/diff/message.h"

namespace tcpcopy::diff {

// The path of an HTTP request target (origin form "/a/b?q", absolute form "http://h/a/b?q",
// "*"), without query and fragment, each segment collapsed when it is a number ("{n}"), a UUID
// ("{uuid}") or a hex id of at least 8 digits with a decimal digit in it ("{hex}"); a file
// extension is kept ("/img/42.png" -> "/img/{n}.png"). At most 32 segments and 200 bytes; bytes
// that are not printable ASCII become \xNN.
std::string pathTemplate(std::string_view target);

// "GET /api/users/{n}" for HTTP, "SET" for RESP, "(generic)" for generic, "(greeting)" for
// the empty request a server-first protocol begins with.
std::string endpointKey(Protocol protocol, const Message& request);

}  // namespace tcpcopy::diff
