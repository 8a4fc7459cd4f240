#pragma once
// ServiceNotifier: the systemd service protocol (sd_notify) for a Type=notify unit, on the
// daemon's event loop. Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so the daemons
// call it unconditionally.
//
//     auto service = os::ServiceNotifier::attach(base, [&] { return statsLine(); });
//     ...open captures, connect the tunnel...
//     service->ready();      // READY=1 plus the first STATUS=
//     ...
//     service->stopping();   // STOPPING=1 on SIGTERM
//
// Watchdog: when the unit sets WatchdogSec=, systemd passes WATCHDOG_USEC and attach() arms a
// timer at half that period sending WATCHDOG=1. It fires from the event loop, so a loop that
// stalls stops the pings and systemd restarts the daemon. STATUS= is refreshed from `status`
// every few seconds once ready() was called (systemctl status shows the line).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tcpcopy/os/event.h"

namespace tcpcopy::os {

class ServiceNotifier {
  public:
    using StatusFn = std::function<std::string()>;

    // Reads the environment (NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID) and arms the watchdog
    // timer when asked for. `status` may be empty. Errors are the event's text.
    static Result<std::unique_ptr<ServiceNotifier>> attach(
        EventBase& base, StatusFn status, std::chrono::seconds statusInterval = std::chrono::seconds(5));
    ~ServiceNotifier();
    ServiceNotifier(const ServiceNotifier&) = delete;
    ServiceNotifier& operator=(const ServiceNotifier&) = delete;

    // True when run by systemd with a notification socket.
    bool underSystemd() const { return underSystemd_; }
    // The watchdog ping period (half of WatchdogSec), when the watchdog is on.
    std::optional<Duration> watchdogPeriod() const { return watchdogPeriod_; }

    // READY=1 and STATUS=<status()>; starts the periodic STATUS= updates.
    void ready();
    // STATUS=<text> now.
    void status(std::string_view text);
    // STOPPING=1.
    void stopping();

  private:
    ServiceNotifier(EventBase& base, StatusFn status);
    void send(const std::string& message);

    EventBase& base_;
    StatusFn status_;
    std::chrono::seconds statusInterval_{5};
    bool underSystemd_ = false;
    std::optional<Duration> watchdogPeriod_;
    std::optional<Event> watchdogTimer_;
    std::optional<Event> statusTimer_;
};

}  // namespace tcpcopy::os
