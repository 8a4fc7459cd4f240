#include "tcpcopy/os/service.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>

namespace tcpcopy::os {

ServiceNotifier::ServiceNotifier(EventBase& base, StatusFn status)
    : base_(base), status_(std::move(status)) {}

ServiceNotifier::~ServiceNotifier() = default;

Result<std::unique_ptr<ServiceNotifier>> ServiceNotifier::attach(EventBase& base, StatusFn status,
                                                                 std::chrono::seconds statusInterval) {
    using R = Result<std::unique_ptr<ServiceNotifier>>;
    std::unique_ptr<ServiceNotifier> n(new ServiceNotifier(base, std::move(status)));
    n->statusInterval_ = statusInterval;
    const char* socket = std::getenv("NOTIFY_SOCKET");
    n->underSystemd_ = socket != nullptr && *socket != '\0';
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is this process.
    if (n->underSystemd_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        n->watchdogPeriod_ = Duration(usec / 2);
        ServiceNotifier* self = n.get();
        auto timer = Event::timer(
            base, [self](short) { self->send("WATCHDOG=1"); }, /*persist=*/true);
        if (!timer) return R::fail("watchdog timer: " + timer.error());
        n->watchdogTimer_.emplace(std::move(timer).value());
        if (!n->watchdogTimer_->add(*n->watchdogPeriod_)) return R::fail("watchdog timer: cannot arm");
    }
    return R::ok(std::move(n));
}

void ServiceNotifier::send(const std::string& message) {
    if (underSystemd_) sd_notify(0, message.c_str());
}

void ServiceNotifier::ready() {
    if (!underSystemd_) return;
    std::string message = "READY=1";
    if (status_) message += "\nSTATUS=" + status_();
    send(message);
    if (status_ && statusInterval_.count() > 0 && !statusTimer_) {
        auto timer = Event::timer(
            base_, [this](short) { send("STATUS=" + status_()); }, /*persist=*/true);
        if (timer) {
            statusTimer_.emplace(std::move(timer).value());
            statusTimer_->add(std::chrono::duration_cast<Duration>(statusInterval_));
        }
    }
}

void ServiceNotifier::status(std::string_view text) { send("STATUS=" + std::string(text)); }

void ServiceNotifier::stopping() {
    statusTimer_.reset();
    send("STOPPING=1");
}

}  // namespace tcpcopy::os
