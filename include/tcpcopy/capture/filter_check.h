#pragma once
// Compiles a BPF filter expression without opening a device (for --check): "" when libpcap
// accepts it, otherwise libpcap's reason.

#include <string>
#include <string_view>

namespace tcpcopy::capture {

std::string checkFilter(std::string_view expression);

}  // namespace tcpcopy::capture
