/*
 * cwmp_encode: the envelope writer. Element order, arrayType attributes and
 * value constraints follow the BBF cwmp-1-0/1-1/1-2 schemas; anything that
 * would not validate is refused with -EINVAL before it reaches the wire.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/cwmp.h"
#include "core/str.h"

#define UNKNOWN_TIME "0001-01-01T00:00:00Z"

/* ---- escaping and value checks ------------------------------------------ */

/* Length of a valid UTF-8 sequence starting at s (n bytes left), 0 if bad. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF)
        return 0;
    return len;
}

int cwmp_xml_escape(buf_t *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* bytes copied verbatim in one go */
    int rc;
    for (size_t i = 0; i < n;) {
        /* plain printable ASCII (most of any name or value) goes by in runs */
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '&' && p[i] != '<' && p[i] != '>' &&
            p[i] != '"' && p[i] != '\'') {
            run++;
            i++;
            continue;
        }
        const char *rep = NULL;
        switch (p[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#13;"; break; /* survives end-of-line normalisation */
        case '\t':
        case '\n': break;
        default:
            if (p[i] < 0x20 || p[i] == 0x7F)
                return -EINVAL;
        }
        if (rep) {
            if (run && (rc = buf_append(out, s + i - run, run)) < 0)
                return rc;
            run = 0;
            if ((rc = buf_append_str(out, rep)) < 0)
                return rc;
            i++;
            continue;
        }
        size_t l = utf8_seq(p + i, n - i);
        if (l == 0)
            return -EINVAL;
        run += l;
        i += l;
    }
    if (run && (rc = buf_append(out, s + n - run, run)) < 0)
        return rc;
    return 0;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The simple xsd types a typed Value is checked against (xsi:type makes the
 * validator check the lexical form, so must we). Others pass as they are. */
static bool value_fits_type(const char *type, const char *v)
{
    if (!type)
        return true;
    const char *t = strchr(type, ':');
    t = t ? t + 1 : type;
    const char *d = v[0] == '-' || v[0] == '+' ? v + 1 : v;
    if (strcmp(t, "boolean") == 0)
        return !strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "1");
    if (strcmp(t, "unsignedInt") == 0 || strcmp(t, "unsignedLong") == 0)
        return v[0] != '-' && all_digits(v[0] == '+' ? v + 1 : v, 1, 20);
    if (strcmp(t, "int") == 0 || strcmp(t, "long") == 0)
        return all_digits(d, 1, 19);
    if (strcmp(t, "dateTime") == 0) {
        /* YYYY-MM-DDThh:mm:ss[.frac][Z|(+|-)hh:mm] */
        size_t n = strlen(v);
        return n >= 19 && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' &&
               v[16] == ':';
    }
    if (strcmp(t, "hexBinary") == 0) {
        size_t n = strlen(v);
        if (n % 2)
            return false;
        for (size_t i = 0; i < n; i++)
            if (str_hexval(v[i]) < 0)
                return false;
    }
    return true;
}

/* TransferFileType / DownloadFileType: "N word..." or "X OUI text". */
static bool file_type_ok(const char *s)
{
    if (!s || utf8_chars(s) > 64)
        return false;
    if (s[0] == 'X' && s[1] == ' ')
        return strchr(s + 2, ' ') != NULL;
    if (s[0] < '1' || s[0] > '9')
        return false;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    return p[0] == ' ' && p[1] && p[1] != ' ';
}

static bool event_code_ok(const char *s)
{
    if (!s || !*s || utf8_chars(s) > 64)
        return false;
    if (s[0] == 'M' || s[0] == 'X')
        return s[1] == ' ' && s[2] && s[2] != ' ';
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    return p != s && p[0] == ' ' && p[1] && p[1] != ' ';
}

static bool fault_code_ok(int code, bool cpe_only)
{
    if (code >= 9000 && code <= 9899)
        return true;
    return !cpe_only && code >= 8000 && code <= 8899;
}

bool cwmp_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7F)
            return false;
        size_t l = utf8_seq(p + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

bool cwmp_value_ok(const char *type, const char *value)
{
    return cwmp_text_ok(value) && value_fits_type(type, value);
}

/* ---- writer --------------------------------------------------------------- */

typedef struct w {
    buf_t *out;
    int rc; /* first error; everything after it is a no-op */
} w_t;

static void w_raw(w_t *w, const char *s)
{
    if (!w->rc)
        w->rc = buf_append_str(w->out, s);
}

static void w_fmt(w_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_fmt(w_t *w, const char *fmt, ...)
{
    if (w->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    w->rc = buf_vprintf(w->out, fmt, ap);
    va_end(ap);
}

static void w_text(w_t *w, const char *s)
{
    if (!w->rc && s)
        w->rc = cwmp_xml_escape(w->out, s, strlen(s));
}

static void w_fail(w_t *w)
{
    if (!w->rc)
        w->rc = -EINVAL;
}

/* <Tag>escaped text</Tag>, text limited to maxlen characters (0 = none). */
static void w_elem(w_t *w, const char *tag, const char *s, size_t maxlen)
{
    if (!s)
        s = "";
    if (maxlen && utf8_chars(s) > maxlen)
        w_fail(w);
    /* Plain appends: this runs for every name of a long list. */
    w_raw(w, "<");
    w_raw(w, tag);
    w_raw(w, ">");
    w_text(w, s);
    w_raw(w, "</");
    w_raw(w, tag);
    w_raw(w, ">");
}

static void w_uint(w_t *w, const char *tag, unsigned long long v)
{
    w_fmt(w, "<%s>%llu</%s>", tag, v, tag);
}

static void w_bool(w_t *w, const char *tag, bool v)
{
    w_fmt(w, "<%s>%d</%s>", tag, v ? 1 : 0, tag);
}

static void w_time(w_t *w, const char *tag, const char *t)
{
    if (t && !value_fits_type("xsd:dateTime", t))
        w_fail(w);
    w_elem(w, tag, t ? t : UNKNOWN_TIME, 0);
}

static void w_status(w_t *w, int status)
{
    if (status != 0 && status != 1)
        w_fail(w);
    w_uint(w, "Status", (unsigned)status);
}

static void w_string_array(w_t *w, const char *tag, const char *const *v, size_t n, size_t maxlen,
                           bool need_one)
{
    if (need_one && n == 0)
        w_fail(w);
    w_fmt(w, "<%s soap-enc:arrayType=\"xsd:string[%zu]\">", tag, n);
    for (size_t i = 0; i < n; i++)
        w_elem(w, "string", v[i], maxlen);
    w_fmt(w, "</%s>", tag);
}

static void w_value_list(w_t *w, const char *tag, const cwmp_param_t *p, size_t n)
{
    w_fmt(w, "<%s soap-enc:arrayType=\"cwmp:ParameterValueStruct[%zu]\">", tag, n);
    for (size_t i = 0; i < n; i++) {
        const char *type = p[i].type ? p[i].type : "xsd:string";
        const char *v = p[i].value ? p[i].value : "";
        if (!p[i].name || !value_fits_type(type, v) || strchr(type, '"') || strchr(type, '<'))
            w_fail(w);
        w_raw(w, "<ParameterValueStruct>");
        w_elem(w, "Name", p[i].name, 256);
        w_fmt(w, "<Value xsi:type=\"%s\">", type);
        w_text(w, v);
        w_raw(w, "</Value></ParameterValueStruct>");
    }
    w_fmt(w, "</%s>", tag);
}

/* AccessList entries are joined by ',' in cwmp_param_t. */
static void w_access_list(w_t *w, const char *list)
{
    size_t n = 0;
    if (list && *list) {
        n = 1;
        for (const char *c = list; *c; c++)
            n += *c == ',';
    }
    w_fmt(w, "<AccessList soap-enc:arrayType=\"xsd:string[%zu]\">", n);
    const char *s = list;
    for (size_t i = 0; i < n; i++) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 64)
            w_fail(w);
        w_raw(w, "<string>");
        if (!w->rc)
            w->rc = cwmp_xml_escape(w->out, s, len);
        w_raw(w, "</string>");
        s = e ? e + 1 : s + len;
    }
    w_raw(w, "</AccessList>");
}

static void w_transfer_fault(w_t *w, const cwmp_msg_t *m)
{
    if (m->fault_code != 0 && !fault_code_ok(m->fault_code, true))
        w_fail(w);
    w_raw(w, "<FaultStruct>");
    w_uint(w, "FaultCode", (unsigned)m->fault_code);
    w_elem(w, "FaultString", m->fault_string, 256);
    w_raw(w, "</FaultStruct>");
}

static void w_fault(w_t *w, const cwmp_fault_t *f)
{
    if (!fault_code_ok(f->code, false))
        w_fail(w);
    const char *sc = f->soap_code ? f->soap_code : (f->code >= 9000 && f->code != 9002) ||
                                                           (f->code >= 8000 && f->code < 9000 &&
                                                            f->code != 8002 && f->code != 8005)
                                                       ? "Client"
                                                       : "Server";
    if (strcmp(sc, "Client") != 0 && strcmp(sc, "Server") != 0)
        w_fail(w);
    const char *fs = f->string && *f->string ? f->string : cwmp_fault_text(f->code);
    w_fmt(w, "<soap-env:Fault><faultcode>%s</faultcode><faultstring>CWMP fault</faultstring>"
             "<detail><cwmp:Fault><FaultCode>%d</FaultCode>", sc, f->code);
    w_elem(w, "FaultString", fs, 0);
    for (size_t i = 0; i < f->n_spv; i++) {
        if (!fault_code_ok(f->spv[i].code, true) || !f->spv[i].name)
            w_fail(w);
        w_raw(w, "<SetParameterValuesFault>");
        w_elem(w, "ParameterName", f->spv[i].name, 0);
        w_fmt(w, "<FaultCode>%d</FaultCode>", f->spv[i].code);
        const char *s = f->spv[i].string && *f->spv[i].string ? f->spv[i].string
                                                              : cwmp_fault_text(f->spv[i].code);
        w_elem(w, "FaultString", s, 0);
        w_raw(w, "</SetParameterValuesFault>");
    }
    w_raw(w, "</cwmp:Fault></detail></soap-env:Fault>");
}

static void w_body(w_t *w, const cwmp_msg_t *m)
{
    switch (m->type) {
    case CWMP_INFORM:
        if (!m->device.oui || strlen(m->device.oui) != 6 ||
            strspn(m->device.oui, "0123456789ABCDEF") != 6)
            w_fail(w);
        w_raw(w, "<DeviceId>");
        w_elem(w, "Manufacturer", m->device.manufacturer, 64);
        w_elem(w, "OUI", m->device.oui, 6);
        w_elem(w, "ProductClass", m->device.product_class, 64);
        w_elem(w, "SerialNumber", m->device.serial_number, 64);
        w_raw(w, "</DeviceId>");
        if (m->n_events > 64)
            w_fail(w);
        w_fmt(w, "<Event soap-enc:arrayType=\"cwmp:EventStruct[%zu]\">", m->n_events);
        for (size_t i = 0; i < m->n_events; i++) {
            if (!event_code_ok(m->events[i].code))
                w_fail(w);
            w_raw(w, "<EventStruct>");
            w_elem(w, "EventCode", m->events[i].code, 64);
            w_elem(w, "CommandKey", m->events[i].command_key, 32);
            w_raw(w, "</EventStruct>");
        }
        w_raw(w, "</Event>");
        w_uint(w, "MaxEnvelopes", m->max_envelopes);
        w_time(w, "CurrentTime", m->current_time);
        w_uint(w, "RetryCount", m->retry_count);
        w_value_list(w, "ParameterList", m->params, m->n_params);
        break;
    case CWMP_INFORM_RESPONSE:
        w_uint(w, "MaxEnvelopes", m->max_envelopes);
        break;
    case CWMP_TRANSFER_COMPLETE:
        w_elem(w, "CommandKey", m->command_key, 32);
        w_transfer_fault(w, m);
        w_time(w, "StartTime", m->start_time);
        w_time(w, "CompleteTime", m->complete_time);
        break;
    case CWMP_AUTONOMOUS_TRANSFER_COMPLETE:
        w_elem(w, "AnnounceURL", m->announce_url, 1024);
        w_elem(w, "TransferURL", m->transfer_url, 1024);
        w_bool(w, "IsDownload", m->is_download);
        if (!file_type_ok(m->file_type))
            w_fail(w);
        w_elem(w, "FileType", m->file_type, 64);
        w_uint(w, "FileSize", m->file_size);
        w_elem(w, "TargetFileName", m->target_file_name, 256);
        w_transfer_fault(w, m);
        w_time(w, "StartTime", m->start_time);
        w_time(w, "CompleteTime", m->complete_time);
        break;
    case CWMP_REQUEST_DOWNLOAD:
        if (!file_type_ok(m->file_type) || m->n_params > 16)
            w_fail(w);
        w_elem(w, "FileType", m->file_type, 64);
        w_fmt(w, "<FileTypeArg soap-enc:arrayType=\"cwmp:ArgStruct[%zu]\">", m->n_params);
        for (size_t i = 0; i < m->n_params; i++) {
            w_raw(w, "<ArgStruct>");
            w_elem(w, "Name", m->params[i].name, 64);
            w_elem(w, "Value", m->params[i].value, 256);
            w_raw(w, "</ArgStruct>");
        }
        w_raw(w, "</FileTypeArg>");
        break;
    case CWMP_GET_RPC_METHODS_RESPONSE:
        w_string_array(w, "MethodList", m->names, m->n_names, 64, true);
        break;
    case CWMP_GET_PARAMETER_NAMES:
        w_elem(w, "ParameterPath", m->parameter_path, 256);
        w_bool(w, "NextLevel", m->next_level);
        break;
    case CWMP_GET_PARAMETER_NAMES_RESPONSE:
        w_fmt(w, "<ParameterList soap-enc:arrayType=\"cwmp:ParameterInfoStruct[%zu]\">",
              m->n_params);
        for (size_t i = 0; i < m->n_params; i++) {
            w_raw(w, "<ParameterInfoStruct>");
            w_elem(w, "Name", m->params[i].name, 256);
            w_bool(w, "Writable", m->params[i].writable != 0);
            w_raw(w, "</ParameterInfoStruct>");
        }
        w_raw(w, "</ParameterList>");
        break;
    case CWMP_GET_PARAMETER_VALUES:
    case CWMP_GET_PARAMETER_ATTRIBUTES:
        w_string_array(w, "ParameterNames", m->names, m->n_names, 256, true);
        break;
    case CWMP_GET_PARAMETER_VALUES_RESPONSE:
        w_value_list(w, "ParameterList", m->params, m->n_params);
        break;
    case CWMP_SET_PARAMETER_VALUES:
        w_value_list(w, "ParameterList", m->params, m->n_params);
        w_elem(w, "ParameterKey", m->parameter_key, 32);
        break;
    case CWMP_SET_PARAMETER_VALUES_RESPONSE:
    case CWMP_DELETE_OBJECT_RESPONSE:
        w_status(w, m->status);
        break;
    case CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE:
        w_fmt(w, "<ParameterList soap-enc:arrayType=\"cwmp:ParameterAttributeStruct[%zu]\">",
              m->n_params);
        for (size_t i = 0; i < m->n_params; i++) {
            if (m->params[i].notification < 0 || m->params[i].notification > 6)
                w_fail(w);
            w_raw(w, "<ParameterAttributeStruct>");
            w_elem(w, "Name", m->params[i].name, 256);
            w_uint(w, "Notification", (unsigned)m->params[i].notification);
            w_access_list(w, m->params[i].access_list);
            w_raw(w, "</ParameterAttributeStruct>");
        }
        w_raw(w, "</ParameterList>");
        break;
    case CWMP_SET_PARAMETER_ATTRIBUTES:
        if (m->n_params == 0)
            w_fail(w);
        w_fmt(w, "<ParameterList soap-enc:arrayType=\"cwmp:SetParameterAttributesStruct[%zu]\">",
              m->n_params);
        for (size_t i = 0; i < m->n_params; i++) {
            const cwmp_param_t *p = &m->params[i];
            if (p->notification < 0 || p->notification > 6)
                w_fail(w);
            w_raw(w, "<SetParameterAttributesStruct>");
            w_elem(w, "Name", p->name, 256);
            w_bool(w, "NotificationChange", p->notification_change);
            w_uint(w, "Notification", (unsigned)p->notification);
            w_bool(w, "AccessListChange", p->access_list_change);
            w_access_list(w, p->access_list);
            w_raw(w, "</SetParameterAttributesStruct>");
        }
        w_raw(w, "</ParameterList>");
        break;
    case CWMP_ADD_OBJECT:
    case CWMP_DELETE_OBJECT: {
        size_t n = m->object_name ? strlen(m->object_name) : 0;
        if (n == 0 || m->object_name[n - 1] != '.')
            w_fail(w);
        w_elem(w, "ObjectName", m->object_name, 256);
        w_elem(w, "ParameterKey", m->parameter_key, 32);
        break;
    }
    case CWMP_ADD_OBJECT_RESPONSE:
        if (m->instance_number < 1)
            w_fail(w);
        w_uint(w, "InstanceNumber", m->instance_number);
        w_status(w, m->status);
        break;
    case CWMP_REBOOT:
        w_elem(w, "CommandKey", m->command_key, 32);
        break;
    case CWMP_DOWNLOAD:
    case CWMP_UPLOAD:
        if (!file_type_ok(m->file_type) || !m->url || !*m->url)
            w_fail(w);
        w_elem(w, "CommandKey", m->command_key, 32);
        w_elem(w, "FileType", m->file_type, 64);
        w_elem(w, "URL", m->url, 256);
        w_elem(w, "Username", m->username, 256);
        w_elem(w, "Password", m->password, 256);
        if (m->type == CWMP_DOWNLOAD) {
            w_uint(w, "FileSize", m->file_size);
            w_elem(w, "TargetFileName", m->target_file_name, 256);
        }
        w_uint(w, "DelaySeconds", m->delay_seconds);
        if (m->type == CWMP_DOWNLOAD) {
            w_elem(w, "SuccessURL", m->success_url, 256);
            w_elem(w, "FailureURL", m->failure_url, 256);
        }
        break;
    case CWMP_DOWNLOAD_RESPONSE:
    case CWMP_UPLOAD_RESPONSE:
        w_status(w, m->status);
        w_time(w, "StartTime", m->start_time);
        w_time(w, "CompleteTime", m->complete_time);
        break;
    case CWMP_SCHEDULE_INFORM:
        if (m->delay_seconds < 1)
            w_fail(w); /* TR-069: DelaySeconds must be > 0 */
        w_uint(w, "DelaySeconds", m->delay_seconds);
        w_elem(w, "CommandKey", m->command_key, 32);
        break;
    default: /* the empty ones */
        break;
    }
}

int cwmp_encode(buf_t *out, const cwmp_msg_t *m)
{
    if ((unsigned)m->type >= CWMP_TYPE_COUNT || m->type == CWMP_UNKNOWN)
        return -EINVAL;
    if (m->ns == CWMP_NS_1_0 && (m->type == CWMP_AUTONOMOUS_TRANSFER_COMPLETE ||
                                 m->type == CWMP_AUTONOMOUS_TRANSFER_COMPLETE_RESPONSE))
        return -ENOTSUP;
    size_t start = out->len;
    w_t w = { out, 0 };
    w_fmt(&w,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\""
          " xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\""
          " xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\""
          " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
          " xmlns:cwmp=\"%s\">\n",
          cwmp_ns_uri(m->ns));
    if (m->id || m->has_hold_requests) {
        w_raw(&w, "<soap-env:Header>\n");
        if (m->id) {
            w_raw(&w, "<cwmp:ID soap-env:mustUnderstand=\"1\">");
            w_text(&w, m->id);
            w_raw(&w, "</cwmp:ID>\n");
        }
        if (m->has_hold_requests)
            w_fmt(&w, "<cwmp:HoldRequests soap-env:mustUnderstand=\"1\">%d</cwmp:HoldRequests>\n",
                  m->hold_requests ? 1 : 0);
        w_raw(&w, "</soap-env:Header>\n");
    }
    w_raw(&w, "<soap-env:Body>\n");
    if (m->type == CWMP_FAULT) {
        w_fault(&w, &m->fault);
    } else if (m->type != CWMP_NONE) {
        const char *name = cwmp_type_name(m->type);
        w_fmt(&w, "<cwmp:%s>", name);
        w_body(&w, m);
        w_fmt(&w, "</cwmp:%s>", name);
    }
    w_raw(&w, "\n</soap-env:Body>\n</soap-env:Envelope>\n");
    if (w.rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return w.rc;
}
