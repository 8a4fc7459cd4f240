#include "tcpcopy/os/event.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "tcpcopy/os/socket_address.h"

namespace tcpcopy::os {
namespace {

timeval toTimeval(Duration d) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000000);
    tv.tv_usec = static_cast<suseconds_t>(d.count() % 1000000);
    return tv;
}

}  // namespace

std::string lastSocketError() { return evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()); }

void EventBase::Deleter::operator()(event_base* base) const { event_base_free(base); }

Result<EventBase> EventBase::create(int priorities) {
    event_base* base = event_base_new();
    if (base == nullptr) return Result<EventBase>::fail("event_base_new failed: " + lastSocketError());
    if (priorities > 1 && event_base_priority_init(base, priorities) != 0) {
        event_base_free(base);
        return Result<EventBase>::fail("event_base_priority_init(" + std::to_string(priorities) + ") failed");
    }
    return Result<EventBase>::ok(EventBase(base));
}

EventBase::~EventBase() = default;

bool EventBase::dispatch() { return event_base_dispatch(base_.get()) != -1; }

bool EventBase::runOnce(bool block) {
    return event_base_loop(base_.get(), block ? EVLOOP_ONCE : EVLOOP_NONBLOCK) != -1;
}

void EventBase::loopExit(std::optional<Duration> delay) {
    if (delay) {
        timeval tv = toTimeval(*delay);
        event_base_loopexit(base_.get(), &tv);
    } else {
        event_base_loopexit(base_.get(), nullptr);
    }
}

void EventBase::loopBreak() { event_base_loopbreak(base_.get()); }

bool EventBase::reinitAfterFork() { return event_reinit(base_.get()) == 0; }

std::chrono::steady_clock::time_point EventBase::now() const { return std::chrono::steady_clock::now(); }

// ---- Event ----

struct Event::State {
    event* ev = nullptr;
    Callback callback;
    ~State() {
        if (ev != nullptr) event_free(ev);
    }
};

namespace {
void eventTrampoline(evutil_socket_t, short what, void* arg) {
    auto* callback = static_cast<Event::Callback*>(arg);
    (*callback)(what);
}
}  // namespace

Event::Event(std::unique_ptr<State> state) : state_(std::move(state)) {}
Event::Event(Event&&) noexcept = default;
Event& Event::operator=(Event&&) noexcept = default;
Event::~Event() = default;

Result<Event> Event::timer(EventBase& base, Callback callback, bool persist) {
    auto state = std::make_unique<State>();
    state->callback = std::move(callback);
    state->ev = event_new(base.get(), -1, persist ? EV_PERSIST : 0, eventTrampoline, &state->callback);
    if (state->ev == nullptr) return Result<Event>::fail("event_new (timer) failed");
    return Result<Event>::ok(Event(std::move(state)));
}

Result<Event> Event::fd(EventBase& base, int fd, short what, Callback callback) {
    auto state = std::make_unique<State>();
    state->callback = std::move(callback);
    state->ev =
        event_new(base.get(), fd, static_cast<short>(what | EV_PERSIST), eventTrampoline, &state->callback);
    if (state->ev == nullptr)
        return Result<Event>::fail("event_new for fd " + std::to_string(fd) + " failed");
    return Result<Event>::ok(Event(std::move(state)));
}

Result<Event> Event::signal(EventBase& base, int signo, Callback callback) {
    auto state = std::make_unique<State>();
    state->callback = std::move(callback);
    state->ev = evsignal_new(base.get(), signo, eventTrampoline, &state->callback);
    if (state->ev == nullptr) {
        return Result<Event>::fail("evsignal_new for signal " + std::to_string(signo) + " failed");
    }
    return Result<Event>::ok(Event(std::move(state)));
}

bool Event::add(std::optional<Duration> timeout) {
    if (timeout) {
        timeval tv = toTimeval(*timeout);
        return event_add(state_->ev, &tv) == 0;
    }
    return event_add(state_->ev, nullptr) == 0;
}

void Event::del() {
    if (state_) event_del(state_->ev);
}

void Event::activate() {
    if (state_) event_active(state_->ev, EV_TIMEOUT, 0);
}

bool Event::setPriority(int priority) { return state_ && event_priority_set(state_->ev, priority) == 0; }

bool Event::pending() const {
    return state_ && event_pending(state_->ev, EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL, nullptr) != 0;
}

// ---- BufferEvent ----

struct BufferEvent::State {
    bufferevent* bev = nullptr;
    ReadCallback onRead;
    WriteCallback onWrite;
    EventCallback onEvent;
    ~State() {
        if (bev != nullptr) bufferevent_free(bev);
    }
};

BufferEvent::BufferEvent(std::unique_ptr<State> state) : state_(std::move(state)) {}
BufferEvent::BufferEvent(BufferEvent&&) noexcept = default;
BufferEvent& BufferEvent::operator=(BufferEvent&&) noexcept = default;
BufferEvent::~BufferEvent() = default;

Result<BufferEvent> BufferEvent::adopt(EventBase& base, int fd) {
    auto state = std::make_unique<State>();
    evutil_make_socket_nonblocking(fd);
    state->bev = bufferevent_socket_new(base.get(), fd, BEV_OPT_CLOSE_ON_FREE);
    if (state->bev == nullptr) {
        ::close(fd);
        return Result<BufferEvent>::fail("bufferevent_socket_new failed");
    }
    return Result<BufferEvent>::ok(BufferEvent(std::move(state)));
}

Result<BufferEvent> BufferEvent::connect(EventBase& base, const net::Endpoint& to) {
    auto state = std::make_unique<State>();
    state->bev = bufferevent_socket_new(base.get(), -1, BEV_OPT_CLOSE_ON_FREE);
    if (state->bev == nullptr) return Result<BufferEvent>::fail("bufferevent_socket_new failed");
    SockAddr sin = toSockaddr(to);
    if (bufferevent_socket_connect(state->bev, sin.get(), static_cast<int>(sin.length)) != 0) {
        return Result<BufferEvent>::fail("connect to " + to.toString() + ": " + lastSocketError());
    }
    return Result<BufferEvent>::ok(BufferEvent(std::move(state)));
}

void BufferEvent::setCallbacks(ReadCallback onRead, WriteCallback onWrite, EventCallback onEvent) {
    State* s = state_.get();
    s->onRead = std::move(onRead);
    s->onWrite = std::move(onWrite);
    s->onEvent = std::move(onEvent);
    bufferevent_setcb(
        s->bev,
        [](bufferevent*, void* arg) {
            auto* st = static_cast<State*>(arg);
            if (st->onRead) st->onRead();
        },
        [](bufferevent*, void* arg) {
            auto* st = static_cast<State*>(arg);
            if (st->onWrite) st->onWrite();
        },
        [](bufferevent*, short what, void* arg) {
            auto* st = static_cast<State*>(arg);
            if (st->onEvent) st->onEvent(what);
        },
        s);
}

bool BufferEvent::enable(short what) { return bufferevent_enable(state_->bev, what) == 0; }

void BufferEvent::setWriteWatermark(std::size_t lowWatermark) {
    bufferevent_setwatermark(state_->bev, EV_WRITE, lowWatermark, 0);
}

bool BufferEvent::write(net::Bytes data) {
    return bufferevent_write(state_->bev, data.data(), data.size()) == 0;
}

std::size_t BufferEvent::read(std::vector<std::byte>& out, std::size_t max) {
    evbuffer* in = bufferevent_get_input(state_->bev);
    std::size_t n = std::min(max, evbuffer_get_length(in));
    if (n == 0) return 0;
    std::size_t old = out.size();
    out.resize(old + n);
    int got = evbuffer_remove(in, out.data() + old, n);
    if (got < 0) got = 0;
    out.resize(old + static_cast<std::size_t>(got));
    return static_cast<std::size_t>(got);
}

std::size_t BufferEvent::inputLength() const {
    return evbuffer_get_length(bufferevent_get_input(state_->bev));
}
std::size_t BufferEvent::outputLength() const {
    return evbuffer_get_length(bufferevent_get_output(state_->bev));
}
int BufferEvent::fd() const { return static_cast<int>(bufferevent_getfd(state_->bev)); }
bufferevent* BufferEvent::get() const { return state_->bev; }

}  // namespace tcpcopy::os
