"""perf_groups.py FILE [acs]: sum a `perf report --sort dso,sym` listing (lines
of "PERCENT<TAB>DSO [.] SYMBOL") into the groups bench/RESULTS.md's "where
the time goes" tables use. Used by bench/cwmp-proxy.sh PROFILE=1 and, with
`acs` (the ACS's groups: XML decode and encode, the store), by bench/acs.sh
PROFILE=1."""
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

# The ACS: kernel and libc as above; its own libraries and code by task.
# Static functions of the decoder/encoder are named by what they do there.
ACS_GROUPS = [
    ("kernel: epoll, wake-ups, context switches", r"kernel", r"epoll|ep_|wake|^poll|schedul|futex|finish_task_switch|switch_to|pick_next|raw_spin_unlock_irq"),
    GROUPS[0],
    ("kernel: file I/O (the store's WAL and database)", r"kernel", r"ext4|filemap|folio|generic_perform_write|vfs_read|vfs_write|pwrite|pread|mark_buffer|block_|jbd2|page_cache|iomap|fdget_pos|fsnotify|file_"),
    ("kernel: memory (page faults, brk, mmap)", r"kernel", r"fault|handle_mm|anonymous|clear_page|zap_|unmap|mmap|brk|lru|pte|tlb|free_pages|alloc_pages|rmqueue|memcg"),
    ("kernel: entry, other", r"kernel", r"."),
    GROUPS[3], GROUPS[4], GROUPS[5],
    ("HTTP parsing (llhttp, headers)", r".", r"llhttp|http_parser|http_msg|hdr_|on_header|on_url|on_status|span|cookie_|cb_body|cb_headers|on_body"),
    ("XML decode (expat, cwmp_decode)", r"libexpat", r"."),
    ("XML decode (expat, cwmp_decode)", r"outpost", r"cwmp_dec|^on_start$|^on_end$|^on_text$|arena_|cwmp_type_from_name"),
    ("XML encode (cwmp_encode)", r"outpost", r"cwmp_enc|cwmp_xml_escape|^w_|utf8_seq|utf8_chars|value_fits_type"),
    ("store: SQLite", r"libsqlite3", r"."),
    ("store: own code (sq_*, store_*, worker)", r"outpost", r"^sq_|^store_|worker_main|run_batch"),
    ("JSON (task parameters and results, jansson)", r"libjansson", r"."),
    ("JSON (task parameters and results, jansson)", r"outpost", r"jesc|params_text|acs_task_names_parse|acs_result|^json_"),
    ("logging", r".", r"^log_|^lf_|acs_session_log"),
    ("event loop (libuv)", r"libuv", r"."),
    ("TLS/crypto", r"libssl|libcrypto", r"."),
]


def main():
    groups = ACS_GROUPS if len(sys.argv) > 2 and sys.argv[2] == "acs" else GROUPS
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
        for g, dp, sp in groups:
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
