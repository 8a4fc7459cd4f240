#include "tcpcopy/os/event.h"

#include <event2/event.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

namespace tcpcopy::os {
namespace {

using namespace std::chrono_literals;

TEST(EventBase, TimerFiresOnceThenLoopEnds) {
    auto base = EventBase::create();
    ASSERT_TRUE(base) << base.error();
    int fired = 0;
    auto timer = Event::timer(base.value(), [&](short what) {
        EXPECT_TRUE(what & EV_TIMEOUT);
        ++fired;
    });
    ASSERT_TRUE(timer) << timer.error();
    ASSERT_TRUE(timer.value().add(5ms));
    EXPECT_TRUE(timer.value().pending());
    EXPECT_TRUE(base.value().dispatch());  // returns when no events remain
    EXPECT_EQ(fired, 1);
    EXPECT_FALSE(timer.value().pending());
}

TEST(EventBase, LowPriorityEventRunsOnlyInTurnsWithNothingMoreUrgent) {
    auto base = EventBase::create(3);
    ASSERT_TRUE(base) << base.error();
    std::string order;
    int urgentLeft = 3;
    std::optional<Event> urgent;
    auto low = Event::timer(base.value(), [&](short) { order += 'L'; });
    auto mid = Event::timer(base.value(), [&](short) {
        order += 'M';
        if (--urgentLeft > 0) urgent->activate();  // more urgent work keeps arriving
    });
    ASSERT_TRUE(low && mid);
    urgent.emplace(std::move(mid).value());
    ASSERT_TRUE(low.value().setPriority(2));
    EXPECT_FALSE(low.value().setPriority(3)) << "out of range";
    low.value().activate();
    urgent->activate();
    while (order.size() < 4) ASSERT_TRUE(base.value().runOnce());
    EXPECT_EQ(order, "MMML");
}

TEST(EventBase, PersistentTimerRepeatsUntilLoopExit) {
    auto base = EventBase::create().value();
    int fired = 0;
    auto timer = Event::timer(
                     base,
                     [&](short) {
                         if (++fired == 3) base.loopExit();
                     },
                     true)
                     .value();
    timer.add(1ms);
    base.dispatch();
    EXPECT_EQ(fired, 3);
}

TEST(EventBase, DestroyedEventNeverFires) {
    auto base = EventBase::create().value();
    int fired = 0;
    {
        auto timer = Event::timer(base, [&](short) { ++fired; }).value();
        timer.add(1ms);
    }
    usleep(3000);
    base.runOnce(false);
    EXPECT_EQ(fired, 0);
}

TEST(EventBase, MovedEventKeepsItsCallback) {
    auto base = EventBase::create().value();
    int fired = 0;
    auto first = Event::timer(base, [&](short) { ++fired; }).value();
    Event moved = std::move(first);
    moved.add(1ms);
    base.dispatch();
    EXPECT_EQ(fired, 1);
}

TEST(EventBase, FdReadinessAndBufferEventRoundTrip) {
    auto base = EventBase::create().value();
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    auto bev = BufferEvent::adopt(base, pair[0]);
    ASSERT_TRUE(bev) << bev.error();
    std::vector<std::byte> got;
    bev.value().setCallbacks(
        [&] {
            bev.value().read(got);
            if (got.size() >= 5) base.loopExit();
        },
        nullptr, nullptr);
    bev.value().enable(EV_READ | EV_WRITE);
    ASSERT_EQ(::write(pair[1], "hello", 5), 5);
    base.dispatch();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), "hello");

    int readable = 0;
    auto ev = Event::fd(base, pair[1], EV_READ, [&](short what) {
                  EXPECT_TRUE(what & EV_READ);
                  char buf[8];
                  EXPECT_EQ(::read(pair[1], buf, sizeof buf), 3);
                  ++readable;
                  base.loopExit();
              }).value();
    ev.add();
    const std::byte data[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
    EXPECT_TRUE(bev.value().write(data));
    base.dispatch();
    EXPECT_EQ(readable, 1);
    ::close(pair[1]);
}

TEST(EventBase, SignalIsDeliveredThroughTheLoop) {
    auto base = EventBase::create().value();
    int got = 0;
    auto sig = Event::signal(base, SIGUSR1, [&](short what) {
        EXPECT_TRUE(what & EV_SIGNAL);
        ++got;
        base.loopExit();
    });
    ASSERT_TRUE(sig) << sig.error();
    sig.value().add();
    auto raise = Event::timer(base, [](short) { ::kill(::getpid(), SIGUSR1); }).value();
    raise.add(1ms);
    base.dispatch();
    EXPECT_EQ(got, 1);
}

TEST(EventBase, ConnectToClosedPortReportsError) {
    auto base = EventBase::create().value();
    // Port 1 on loopback: nothing listens there in the test environment.
    auto bev =
        BufferEvent::connect(base, net::Endpoint{net::Ipv4Addr::fromOctets(127, 0, 0, 1), net::Port(1)});
    if (!bev) {
        EXPECT_FALSE(bev.error().empty());
        return;
    }
    short seen = 0;
    bev.value().setCallbacks(nullptr, nullptr, [&](short what) {
        seen = what;
        base.loopExit();
    });
    base.dispatch();
    EXPECT_TRUE(seen & 0x20 /* BEV_EVENT_ERROR */) << seen;
}

}  // namespace
}  // namespace tcpcopy::os
