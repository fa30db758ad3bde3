#!/usr/bin/env python3
# heapcheck: an independent decoder of kiln heap traces for the tracker's
# end-to-end test (src/base/heaptrace.h, format version 2, re-implemented
# here on purpose: record heads, thread streams, back-referencing frees).
# Prints one "key value" line per fact; a trace cut short is decoded up to
# its last complete chunk ("complete 0").
import struct, sys, zlib

BACKREFS = 4096

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return v, i

def string(b, i):
    n, i = varint(b, i)
    return b[i:i + n], i + n

# record type -> fields (h & 3 == 3, type h >> 2)
FIELDS = {1: "vvvvss", 2: "vvv", 3: "vv", 4: "v", 5: "vvs", 6: "vv", 7: "vvv",
          8: "vvvv", 9: "vvv", 10: "vvv", 11: "vv"}

def decode(path):
    """The records, as (type, values) with the stream state applied:
    ("alloc", [time, size, stack, tid]), ("free", [time, size, stack, tid,
    temporary]), events get time and tid appended, other records as they
    are."""
    data = open(path, "rb").read()
    assert data[:8] == b"KILNHEAP", "bad magic"
    ver, hsize = struct.unpack_from("<II", data, 8)
    assert ver == 2, "format version %d" % ver
    pid, ppid, sample, flags = struct.unpack_from("<IIII", data, 32)
    recs, off, complete = [], hsize, True
    rings, tids = {}, {}
    while off < len(data):
        if off + 16 > len(data):
            complete = False; break
        magic, clen, rlen, crc = struct.unpack_from("<IIII", data, off)
        if magic != 0x3243484b or off + 16 + clen > len(data):
            complete = False; break
        raw = zlib.decompress(data[off + 16:off + 16 + clen], -15)
        assert len(raw) == rlen and zlib.crc32(raw) == crc, "bad chunk"
        i, serial, now, tid = 0, None, 0, 0
        while i < len(raw):
            h, i = varint(raw, i)
            tag = h & 3
            if tag != 3:
                assert serial is not None, "event outside a stream"
                ring = rings.setdefault(serial, []) if serial else None
                if tag == 1:
                    back = h >> 2
                    assert ring is not None and 1 <= back <= len(ring), "bad back-reference"
                    size, stack = ring[-back]
                    recs.append(("free", [now, size, stack, tid, back == 1]))
                    continue
                size, (stack, i) = h >> 2, varint(raw, i)
                if tag == 0:
                    if ring is not None:
                        ring.append((size, stack))
                        del ring[:-BACKREFS]
                    recs.append(("alloc", [now, size, stack, tid]))
                else:
                    recs.append(("free", [now, size, stack, tid, False]))
                continue
            t = h >> 2
            vals = []
            for f in FIELDS[t]:
                if f == "v":
                    v, i = varint(raw, i)
                else:
                    v, i = string(raw, i)
                vals.append(v)
            if t == 3:
                serial, now = vals
                tid = tids.get(serial, 0)
                continue
            if t == 4:
                now += vals[0]
                continue
            if t == 5:
                tids[vals[0]] = vals[1]
                if vals[0] == serial:
                    tid = vals[1]
            if t in (7, 10, 11):
                vals += [now, tid]
            recs.append((t, vals))
        off += 16 + clen
    return dict(version=ver, pid=pid, ppid=ppid, sample=sample, flags=flags), recs, complete

def symbols(binary):
    import subprocess
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        p = line.split()
        if len(p) == 3 and p[1] in "tTwW":
            syms.append((int(p[0], 16), p[2]))
    return sorted(syms)

def main():
    path = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else None
    hdr, recs, complete = decode(path)
    print("complete", int(complete))
    for k, v in hdr.items():
        print(k, v)
    alloc = free = abytes = 0
    live = {}  # (size, stack) -> blocks live
    tids = set()
    stacks, mods = {}, []
    counts = {}
    for t, v in recs:
        counts[t] = counts.get(t, 0) + 1
        if t in ("alloc", "free"):
            assert v[2] == 0 or v[2] in stacks, "an event before its stack"
            key = (v[1], v[2])
        if t == "alloc":
            alloc += 1; abytes += v[1]; live[key] = live.get(key, 0) + 1; tids.add(v[3])
        elif t == "free":
            free += 1; live[key] = live.get(key, 0) - 1
        elif t == 2:
            assert v[1] == 0 or v[1] in stacks, "stack node before its parent"
            stacks[v[0]] = (v[1], v[2])
        elif t == 1:
            mods.append(v)
    for t, v in recs:  # every event's stack is defined before use
        if t in (7, 10):
            sid = v[1] if t == 7 else v[2]
            assert sid == 0 or sid in stacks, "undefined stack %d" % sid
    print("allocs", alloc)
    print("frees", free)
    print("alloc_bytes", abytes)
    print("leaked", sum(live.values()))
    print("leaked_bytes", sum(n * size for (size, _), n in live.items()))
    print("alloc_tids", len(tids))
    print("threads", counts.get(5, 0))
    print("bad_free", counts.get(7, 0))
    print("double_free", sum(1 for t, v in recs if t == 7 and v[2] == 1))
    print("end", ",".join("%d:%d" % (v[1], v[2]) for t, v in recs if t == 9) or "none")
    print("rss", counts.get(6, 0))
    print("mmaps", counts.get(10, 0))
    print("modules", len(mods))
    for m in mods:
        hits = sum(1 for p, ip in stacks.values() if m[1] <= ip < m[2])
        print("module", m[4].decode(errors="replace"), hits)
    if binary:
        # name the binary's functions on each allocation stack
        import os, bisect
        real = os.path.realpath(binary)
        syms = symbols(binary)
        addrs = [a for a, _ in syms]
        ranges = [(m[1], m[2], m[1] - m[3]) for m in mods
                  if os.path.realpath(m[4].decode()) == real]
        def name(ip):
            # ELF vaddr = ip - (start - file_offset): ld keeps vaddr == offset
            # modulo the page for the text of these test programs
            for lo, hi, base in ranges:
                if lo <= ip - 1 < hi:
                    k = bisect.bisect_right(addrs, ip - 1 - base) - 1
                    return syms[k][1] if k >= 0 else None
            return None
        sites = {}
        leaks = {}
        def key_of(sid):
            names = []
            while sid:
                parent, ip = stacks[sid]
                n = name(ip)
                if n:
                    names.append(n)
                sid = parent
            return ";".join(reversed(names)) or "-"
        for t, v in recs:
            if t != "alloc":
                continue
            c = sites.setdefault(key_of(v[2]), [0, 0])
            c[0] += 1
            c[1] += v[1]
        for (size, sid), n in live.items():
            if n <= 0:
                continue
            c = leaks.setdefault(key_of(sid), [0, 0])
            c[0] += n
            c[1] += n * size
        for k in sorted(sites):
            print("site", k, sites[k][0], sites[k][1])
        for k in sorted(leaks):
            print("leak", k, leaks[k][0], leaks[k][1])
    names = sorted(set(v[2].decode(errors="replace") for t, v in recs if t == 5))
    print("thread_names", ",".join(names))

main()
