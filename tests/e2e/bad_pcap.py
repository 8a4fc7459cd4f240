#!/usr/bin/env python3
"""Damaged and odd captures for tests/e2e/bad_input_test.sh (standard library only).

  bad_pcap.py truncate IN OUT PREFIX_OUT   OUT: IN cut in the middle of the record after the
                                          first half of the records; PREFIX_OUT: the same
                                          records without the damaged tail (a valid capture)
  bad_pcap.py linktype IN OUT DLT          IN with another link type in its header
  bad_pcap.py twice IN OUT                 IN followed by itself, the copy 2 s after the end
  bad_pcap.py merged IN OUT                every record twice in a row (two capture points
                                          merged, like mergecap of two identical captures)
  bad_pcap.py malformed IN OUT             IN plus, after every client SYN, a copy of it with a
                                          bad header length (IHL 4, IHL beyond the packet, TCP
                                          data offset 3, IP total length below the headers, in
                                          turn); prints how many were added
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import pcaptool  # noqa: E402


def frac_per_second(pcap):
    return 1_000_000_000 if pcap.magic in (0xA1B23C4D, 0x4D3CB2A1) else 1_000_000


def truncate(src, dst, prefix_dst):
    pcap = pcaptool.Pcap.read(src)
    keep = len(pcap.records) // 2
    head = pcaptool.Pcap(pcap.endian, pcap.magic, pcap.header_rest, pcap.linktype, pcap.snaplen,
                         pcap.records[:keep])
    head.write(prefix_dst)
    with open(src, "rb") as f:
        blob = f.read()
    # Offset of record `keep`: header plus every earlier record.
    off = 24 + sum(16 + len(r.data) for r in pcap.records[:keep])
    cut = off + 16 + len(pcap.records[keep].data) // 2
    with open(dst, "wb") as f:
        f.write(blob[:cut])


def linktype(src, dst, dlt):
    pcap = pcaptool.Pcap.read(src)
    pcap.linktype = int(dlt)
    pcap.write(dst)


def twice(src, dst):
    pcap = pcaptool.Pcap.read(src)
    per = frac_per_second(pcap)
    first = pcap.records[0]
    last = pcap.records[-1]
    shift = (last.ts_sec - first.ts_sec + 2) * per + (last.ts_frac - first.ts_frac)
    copies = []
    for r in pcap.records:
        c = r.copy()
        total = r.ts_sec * per + r.ts_frac + shift
        c.ts_sec, c.ts_frac = divmod(total, per)
        copies.append(c)
    pcap.records = pcap.records + copies
    pcap.write(dst)


def merged(src, dst):
    pcap = pcaptool.Pcap.read(src)
    pcap.records = [c for r in pcap.records for c in (r, r.copy())]
    pcap.write(dst)


def malformed(src, dst):
    pcap = pcaptool.Pcap.read(src)
    out = []
    added = 0
    for r in pcap.records:
        out.append(r)
        t = pcaptool.decode(pcap.linktype, r.data)
        if t is None or not (t.flags & pcaptool.TH_SYN) or (t.flags & pcaptool.TH_ACK):
            continue
        bad = r.copy()
        d = bad.data
        kind = added % 4
        if kind == 0:
            d[t.ip_off] = 0x44  # IHL 4: shorter than the fixed IPv4 header
        elif kind == 1:
            d[t.ip_off] = 0x4F  # IHL 15 (60 bytes): options the packet does not hold
            struct.pack_into("!H", d, t.ip_off + 2, 60)
        elif kind == 2:
            d[t.tcp_off + 12] = (3 << 4) | (d[t.tcp_off + 12] & 0x0F)  # TCP data offset 3
        else:
            struct.pack_into("!H", d, t.ip_off + 2, t.ip_hlen + 8)  # total length inside TCP header
        out.append(bad)
        added += 1
    pcap.records = out
    pcap.write(dst)
    print(added)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "truncate" and len(argv) == 5:
        truncate(argv[2], argv[3], argv[4])
    elif cmd == "linktype" and len(argv) == 5:
        linktype(argv[2], argv[3], argv[4])
    elif cmd == "twice" and len(argv) == 4:
        twice(argv[2], argv[3])
    elif cmd == "merged" and len(argv) == 4:
        merged(argv[2], argv[3])
    elif cmd == "malformed" and len(argv) == 4:
        malformed(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
