/*
 * cwmp: name tables shared by the encoder and the decoder.
 */
#include <string.h>

#include "codec/cwmp.h"

static const char *const ns_uris[] = {
    [CWMP_NS_1_0] = "urn:dslforum-org:cwmp-1-0",
    [CWMP_NS_1_1] = "urn:dslforum-org:cwmp-1-1",
    [CWMP_NS_1_2] = "urn:dslforum-org:cwmp-1-2",
    [CWMP_NS_1_3] = "urn:dslforum-org:cwmp-1-2", /* 1.3 and 1.4 keep the 1-2 namespace */
};

const char *cwmp_ns_uri(cwmp_ns_t ns)
{
    return (unsigned)ns <= CWMP_NS_1_3 ? ns_uris[ns] : ns_uris[CWMP_NS_1_0];
}

static const char *const type_names[CWMP_TYPE_COUNT] = {
    [CWMP_NONE] = "",
    [CWMP_UNKNOWN] = "",
    [CWMP_FAULT] = "Fault",
    [CWMP_INFORM] = "Inform",
    [CWMP_INFORM_RESPONSE] = "InformResponse",
    [CWMP_TRANSFER_COMPLETE] = "TransferComplete",
    [CWMP_TRANSFER_COMPLETE_RESPONSE] = "TransferCompleteResponse",
    [CWMP_AUTONOMOUS_TRANSFER_COMPLETE] = "AutonomousTransferComplete",
    [CWMP_AUTONOMOUS_TRANSFER_COMPLETE_RESPONSE] = "AutonomousTransferCompleteResponse",
    [CWMP_REQUEST_DOWNLOAD] = "RequestDownload",
    [CWMP_REQUEST_DOWNLOAD_RESPONSE] = "RequestDownloadResponse",
    [CWMP_GET_RPC_METHODS] = "GetRPCMethods",
    [CWMP_GET_RPC_METHODS_RESPONSE] = "GetRPCMethodsResponse",
    [CWMP_GET_PARAMETER_NAMES] = "GetParameterNames",
    [CWMP_GET_PARAMETER_NAMES_RESPONSE] = "GetParameterNamesResponse",
    [CWMP_GET_PARAMETER_VALUES] = "GetParameterValues",
    [CWMP_GET_PARAMETER_VALUES_RESPONSE] = "GetParameterValuesResponse",
    [CWMP_SET_PARAMETER_VALUES] = "SetParameterValues",
    [CWMP_SET_PARAMETER_VALUES_RESPONSE] = "SetParameterValuesResponse",
    [CWMP_GET_PARAMETER_ATTRIBUTES] = "GetParameterAttributes",
    [CWMP_GET_PARAMETER_ATTRIBUTES_RESPONSE] = "GetParameterAttributesResponse",
    [CWMP_SET_PARAMETER_ATTRIBUTES] = "SetParameterAttributes",
    [CWMP_SET_PARAMETER_ATTRIBUTES_RESPONSE] = "SetParameterAttributesResponse",
    [CWMP_ADD_OBJECT] = "AddObject",
    [CWMP_ADD_OBJECT_RESPONSE] = "AddObjectResponse",
    [CWMP_DELETE_OBJECT] = "DeleteObject",
    [CWMP_DELETE_OBJECT_RESPONSE] = "DeleteObjectResponse",
    [CWMP_REBOOT] = "Reboot",
    [CWMP_REBOOT_RESPONSE] = "RebootResponse",
    [CWMP_FACTORY_RESET] = "FactoryReset",
    [CWMP_FACTORY_RESET_RESPONSE] = "FactoryResetResponse",
    [CWMP_DOWNLOAD] = "Download",
    [CWMP_DOWNLOAD_RESPONSE] = "DownloadResponse",
    [CWMP_UPLOAD] = "Upload",
    [CWMP_UPLOAD_RESPONSE] = "UploadResponse",
    [CWMP_SCHEDULE_INFORM] = "ScheduleInform",
    [CWMP_SCHEDULE_INFORM_RESPONSE] = "ScheduleInformResponse",
};

const char *cwmp_type_name(cwmp_type_t t)
{
    return (unsigned)t < CWMP_TYPE_COUNT ? type_names[t] : "";
}

cwmp_type_t cwmp_type_from_name(const char *name)
{
    for (int t = CWMP_INFORM; t < CWMP_TYPE_COUNT; t++)
        if (strcmp(type_names[t], name) == 0)
            return (cwmp_type_t)t;
    return CWMP_UNKNOWN;
}

cwmp_type_t cwmp_response_type(cwmp_type_t t)
{
    /* Requests and their responses are adjacent in the enum. */
    if (t < CWMP_INFORM || t >= CWMP_TYPE_COUNT)
        return CWMP_NONE;
    if ((t - CWMP_INFORM) % 2 != 0)
        return CWMP_NONE;
    return (cwmp_type_t)(t + 1);
}

const char *cwmp_fault_text(int code)
{
    switch (code) {
    case 8000: return "Method not supported";
    case 8001: return "Request denied";
    case 8002: return "Internal error";
    case 8003: return "Invalid arguments";
    case 8004: return "Resources exceeded";
    case 8005: return "Retry request";
    case 8006: return "ACS version incompatible";
    case 9000: return "Method not supported";
    case 9001: return "Request denied";
    case 9002: return "Internal error";
    case 9003: return "Invalid arguments";
    case 9004: return "Resources exceeded";
    case 9005: return "Invalid parameter name";
    case 9006: return "Invalid parameter type";
    case 9007: return "Invalid parameter value";
    case 9008: return "Attempt to set a non-writable parameter";
    case 9009: return "Notification request rejected";
    case 9010: return "File transfer failure";
    case 9011: return "Upload failure";
    case 9012: return "File transfer server authentication failure";
    case 9013: return "Unsupported protocol for file transfer";
    case 9014: return "File transfer failure: unable to join multicast group";
    case 9015: return "File transfer failure: unable to contact file server";
    case 9016: return "File transfer failure: unable to access file";
    case 9017: return "File transfer failure: unable to complete download";
    case 9018: return "File transfer failure: file corrupted";
    case 9019: return "File transfer failure: file authentication failure";
    case 9020: return "File transfer failure: unable to complete download within specified time windows";
    case 9021: return "Cancelation of file transfer not permitted";
    case 9022: return "Invalid UUID format";
    case 9023: return "Unknown Execution Environment";
    case 9024: return "Disabled Execution Environment";
    case 9025: return "Deployment Unit to Execution Environment mismatch";
    case 9026: return "Duplicate Deployment Unit";
    case 9027: return "System resources exceeded";
    case 9028: return "Unknown Deployment Unit";
    case 9029: return "Invalid Deployment Unit state";
    case 9030: return "Invalid deployment unit update: downgrade not permitted";
    case 9031: return "Invalid deployment unit update: version not specified";
    case 9032: return "Invalid deployment unit update: version already exists";
    default: return "";
    }
}

int cwmp_decode_fault_code(int err, cwmp_ns_t ns)
{
    switch (err) {
    case CWMP_DEC_LIMIT: return CWMP_FAULT_RESOURCES_EXCEEDED;
    case CWMP_DEC_NOMEM: return CWMP_FAULT_INTERNAL_ERROR;
    case CWMP_DEC_NAMESPACE:
        return ns == CWMP_NS_1_0 ? CWMP_FAULT_INVALID_ARGUMENTS : CWMP_FAULT_ACS_VERSION;
    default: return CWMP_FAULT_INVALID_ARGUMENTS;
    }
}

const char *const cwmp_event_codes[CWMP_EVENT_CODES] = {
    "0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "3 SCHEDULED", "4 VALUE CHANGE", "5 KICKED",
    "6 CONNECTION REQUEST", "7 TRANSFER COMPLETE", "8 DIAGNOSTICS COMPLETE", "9 REQUEST DOWNLOAD",
    "10 AUTONOMOUS TRANSFER COMPLETE", "11 DU STATE CHANGE COMPLETE",
    "12 AUTONOMOUS DU STATE CHANGE COMPLETE", "13 WAKEUP", "14 HEARTBEAT",
};
