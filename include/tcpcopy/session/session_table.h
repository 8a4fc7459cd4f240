#pragma once
// Every live session of the engine, owned here: a slab of slots (a session's slot number is its
// timer key), the index by replay flow (what the target's segments carry), the index by captured
// flow (what captured packets carry; a chain when -n makes several copies), and the replay tuples
// in use.
//
// Tuples: a session keeps the tuple it is given (its captured one, or the one -n/-c/-H/-f maps it
// to). Where several captured connections can map to one tuple (remapping mode: copies, a client
// pool, -H, a port shift), a PortAllocator per replay client address records the ports in use and
// hands out a free one in O(1) when the mapped port is taken.

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "tcpcopy/net/types.h"
#include "tcpcopy/session/port_allocator.h"
#include "tcpcopy/session/session.h"

namespace tcpcopy::session {

class SessionTable {
  public:
    using Slot = std::uint32_t;
    static constexpr Slot kNone = UINT32_MAX;
    // Bytes one session costs beyond its own footprint: index entries in both maps, its slot, its
    // timer entry and allocator overhead (an estimate used by -m accounting).
    static constexpr std::size_t kPerSessionOverhead = 128;

    explicit SessionTable(bool remapping) : remapping_(remapping) {}

    // A free replay tuple for a new session that wants `desired`: `desired` itself when no live
    // session holds it; otherwise, in remapping mode, the same address with a free port (`remapped`
    // set); otherwise nullopt.
    std::optional<net::FlowKey> claimTuple(const net::FlowKey& desired, bool& remapped);
    // Adds a session on a tuple claimTuple() returned, to the chain of its captured flow.
    Slot insert(std::unique_ptr<Session> session);
    // Removes the session in `slot` from every index and frees its tuple; returns the session so
    // the caller decides when it dies.
    std::unique_ptr<Session> remove(Slot slot);

    Session* get(Slot slot) const { return slots_[slot].session.get(); }
    Slot byReplay(const net::FlowKey& replay) const;
    // The first session a captured flow feeds (kNone when none); next() walks the copies.
    Slot firstByCaptured(const net::FlowKey& captured) const;
    Slot next(Slot slot) const { return slots_[slot].nextCopy; }
    // Bytes of the session in `slot` already counted in the engine's total.
    std::size_t& accounted(Slot slot) { return slots_[slot].accounted; }

    std::size_t size() const { return byReplay_.size(); }
    bool empty() const { return byReplay_.empty(); }
    // Every occupied slot, in slot order (for the rare walks: input end, abort).
    std::vector<Slot> slots() const;
    std::size_t allocators() const { return allocators_.size(); }

  private:
    struct Entry {
        std::unique_ptr<Session> session;
        Slot nextCopy = kNone;
        std::size_t accounted = 0;
    };
    PortAllocator& allocatorFor(const net::IpAddr& addr);
    void releaseTuple(const net::FlowKey& replay);

    bool remapping_;
    std::vector<Entry> slots_;
    std::vector<Slot> free_;
    absl::flat_hash_map<net::FlowKey, Slot, net::FlowKeyHash> byReplay_;
    absl::flat_hash_map<net::FlowKey, Slot, net::FlowKeyHash> byCaptured_;
    absl::flat_hash_map<net::IpAddr, std::unique_ptr<PortAllocator>, net::IpAddrHash> allocators_;
};

}  // namespace tcpcopy::session
