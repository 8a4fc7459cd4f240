#include "tcpcopy/tunnel/route_table.h"

namespace tcpcopy::tunnel {

RouteTable::RouteTable(RouteTableOptions options) : options_(options) {
    if (options_.maxRoutes == 0) options_.maxRoutes = 1;
}

void RouteTable::peerUp(PeerId peer, std::string owner) { peers_[peer] = std::move(owner); }

bool RouteTable::sameOwner(PeerId a, PeerId b) const {
    if (a == b) return true;
    auto ia = peers_.find(a);
    auto ib = peers_.find(b);
    // A route whose peer is gone (cannot happen: peerDown removes them) is anyone's.
    if (ia == peers_.end()) return true;
    return ib != peers_.end() && !ia->second.empty() && ia->second == ib->second;
}

void RouteTable::peerDown(PeerId peer) {
    peers_.erase(peer);
    for (auto it = lru_.begin(); it != lru_.end();) {
        auto next = std::next(it);
        if (it->peer == peer) {
            erase(it);
            ++counters_.routesRemoved;
        }
        it = next;
    }
}

void RouteTable::erase(Lru::iterator it) {
    routes_.erase(it->flow);
    lru_.erase(it);
}

std::vector<Buffer> RouteTable::addRoute(const net::FlowKey& flow, PeerId peer, TimePoint now) {
    std::vector<Buffer> deliver;
    addRoute(flow, peer, now, deliver);
    return deliver;
}

bool RouteTable::addRoute(const net::FlowKey& flow, PeerId peer, TimePoint now,
                          std::vector<Buffer>& deliver) {
    if (auto found = routes_.find(flow); found != routes_.end()) {
        // An expired route is nobody's any more.
        if (now - found->second->lastUsed < options_.routeTtl && !sameOwner(found->second->peer, peer)) {
            ++counters_.conflicts;
            return false;
        }
        ++counters_.routesAdded;
        found->second->peer = peer;
        found->second->lastUsed = now;
        lru_.splice(lru_.begin(), lru_, found->second);
    } else {
        ++counters_.routesAdded;
        if (routes_.size() >= options_.maxRoutes) {
            expire(now);
            while (routes_.size() >= options_.maxRoutes) {
                erase(std::prev(lru_.end()));
                ++counters_.routesEvicted;
            }
        }
        lru_.push_front(Route{flow, peer, now});
        routes_.emplace(flow, lru_.begin());
    }
    if (auto held = heldByFlow_.find(flow); held != heldByFlow_.end()) {
        for (Held& h : held->second) deliver.push_back(std::move(h.header));
        heldCount_ -= held->second.size();
        counters_.heldDelivered += held->second.size();
        heldByFlow_.erase(held);
    }
    return true;
}

void RouteTable::removeRoute(const net::FlowKey& flow, PeerId peer) {
    auto found = routes_.find(flow);
    if (found == routes_.end() || found->second->peer != peer) return;
    erase(found->second);
    ++counters_.routesRemoved;
}

std::optional<PeerId> RouteTable::resolve(const net::FlowKey& flow, TimePoint now) {
    if (auto peer = resolveRouted(flow, now)) return peer;
    // Only one tcpcopy connected (one connection, or several of the same owner: -C, a
    // reconnect): the response can only be its.
    if (peers_.empty()) return std::nullopt;
    const PeerId first = peers_.begin()->first;
    for (const auto& [peer, owner] : peers_) {
        if (!sameOwner(first, peer)) return std::nullopt;
    }
    return first;
}

std::optional<PeerId> RouteTable::resolveRouted(const net::FlowKey& flow, TimePoint now) {
    if (auto found = routes_.find(flow); found != routes_.end()) {
        Route& route = *found->second;
        if (now - route.lastUsed < options_.routeTtl) {
            route.lastUsed = now;
            lru_.splice(lru_.begin(), lru_, found->second);
            return route.peer;
        }
        erase(found->second);
        ++counters_.routesExpired;
    }
    return std::nullopt;
}

bool RouteTable::hold(const net::FlowKey& flow, net::Bytes header, TimePoint now) {
    if (heldCount_ >= options_.maxHeld) {
        expire(now);
        if (heldCount_ >= options_.maxHeld) {
            ++counters_.heldOverflow;
            return false;
        }
    }
    heldByFlow_[flow].push_back(Held{now, Buffer(header.begin(), header.end())});
    heldOrder_.emplace_back(now, flow);
    ++heldCount_;
    ++counters_.held;
    return true;
}

void RouteTable::expire(TimePoint now) {
    // Least recently used routes sit at the back: stop at the first one still fresh.
    while (!lru_.empty() && now - lru_.back().lastUsed >= options_.routeTtl) {
        erase(std::prev(lru_.end()));
        ++counters_.routesExpired;
    }
    while (!heldOrder_.empty() && now - heldOrder_.front().first >= options_.holdTime) {
        auto [since, flow] = heldOrder_.front();
        heldOrder_.pop_front();
        auto bucket = heldByFlow_.find(flow);
        // The entry is stale when its responses were delivered already.
        if (bucket == heldByFlow_.end() || bucket->second.empty() || bucket->second.front().since != since) {
            continue;
        }
        bucket->second.pop_front();
        --heldCount_;
        ++counters_.heldExpired;
        if (bucket->second.empty()) heldByFlow_.erase(bucket);
    }
}

}  // namespace tcpcopy::tunnel
