"""perf_groups.py FILE: sum a `perf report --sort dso,sym` listing (lines of
"PERCENT<TAB>DSO [.] SYMBOL") into the groups bench/RESULTS.md's "where the
time goes" tables use. Used by bench/cwmp-proxy.sh PROFILE=1."""
import re
import sys

# (group, dso pattern, symbol pattern): first match wins
GROUPS = [
    ("kernel: TCP/IP and loopback", r"kernel", r"tcp|ip_|inet|sk_|skb|sock|loopback|net_|napi|__dev|netif|__sys_(send|recv|connect|accept)|nf_|dst_|release_sock|lock_sock"),
    ("kernel: epoll and wake-ups", r"kernel", r"epoll|ep_|wake|poll|schedul|futex"),
    ("kernel: entry, files, other", r"kernel", r"."),
    ("allocation (malloc/free)", r"libc", r"malloc|free|calloc|realloc|_int_|tcache|arena|cfree|unlink_chunk|consolidate"),
    ("memory copies and searches (libc)", r"libc", r"mem|str|__memmove|__memchr"),
    ("libc: system call wrappers, other", r"libc", r"."),
    ("HTTP parsing (llhttp, headers)", r".", r"llhttp|http_parser|http_msg|hdr_|on_header|on_url|on_status|span|cookie_"),
    ("rewrite scan (crurl, expat)", r".", r"crurl|scan_|XML_|expat|xmlrole|little2|normal_|big2|PREFIX|storeAtts|doContent|contentProcessor"),
    ("logging", r".", r"^log_|log_|lf_"),
    ("event loop (libuv)", r"libuv", r"."),
    ("TLS/crypto", r"libssl|libcrypto", r"."),
]


def main():
    tot = {}
    other = {}
    for line in open(sys.argv[1]):
        pct, _, rest = line.rstrip("\n").partition("\t")
        try:
            p = float(pct)
        except ValueError:
            continue
        m = re.match(r"(\S+)\s+\[[.k]\]\s+(.*)", rest)
        dso, sym = (m.group(1), m.group(2)) if m else (rest, "")
        for g, dp, sp in GROUPS:
            if re.search(dp, dso) and re.search(sp, sym):
                tot[g] = tot.get(g, 0) + p
                break
        else:
            key = f"{dso}: own code"
            tot[key] = tot.get(key, 0) + p
            other.setdefault(key, []).append((p, sym))
    for g, p in sorted(tot.items(), key=lambda x: -x[1]):
        top = ""
        if g in other:
            top = " (" + ", ".join(s for _, s in sorted(other[g], reverse=True)[:4]) + ")"
        print(f"  {p:5.1f}%  {g}{top}")


main()
