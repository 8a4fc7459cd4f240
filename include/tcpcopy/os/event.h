#pragma once
// RAII owners for libevent: EventBase (event_base), Event (timers, fd readiness, signals) and
// BufferEvent (a buffered socket). Factories return a Result (os/result.h) carrying libevent's or the
// system's error text instead of a half-open object. Callbacks are std::function objects owned
// by the wrapper; an owner must outlive neither its EventBase nor be destroyed from another
// thread. Everything here is single-threaded: one loop, one thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/os/result.h"

struct event_base;
struct event;
struct bufferevent;
struct evbuffer;

namespace tcpcopy::os {

using Duration = std::chrono::microseconds;

class EventBase {
  public:
    // `priorities` > 1 gives the loop that many priority levels (0 runs first); events start in the
    // middle one (priorities / 2). A loop turn runs only the most urgent ready level.
    static Result<EventBase> create(int priorities = 1);

    EventBase(EventBase&&) noexcept = default;
    EventBase& operator=(EventBase&&) noexcept = default;
    ~EventBase();

    event_base* get() const { return base_.get(); }
    // Runs until loopExit()/loopBreak() or until no events remain. Returns false on a libevent error.
    bool dispatch();
    // Runs the callbacks that are ready (and waits for at most one batch when `block`).
    bool runOnce(bool block = false);
    // Makes dispatch() return after the active callbacks (optionally after `delay`).
    void loopExit(std::optional<Duration> delay = std::nullopt);
    void loopBreak();
    // Call in the child after fork() (daemonize()) before running the loop again.
    bool reinitAfterFork();
    // Monotonic time (steady_clock), for timeouts computed alongside the loop.
    std::chrono::steady_clock::time_point now() const;

  private:
    struct Deleter {
        void operator()(event_base* base) const;
    };
    explicit EventBase(event_base* base) : base_(base) {}
    std::unique_ptr<event_base, Deleter> base_;
};

// One libevent event with its callback. The callback gets the libevent `what` flags
// (EV_TIMEOUT/EV_READ/EV_WRITE/EV_SIGNAL).
class Event {
  public:
    using Callback = std::function<void(short what)>;

    // A one-shot timer (re-arm with add()), or a periodic one when `persist`.
    static Result<Event> timer(EventBase& base, Callback callback, bool persist = false);
    // Readiness of `fd` (EV_READ and/or EV_WRITE), persistent. The fd stays owned by the caller.
    static Result<Event> fd(EventBase& base, int fd, short what, Callback callback);
    // Delivery of `signo` through the loop (evsignal); persistent.
    static Result<Event> signal(EventBase& base, int signo, Callback callback);

    Event(Event&&) noexcept;
    Event& operator=(Event&&) noexcept;
    ~Event();

    // Arms the event, with a timeout when given (for timers: the delay). False on libevent error.
    bool add(std::optional<Duration> timeout = std::nullopt);
    void del();
    bool pending() const;
    // Makes the callback run in the current loop iteration, after the callbacks already due in it
    // (event_active with EV_TIMEOUT); a no-op while it is already due. Works whether or not the
    // event was added. Used to do one piece of work per loop turn, after everything the turn read.
    void activate();
    // The event's priority level (see EventBase::create); false when it is out of range or the
    // event is pending.
    bool setPriority(int priority);

  private:
    struct State;
    explicit Event(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// A buffered socket (bufferevent with BEV_OPT_CLOSE_ON_FREE): it owns the fd.
class BufferEvent {
  public:
    using ReadCallback = std::function<void()>;
    using WriteCallback = std::function<void()>;
    // `what` is the BEV_EVENT_* mask: CONNECTED, EOF, ERROR, TIMEOUT.
    using EventCallback = std::function<void(short what)>;

    // Takes ownership of a connected (or listening-accepted) socket fd.
    static Result<BufferEvent> adopt(EventBase& base, int fd);
    // Starts a non-blocking connect to `to`; completion arrives as BEV_EVENT_CONNECTED or ERROR.
    static Result<BufferEvent> connect(EventBase& base, const net::Endpoint& to);

    BufferEvent(BufferEvent&&) noexcept;
    BufferEvent& operator=(BufferEvent&&) noexcept;
    ~BufferEvent();

    void setCallbacks(ReadCallback onRead, WriteCallback onWrite, EventCallback onEvent);
    bool enable(short what);
    // The write callback fires when the output buffer drains to `lowWatermark` bytes or below.
    void setWriteWatermark(std::size_t lowWatermark);
    // Appends to the output buffer; libevent flushes it as the socket allows.
    bool write(net::Bytes data);
    // Moves up to `max` received bytes into `out` (appended); returns the number moved.
    std::size_t read(std::vector<std::byte>& out, std::size_t max = 64 * 1024);
    std::size_t inputLength() const;
    std::size_t outputLength() const;
    int fd() const;
    bufferevent* get() const;

  private:
    struct State;
    explicit BufferEvent(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// Text of the most recent socket error (EVUTIL_SOCKET_ERROR).
std::string lastSocketError();

}  // namespace tcpcopy::os
