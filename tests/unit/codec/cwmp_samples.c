#include <string.h>

#include "cwmp_samples.h"

static const cwmp_param_t values[] = {
    { .name = "InternetGatewayDevice.DeviceInfo.SoftwareVersion", .value = "1.2.3 <beta> & \"q\"",
      .type = "xsd:string" },
    { .name = "InternetGatewayDevice.ManagementServer.PeriodicInformInterval", .value = "300",
      .type = "xsd:unsignedInt" },
    { .name = "InternetGatewayDevice.ManagementServer.PeriodicInformEnable", .value = "true",
      .type = "xsd:boolean" },
    { .name = "InternetGatewayDevice.Time.CurrentLocalTime", .value = "2026-01-02T03:04:05Z",
      .type = "xsd:dateTime" },
    { .name = "InternetGatewayDevice.X_Vendor.Temperature", .value = "-12", .type = "xsd:int" },
    { .name = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID", .value = "caf\xc3\xa9 \xe2\x98\x95",
      .type = NULL },
};
static const cwmp_param_t infos[] = {
    { .name = "InternetGatewayDevice.DeviceInfo.", .writable = 0 },
    { .name = "InternetGatewayDevice.DeviceInfo.ProvisioningCode", .writable = 1 },
};
static const cwmp_param_t attrs[] = {
    { .name = "InternetGatewayDevice.DeviceInfo.SoftwareVersion", .notification = 2,
      .access_list = "Subscriber" },
    { .name = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress",
      .notification = 0, .access_list = "" },
};
static const cwmp_param_t set_attrs[] = {
    { .name = "InternetGatewayDevice.DeviceInfo.SoftwareVersion", .notification_change = true,
      .notification = 1, .access_list_change = true, .access_list = "Subscriber" },
};
static const cwmp_param_t args[] = {
    { .name = "Version", .value = "2.0" },
};
static const char *const names[] = {
    "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
    "InternetGatewayDevice.LANDevice.",
};
static const char *const methods[] = {
    "GetRPCMethods", "GetParameterNames", "GetParameterValues", "SetParameterValues",
    "Reboot", "Download",
};
static const cwmp_event_t events[] = {
    { "0 BOOTSTRAP", "" }, { "1 BOOT", "" }, { "M Reboot", "reboot-42" },
    { "X 00D09E Vendor Event", "" },
};
static const cwmp_spv_fault_t spv[] = {
    { "InternetGatewayDevice.DeviceInfo.SoftwareVersion", 9008, "not writable" },
    { "InternetGatewayDevice.Foo", 9005, NULL },
};

void cwmp_sample(cwmp_type_t t, cwmp_ns_t ns, cwmp_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->type = t;
    m->ns = ns;
    m->id = "id-<1>&";
    switch (t) {
    case CWMP_INFORM:
        m->device = (cwmp_device_id_t){ "Acme & Sons", "00D09E", "IGD", "SN0001" };
        m->events = events;
        m->n_events = 4;
        m->max_envelopes = 1;
        m->current_time = "2026-01-02T03:04:05+01:00";
        m->retry_count = 2;
        m->params = values;
        m->n_params = 6;
        break;
    case CWMP_INFORM_RESPONSE:
        m->max_envelopes = 1;
        m->has_hold_requests = true;
        m->hold_requests = false;
        break;
    case CWMP_TRANSFER_COMPLETE:
        m->command_key = "dl-7";
        m->fault_code = 9010;
        m->fault_string = "download failed";
        m->start_time = "2026-01-02T03:04:05Z";
        m->complete_time = NULL;
        break;
    case CWMP_AUTONOMOUS_TRANSFER_COMPLETE:
        m->announce_url = "http://acs/announce";
        m->transfer_url = "http://files/fw.bin";
        m->is_download = true;
        m->file_type = "1 Firmware Upgrade Image";
        m->file_size = 123456;
        m->target_file_name = "fw.bin";
        m->start_time = "2026-01-02T03:04:05Z";
        m->complete_time = "2026-01-02T03:05:05Z";
        break;
    case CWMP_REQUEST_DOWNLOAD:
        m->file_type = "1 Firmware Upgrade Image";
        m->params = args;
        m->n_params = 1;
        break;
    case CWMP_GET_RPC_METHODS_RESPONSE:
        m->names = methods;
        m->n_names = 6;
        break;
    case CWMP_GET_PARAMETER_NAMES:
        m->parameter_path = "InternetGatewayDevice.";
        m->next_level = true;
        break;
    case CWMP_GET_PARAMETER_NAMES_RESPONSE:
        m->params = infos;
        m->n_params = 2;
        break;
    case CWMP_GET_PARAMETER_VALUES:
    case CWMP_GET_PARAMETER_ATTRIBUTES:
        m->names = names;
        m->n_names = 2;
        break;
    case CWMP_GET_PARAMETER_VALUES_RESPONSE:
        m->params = values;
        m->n_params = 6;
        break;
    case CWMP_SET_PARAMETER_VALUES:
        m->params = values;
        m->n_params = 3;
        m->parameter_key = "pk-1";
        break;
    case CWMP_SET_PARAMETER_VALUES_RESPONSE:
        m->status = 1;
        break;
    case CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE:
        m->params = attrs;
        m->n_params = 2;
        break;
    case CWMP_SET_PARAMETER_ATTRIBUTES:
        m->params = set_attrs;
        m->n_params = 1;
        break;
    case CWMP_ADD_OBJECT:
    case CWMP_DELETE_OBJECT:
        m->object_name = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.";
        m->parameter_key = "pk-2";
        break;
    case CWMP_ADD_OBJECT_RESPONSE:
        m->instance_number = 3;
        m->status = 0;
        break;
    case CWMP_DELETE_OBJECT_RESPONSE:
        m->status = 0;
        break;
    case CWMP_REBOOT:
        m->command_key = "reboot-42";
        break;
    case CWMP_DOWNLOAD:
        m->command_key = "dl-7";
        m->file_type = "1 Firmware Upgrade Image";
        m->url = "http://files.example/fw.bin?a=1&b=2";
        m->username = "u";
        m->password = "p";
        m->file_size = 1000;
        m->target_file_name = "fw.bin";
        m->delay_seconds = 5;
        m->success_url = "";
        m->failure_url = "";
        break;
    case CWMP_UPLOAD:
        m->command_key = "ul-1";
        m->file_type = "1 Vendor Configuration File";
        m->url = "http://files.example/up";
        m->delay_seconds = 0;
        break;
    case CWMP_DOWNLOAD_RESPONSE:
    case CWMP_UPLOAD_RESPONSE:
        m->status = 1;
        m->start_time = NULL;
        m->complete_time = NULL;
        break;
    case CWMP_SCHEDULE_INFORM:
        m->delay_seconds = 60;
        m->command_key = "si-1";
        break;
    case CWMP_FAULT:
        m->fault.code = 9003;
        m->fault.string = "Invalid arguments";
        m->fault.spv = spv;
        m->fault.n_spv = 2;
        break;
    default:
        break;
    }
}
