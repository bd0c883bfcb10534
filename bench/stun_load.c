/*
 * bench/stun_load: a STUN Binding Request load generator for
 * bench/nat-reach.sh (compiled by it; no outpost code). S sockets, each
 * keeping W requests in flight, send TR-111 Binding Requests
 * (CONNECTION-REQUEST-BINDING, USERNAME of device i out of N, FINGERPRINT)
 * for D seconds and count the responses. Usernames follow
 * bench/acs_fleet_seed.py's device ids, so every binding is a real device.
 *
 *   stun_load HOST PORT SOCKETS WINDOW SECONDS DEVICES
 * prints: requests=N responses=N seconds=S rate=R/s
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t put_attr(uint8_t *p, uint16_t type, const void *v, size_t n)
{
    p[0] = (uint8_t)(type >> 8), p[1] = (uint8_t)type, p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
    memcpy(p + 4, v, n);
    size_t pad = (4 - n % 4) % 4;
    memset(p + 4 + n, 0, pad);
    return 4 + n + pad;
}

static size_t request(uint8_t *m, uint32_t i, uint32_t seq)
{
    char user[64];
    int un = snprintf(user, sizeof user, "00D09E-M%u-SN%08u", i % 20, i);
    size_t len = 20;
    len += put_attr(m + len, 0xC001, "dslforum.org/TR-111 ", 20);
    len += put_attr(m + len, 0x0006, user, (size_t)un);
    m[0] = 0, m[1] = 1;
    uint16_t al = (uint16_t)(len - 20 + 8);
    m[2] = (uint8_t)(al >> 8), m[3] = (uint8_t)al;
    uint32_t magic = htonl(0x2112A442);
    memcpy(m + 4, &magic, 4);
    memcpy(m + 8, &i, 4);
    memcpy(m + 12, &seq, 4);
    memset(m + 16, 0x5a, 4);
    uint32_t fp = htonl((uint32_t)crc32(0, m, (uInt)len) ^ 0x5354554e);
    len += put_attr(m + len, 0x8028, &fp, 4);
    return len;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: stun_load HOST PORT SOCKETS WINDOW SECONDS DEVICES\n");
        return 2;
    }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &to.sin_addr);
    int ns = atoi(argv[3]), win = atoi(argv[4]);
    double secs = atof(argv[5]);
    uint32_t devices = (uint32_t)strtoul(argv[6], NULL, 10);
    struct pollfd *pf = calloc((size_t)ns, sizeof *pf);
    for (int s = 0; s < ns; s++) {
        pf[s].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        pf[s].events = POLLIN;
        connect(pf[s].fd, (struct sockaddr *)&to, sizeof to);
    }
    uint64_t sent = 0, got = 0;
    uint32_t next = 0, seq = 0;
    uint8_t m[512], r[2048];
    double t0 = now(), end = t0 + secs, last_send = t0;
    for (int s = 0; s < ns; s++)
        for (int k = 0; k < win; k++) {
            size_t n = request(m, next++ % devices, seq++);
            if (send(pf[s].fd, m, n, 0) > 0)
                sent++;
        }
    while (now() < end) {
        int ready = poll(pf, (nfds_t)ns, 50);
        for (int s = 0; ready > 0 && s < ns; s++) {
            if (!(pf[s].revents & POLLIN))
                continue;
            while (recv(pf[s].fd, r, sizeof r, 0) > 0) {
                got++;
                size_t n = request(m, next++ % devices, seq++);
                if (send(pf[s].fd, m, n, 0) > 0)
                    sent++;
                last_send = now();
            }
        }
        /* lost datagrams (a full socket buffer): refill the windows */
        if (now() - last_send > 0.2) {
            for (int s = 0; s < ns; s++) {
                size_t n = request(m, next++ % devices, seq++);
                if (send(pf[s].fd, m, n, 0) > 0)
                    sent++;
            }
            last_send = now();
        }
    }
    double el = now() - t0;
    printf("requests=%llu responses=%llu seconds=%.1f rate=%.0f/s devices_named=%u\n", (unsigned long long)sent,
           (unsigned long long)got, el, (double)got / el, next < devices ? next : devices);
    return 0;
}
