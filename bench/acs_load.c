/*
 * acs_load: a minimal scripted CWMP load for bench/acs.sh (until cpe-sim
 * carries the benchmark). N connections in parallel, each running complete
 * sessions, one per new TCP connection:
 *   inform:  Inform -> InformResponse, empty POST -> 204
 *   gpv:     Inform -> InformResponse, empty POST -> GetParameterValues,
 *            GetParameterValuesResponse (P parameters) -> 204
 * Devices are SERIAL-0 .. SERIAL-(D-1), taken round robin.
 * Prints "sessions=N errors=E seconds=S rate=R".
 *
 * cc -O2 -o acs_load acs_load.c -luv
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct slot {
    uv_tcp_t tcp;
    uv_connect_t creq;
    int step;
    long device;
    char *rbuf;
    size_t rlen, rcap;
    char *wbuf;
} slot_t;

static struct sockaddr_in g_addr;
static int g_conns = 64, g_params = 500, g_gpv;
static long g_devices = 100000, g_next, g_sessions, g_errors, g_target, g_started;
static double g_duration = 10;
static uint64_t g_start, g_end;
static const char *g_prefix = "B";
static char *g_gpv_body;
static size_t g_gpv_len;
static uv_loop_t *g_loop;

static void start_session(slot_t *s);

static const char *ENV_HEAD =
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" "
    "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
    "xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\"><soap:Header><cwmp:ID soap:mustUnderstand=\"1\">%s"
    "</cwmp:ID></soap:Header><soap:Body>";

static char *make_inform(long dev, size_t *len)
{
    char head[1024], *out, *body;
    snprintf(head, sizeof head, ENV_HEAD, "1");
    int n = asprintf(&body,
        "%s<cwmp:Inform><DeviceId><Manufacturer>Bench</Manufacturer><OUI>00D09E</OUI>"
        "<ProductClass>IGD</ProductClass><SerialNumber>%s-%ld</SerialNumber></DeviceId>"
        "<Event soapenc:arrayType=\"cwmp:EventStruct[1]\"><EventStruct><EventCode>2 PERIODIC"
        "</EventCode><CommandKey></CommandKey></EventStruct></Event><MaxEnvelopes>1</MaxEnvelopes>"
        "<CurrentTime>2026-01-01T00:00:00Z</CurrentTime><RetryCount>0</RetryCount>"
        "<ParameterList soapenc:arrayType=\"cwmp:ParameterValueStruct[3]\">"
        "<ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.SoftwareVersion</Name>"
        "<Value xsi:type=\"xsd:string\">1.0.0</Value></ParameterValueStruct>"
        "<ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.HardwareVersion</Name>"
        "<Value xsi:type=\"xsd:string\">HW1</Value></ParameterValueStruct>"
        "<ParameterValueStruct><Name>InternetGatewayDevice.ManagementServer.PeriodicInformInterval"
        "</Name><Value xsi:type=\"xsd:unsignedInt\">86400</Value></ParameterValueStruct>"
        "</ParameterList></cwmp:Inform></soap:Body></soap:Envelope>",
        head, g_prefix, dev);
    n = asprintf(&out, "POST /cwmp HTTP/1.1\r\nHost: acs\r\nContent-Type: text/xml\r\n"
                       "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    free(body);
    *len = (size_t)n;
    return out;
}

static void make_gpv(void)
{
    size_t cap = (size_t)g_params * 200 + 4096, len = 0;
    char *body = malloc(cap), head[1024];
    snprintf(head, sizeof head, ENV_HEAD, "ID");
    len += (size_t)sprintf(body + len, "%s<cwmp:GetParameterValuesResponse><ParameterList "
                           "soapenc:arrayType=\"cwmp:ParameterValueStruct[%d]\">", head, g_params);
    for (int i = 0; i < g_params; i++)
        len += (size_t)sprintf(body + len, "<ParameterValueStruct><Name>InternetGatewayDevice."
                               "X_Bench.Param.%d.Value</Name><Value xsi:type=\"xsd:string\">"
                               "value-%d</Value></ParameterValueStruct>", i + 1, i);
    len += (size_t)sprintf(body + len, "</ParameterList></cwmp:GetParameterValuesResponse>"
                           "</soap:Body></soap:Envelope>");
    g_gpv_len = (size_t)asprintf(&g_gpv_body, "POST /cwmp HTTP/1.1\r\nHost: acs\r\n"
                                 "Content-Type: text/xml\r\nContent-Length: %zu\r\n\r\n%s", len, body);
    free(body);
}

static const char EMPTY_POST[] = "POST /cwmp HTTP/1.1\r\nHost: acs\r\nContent-Length: 0\r\n\r\n";

static void on_write(uv_write_t *w, int status)
{
    free(w);
}

static void send_raw(slot_t *s, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    uv_write(w, (uv_stream_t *)&s->tcp, &b, 1, on_write);
}

static void on_close(uv_handle_t *h)
{
    slot_t *s = h->data;
    free(s->wbuf);
    s->wbuf = NULL;
    uint64_t now = uv_now(g_loop);
    if ((g_target && g_started >= g_target) || (!g_target && now >= g_end))
        return;
    start_session(s);
}

static void fail(slot_t *s)
{
    g_errors++;
    uv_close((uv_handle_t *)&s->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    slot_t *s = h->data;
    if (s->rcap - s->rlen < 65536) {
        s->rcap = s->rcap * 2 + 65536;
        s->rbuf = realloc(s->rbuf, s->rcap);
    }
    *b = uv_buf_init(s->rbuf + s->rlen, (unsigned)(s->rcap - s->rlen - 1));
}

/* A complete response in rbuf? Returns its status, 0 if incomplete. */
static int response_done(slot_t *s, size_t *total)
{
    s->rbuf[s->rlen] = '\0';
    char *eoh = strstr(s->rbuf, "\r\n\r\n");
    if (!eoh)
        return 0;
    size_t hl = (size_t)(eoh - s->rbuf) + 4, cl = 0;
    char *c = strcasestr(s->rbuf, "\r\nContent-Length:");
    if (c && c < eoh)
        cl = strtoul(c + 17, NULL, 10);
    if (s->rlen < hl + cl)
        return 0;
    *total = hl + cl;
    return atoi(s->rbuf + 9);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    slot_t *s = st->data;
    if (n < 0) {
        fail(s);
        return;
    }
    s->rlen += (size_t)n;
    size_t total;
    int status = response_done(s, &total);
    if (!status)
        return;
    memmove(s->rbuf, s->rbuf + total, s->rlen - total);
    s->rlen -= total;
    switch (s->step) {
    case 0: /* InformResponse */
        if (status != 200)
            return fail(s);
        s->step = 1;
        send_raw(s, EMPTY_POST, sizeof EMPTY_POST - 1);
        return;
    case 1: /* 204, or the GetParameterValues */
        if (g_gpv && status == 200) {
            s->step = 2;
            send_raw(s, g_gpv_body, g_gpv_len);
            return;
        }
        if (status != 204 || g_gpv)
            return fail(s);
        break;
    case 2:
        if (status != 204)
            return fail(s);
        break;
    }
    g_sessions++;
    uv_close((uv_handle_t *)&s->tcp, on_close);
}

static void on_connect(uv_connect_t *c, int status)
{
    slot_t *s = c->data;
    if (status < 0)
        return fail(s);
    size_t len;
    s->wbuf = make_inform(s->device, &len);
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    send_raw(s, s->wbuf, len);
}

static void start_session(slot_t *s)
{
    s->step = 0;
    s->rlen = 0;
    g_started++;
    s->device = g_next++ % g_devices;
    uv_tcp_init(g_loop, &s->tcp);
    s->tcp.data = s;
    s->creq.data = s;
    uv_tcp_nodelay(&s->tcp, 1);
    uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)&g_addr, on_connect);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 7547;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) g_conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--duration")) g_duration = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--sessions")) g_target = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--devices")) g_devices = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--first")) g_next = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--params")) g_params = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode")) g_gpv = !strcmp(argv[i + 1], "gpv");
        else if (!strcmp(argv[i], "--prefix")) g_prefix = argv[i + 1];
    }
    uv_ip4_addr(host, port, &g_addr);
    g_loop = uv_default_loop();
    if (g_gpv)
        make_gpv();
    slot_t *slots = calloc((size_t)g_conns, sizeof *slots);
    g_start = uv_now(g_loop);
    g_end = g_start + (uint64_t)(g_duration * 1000);
    for (int i = 0; i < g_conns && (!g_target || g_started < g_target); i++)
        start_session(&slots[i]);
    uv_run(g_loop, UV_RUN_DEFAULT);
    uv_update_time(g_loop);
    double secs = (double)(uv_now(g_loop) - g_start) / 1000.0;
    printf("sessions=%ld errors=%ld seconds=%.2f rate=%.0f\n", g_sessions, g_errors, secs,
           g_sessions / secs);
    return g_errors > g_sessions / 100;
}
