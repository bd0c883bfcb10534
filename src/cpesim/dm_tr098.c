/*
 * dm_tr098: the built-in TR-098 (InternetGatewayDevice:1) model: the same
 * simulated gateway as dm_tr181.c seen through the older data model: one
 * LAN device (four Ethernet ports, two WLAN configurations, three hosts),
 * one WAN device with an IP connection (port mappings addable) and room for
 * PPP connections, layer-3 forwarding, time, IP ping diagnostics and the
 * management server.
 *
 * Written for this project from the TR-098 definitions (names, types and
 * writability follow the standard); per-CPE values are dynamic.
 */
#include "cpesim/dm_builtin.h"

#include <stdio.h>

/* Rows name only the fields they use; the rest are zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MAC(n) 0, NULL, NULL, DM_DYN_MAC, (n)

static const dmb_row_t root_rows[] = {
    { "DeviceSummary", S, 0,
      "InternetGatewayDevice:1.4[](Baseline:2, EthernetLAN:1, WiFiLAN:2, Time:2, IPPing:1, UDPConnReq:1)" },
    { "LANDeviceNumberOfEntries", U, 0, "0" },
    { "WANDeviceNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t device_info[] = {
    { "Manufacturer", S, 0, "Outpost" },
    { "ManufacturerOUI", S, 0, "ACDE48" },
    { "ModelName", S, 0, "OP-1000" },
    { "Description", S, 0, "Outpost simulated residential gateway" },
    { "ProductClass", S, 0, "OP-1000" },
    { "SerialNumber", S, 0, NULL, NULL, DM_DYN_SERIAL },
    { "HardwareVersion", S, 0, "1.0" },
    { "SoftwareVersion", S, 0, "1.0.0" },
    { "ModemFirmwareVersion", S, 0, "" },
    { "EnabledOptions", S, 0, "" },
    { "AdditionalHardwareVersion", S, 0, "" },
    { "AdditionalSoftwareVersion", S, 0, "" },
    { "SpecVersion", S, 0, "1.0" },
    { "ProvisioningCode", S, W, "", "len:64" },
    { "UpTime", U, NA, "0", NULL, DM_DYN_UPTIME },
    { "FirstUseDate", T, 0, "0001-01-01T00:00:00Z" },
    { "DeviceLog", S, NA, "" },
    { "VendorConfigFileNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t mgmt_server[] = {
    { "URL", S, W, "", "len:256" },
    { "Username", S, W, "", "len:256" },
    { "Password", S, W | SEC, "", "len:256" },
    { "PeriodicInformEnable", B, W, "true" },
    { "PeriodicInformInterval", U, W, "300", "1:" },
    { "PeriodicInformTime", T, W, "0001-01-01T00:00:00Z" },
    { "ParameterKey", S, 0, "" },
    { "ConnectionRequestURL", S, 0, "", NULL, DM_DYN_CR_URL },
    { "ConnectionRequestUsername", S, W, "", "len:256", DM_DYN_CR_USER },
    { "ConnectionRequestPassword", S, W | SEC, "", "len:256", DM_DYN_CR_PASS },
    /* TR-069 Annex K: the XMPP login connection requests come over, and
     * whose requests are taken ("": anyone's; else comma-separated JIDs) */
    { "ConnReqJabberID", S, 0, "", NULL, DM_DYN_CR_JID },
    { "ConnReqAllowedJabberIDs", S, W, "", "len:32768" },
    { "UpgradesManaged", B, W, "false" },
    { "KickURL", S, 0, "" },
    { "DownloadProgressURL", S, 0, "" },
    { "DefaultActiveNotificationThrottle", U, W, "0" },
    { "CWMPRetryMinimumWaitInterval", U, W, "5", "1:65535" },
    { "CWMPRetryIntervalMultiplier", U, W, "2000", "1000:65535" },
    { "UDPConnectionRequestAddress", S, 0, "" },
    { "UDPConnectionRequestAddressNotificationLimit", U, W, "0" },
    { "STUNEnable", B, W, "false" },
    { "STUNServerAddress", S, W, "", "len:256" },
    { "STUNServerPort", U, W, "3478", "0:65535" },
    { "STUNUsername", S, W, "", "len:256" },
    { "STUNPassword", S, W | SEC, "", "len:256" },
    { "STUNMaximumKeepAlivePeriod", I, W, "-1", "-1:" },
    { "STUNMinimumKeepAlivePeriod", U, W, "0" },
    { "NATDetected", B, 0, "false" },
    { "ManageableDeviceNumberOfEntries", U, 0, "0" },
    { "ManageableDeviceNotificationLimit", U, W, "0" },
    { NULL },
};

static const dmb_row_t time_rows[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Synchronized" },
    { "NTPServer1", S, W, "0.pool.ntp.org", "len:64" },
    { "NTPServer2", S, W, "1.pool.ntp.org", "len:64" },
    { "NTPServer3", S, W, "", "len:64" },
    { "CurrentLocalTime", T, NA, NULL, NULL, DM_DYN_NOW },
    { "LocalTimeZone", S, W, "+00:00", "len:6" },
    { "LocalTimeZoneName", S, W, "UTC", "len:64" },
    { "DaylightSavingsUsed", B, W, "false" },
    { NULL },
};

static const dmb_row_t user_interface[] = {
    { "PasswordRequired", B, W, "true" },
    { "PasswordUserSelectable", B, W, "true" },
    { "UpgradeAvailable", B, W, "false" },
    { "WarrantyDate", T, W, "0001-01-01T00:00:00Z" },
    { "ISPName", S, W, "Example ISP", "len:64" },
    { "ISPHelpDesk", S, W, "", "len:32" },
    { "ISPHomePage", S, W, "", "len:256" },
    { "ISPHelpPage", S, W, "", "len:256" },
    { "ISPLogo", B64, W, "" },
    { "ISPLogoSize", U, W, "0", "0:4095" },
    { "ISPMailServer", S, W, "", "len:256" },
    { "ISPNewsServer", S, W, "", "len:256" },
    { "TextColor", S, W, "000000", "len:6" },
    { "BackgroundColor", S, W, "FFFFFF", "len:6" },
    { "ButtonColor", S, W, "3366CC", "len:6" },
    { "ButtonTextColor", S, W, "FFFFFF", "len:6" },
    { "AutoUpdateServer", S, W, "", "len:256" },
    { "UserUpdateServer", S, W, "", "len:256" },
    { "AvailableLanguages", S, 0, "en,de,fr" },
    { "CurrentLanguage", S, W, "en", "len:16" },
    { NULL },
};

static const dmb_row_t forwarding[] = {
    { "Enable", B, W, "false" },
    { "Status", S, 0, "Disabled" },
    { "Type", S, W, "Host", "enum:Default|Network|Host" },
    { "DestIPAddress", S, W, "" },
    { "DestSubnetMask", S, W, "" },
    { "SourceIPAddress", S, W, "" },
    { "SourceSubnetMask", S, W, "" },
    { "GatewayIPAddress", S, W, "" },
    { "Interface", S, W, "", "len:256" },
    { "ForwardingMetric", I, W, "-1", "-1:" },
    { "MTU", U, W, "1500", "1:1540" },
    { NULL },
};

static const dmb_row_t lan_hcm[] = {
    { "MACAddress", S, MAC(8) },
    { "DHCPServerConfigurable", B, W, "true" },
    { "DHCPServerEnable", B, W, "true" },
    { "DHCPRelay", B, 0, "false" },
    { "MinAddress", S, W, "192.168.1.100" },
    { "MaxAddress", S, W, "192.168.1.249" },
    { "ReservedAddresses", S, W, "" },
    { "SubnetMask", S, W, "255.255.255.0" },
    { "DNSServers", S, W, "192.168.1.1" },
    { "DomainName", S, W, "lan", "len:64" },
    { "IPRouters", S, W, "192.168.1.1" },
    { "DHCPLeaseTime", I, W, "86400", "-1:" },
    { "UseAllocatedWAN", S, W, "Normal", "enum:Normal|UseAllocatedSubnet|Passthrough" },
    { "AssociatedConnection", S, W, "", "len:256" },
    { "PassthroughLease", U, W, "600" },
    { "PassthroughMACAddress", S, W, "" },
    { "AllowedMACAddresses", S, W, "" },
    { "IPInterfaceNumberOfEntries", U, 0, "0" },
    { "DHCPStaticAddressNumberOfEntries", U, 0, "0" },
    { "DHCPOptionNumberOfEntries", U, 0, "0" },
    { "DHCPConditionalPoolNumberOfEntries", U, 0, "0" },
    { "IPInterface.1.Enable", B, W, "true" },
    { "IPInterface.1.IPInterfaceIPAddress", S, W, "192.168.1.1" },
    { "IPInterface.1.IPInterfaceSubnetMask", S, W, "255.255.255.0" },
    { "IPInterface.1.IPInterfaceAddressingType", S, W, "Static", "enum:DHCP|Static|AutoIP" },
    { "DHCPStaticAddress.{i}.Enable", B, W, "false" },
    { "DHCPStaticAddress.{i}.Chaddr", S, W, "" },
    { "DHCPStaticAddress.{i}.Yiaddr", S, W, "" },
    { NULL },
};

static const dmb_row_t lan_eth[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "Name", S, 0, "" },
    { "MACAddress", S, MAC(0) },
    { "MACAddressControlEnabled", B, W, "false" },
    { "MaxBitRate", S, W, "Auto", "enum:10|100|1000|Auto" },
    { "DuplexMode", S, W, "Auto", "enum:Half|Full|Auto" },
    { "Stats.BytesSent", U, NA, "0" },
    { "Stats.BytesReceived", U, NA, "0" },
    { "Stats.PacketsSent", U, NA, "0" },
    { "Stats.PacketsReceived", U, NA, "0" },
    { NULL },
};

static const dmb_row_t wlan[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "Name", S, 0, "" },
    { "BSSID", S, MAC(0) },
    { "MaxBitRate", S, W, "Auto" },
    { "Channel", U, W | VOL, "6", "0:255" },
    { "AutoChannelEnable", B, W, "true" },
    { "SSID", S, W, "", "len:32" },
    { "BeaconType", S, W, "11i", "enum:None|Basic|WPA|11i|BasicandWPA|Basicand11i|WPAand11i|BasicandWPAand11i" },
    { "MACAddressControlEnabled", B, W, "false" },
    { "Standard", S, 0, "n" },
    { "WEPKeyIndex", U, W, "1", "1:4" },
    { "KeyPassphrase", S, W | SEC, "", "len:63" },
    { "WEPEncryptionLevel", S, 0, "Disabled,40-bit,104-bit" },
    { "BasicEncryptionModes", S, W, "None", "enum:None|WEPEncryption" },
    { "BasicAuthenticationMode", S, W, "None" },
    { "WPAEncryptionModes", S, W, "AESEncryption" },
    { "WPAAuthenticationMode", S, W, "PSKAuthentication", "enum:PSKAuthentication|EAPAuthentication" },
    { "IEEE11iEncryptionModes", S, W, "AESEncryption" },
    { "IEEE11iAuthenticationMode", S, W, "PSKAuthentication" },
    { "PossibleChannels", S, 0, "1-13" },
    { "BasicDataTransmitRates", S, W, "1,2,5.5,11" },
    { "OperationalDataTransmitRates", S, W, "1,2,5.5,11,6,9,12,18,24,36,48,54" },
    { "PossibleDataTransmitRates", S, 0, "1,2,5.5,11,6,9,12,18,24,36,48,54" },
    { "InsecureOOBAccessEnabled", B, W, "false" },
    { "BeaconAdvertisementEnabled", B, W, "true" },
    { "SSIDAdvertisementEnabled", B, W, "true" },
    { "RadioEnabled", B, W, "true" },
    { "AutoRateFallBackEnabled", B, W, "true" },
    { "LocationDescription", S, W, "", "len:4096" },
    { "RegulatoryDomain", S, W, "US ", "len:3" },
    { "TotalPSKFailures", U, NA, "0" },
    { "TotalIntegrityFailures", U, NA, "0" },
    { "ChannelsInUse", S, 0, "6" },
    { "DeviceOperationMode", S, W, "InfrastructureAccessPoint" },
    { "DistanceFromRoot", U, W, "0" },
    { "PeerBSSID", S, W, "" },
    { "AuthenticationServiceMode", S, W, "None", "enum:None|LinkAuthentication|RadiusClient" },
    { "TotalBytesSent", U, NA, "0" },
    { "TotalBytesReceived", U, NA, "0" },
    { "TotalPacketsSent", U, NA, "0" },
    { "TotalPacketsReceived", U, NA, "0" },
    { "TotalAssociations", U, 0, "0" },
    { "WEPKey.1.WEPKey", S, W | SEC, "", "len:128" },
    { "WEPKey.2.WEPKey", S, W | SEC, "", "len:128" },
    { "WEPKey.3.WEPKey", S, W | SEC, "", "len:128" },
    { "WEPKey.4.WEPKey", S, W | SEC, "", "len:128" },
    { "PreSharedKey.1.PreSharedKey", S, W | SEC, "", "len:64" },
    { "PreSharedKey.1.KeyPassphrase", S, W | SEC, "", "len:63" },
    { "PreSharedKey.1.AssociatedDeviceMACAddress", S, W, "" },
    { "AssociatedDevice.", 0, DM_TABLE },
    { NULL },
};

static const dmb_row_t wlan_assoc[] = {
    { "AssociatedDeviceMACAddress", S, 0, "" },
    { "AssociatedDeviceIPAddress", S, 0, "" },
    { "AssociatedDeviceAuthenticationState", B, 0, "true" },
    { "LastRequestedUnicastCipher", S, 0, "AES" },
    { "LastRequestedMulticastCipher", S, 0, "AES" },
    { "LastPMKId", S, 0, "" },
    { "LastDataTransmitRate", S, NA, "144" },
    { NULL },
};

static const dmb_row_t host[] = {
    { "IPAddress", S, 0, "" },
    { "AddressSource", S, 0, "DHCP", "enum:DHCP|Static|AutoIP" },
    { "LeaseTimeRemaining", I, NA, "80000", "-1:" },
    { "MACAddress", S, 0, "" },
    { "Layer2Interface", S, 0, "" },
    { "VendorClassID", S, 0, "" },
    { "ClientID", S, 0, "" },
    { "UserClassID", S, 0, "" },
    { "HostName", S, 0, "", "len:64" },
    { "InterfaceType", S, 0, "Ethernet", "enum:Ethernet|USB|802.11|HomePNA|HomePlug|MoCA|Other" },
    { "Active", B, VOL, "true" },
    { NULL },
};

static const dmb_row_t wan_common[] = {
    { "EnabledForInternet", B, W, "true" },
    { "WANAccessType", S, 0, "Ethernet" },
    { "Layer1UpstreamMaxBitRate", U, 0, "1000000000" },
    { "Layer1DownstreamMaxBitRate", U, 0, "1000000000" },
    { "PhysicalLinkStatus", S, 0, "Up" },
    { "WANAccessProvider", S, 0, "" },
    { "TotalBytesSent", U, NA, "0" },
    { "TotalBytesReceived", U, NA, "0" },
    { "TotalPacketsSent", U, NA, "0" },
    { "TotalPacketsReceived", U, NA, "0" },
    { "MaximumActiveConnections", U, 0, "1" },
    { "NumberOfActiveConnections", U, 0, "1" },
    { NULL },
};

static const dmb_row_t wan_eth[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "MACAddress", S, MAC(1) },
    { "MaxBitRate", S, W, "Auto", "enum:10|100|1000|Auto" },
    { "DuplexMode", S, W, "Auto", "enum:Half|Full|Auto" },
    { "Stats.BytesSent", U, NA, "0" },
    { "Stats.BytesReceived", U, NA, "0" },
    { "Stats.PacketsSent", U, NA, "0" },
    { "Stats.PacketsReceived", U, NA, "0" },
    { NULL },
};

static const dmb_row_t wan_ip[] = {
    { "Enable", B, W, "false" },
    { "ConnectionStatus", S, 0, "Unconfigured" },
    { "PossibleConnectionTypes", S, 0, "IP_Routed,IP_Bridged" },
    { "ConnectionType", S, W, "IP_Routed", "enum:Unconfigured|IP_Routed|IP_Bridged" },
    { "Name", S, W, "", "len:256" },
    { "Uptime", U, NA, "0" },
    { "LastConnectionError", S, 0, "ERROR_NONE" },
    { "AutoDisconnectTime", U, W, "0" },
    { "IdleDisconnectTime", U, W, "0" },
    { "WarnDisconnectDelay", U, W, "0" },
    { "RSIPAvailable", B, 0, "false" },
    { "NATEnabled", B, W, "true" },
    { "AddressingType", S, W, "DHCP", "enum:DHCP|Static" },
    { "ExternalIPAddress", S, W, "" },
    { "SubnetMask", S, W, "" },
    { "DefaultGateway", S, W, "" },
    { "DNSEnabled", B, W, "true" },
    { "DNSOverrideAllowed", B, W, "false" },
    { "DNSServers", S, W, "" },
    { "MaxMTUSize", U, W, "1500", "1:1540" },
    { "MACAddress", S, W, "" },
    { "MACAddressOverride", B, W, "false" },
    { "ConnectionTrigger", S, W, "AlwaysOn", "enum:OnDemand|AlwaysOn|Manual" },
    { "RouteProtocolRx", S, W, "Off", "enum:Off|RIPv1|RIPv2|OSPF" },
    { "PortMappingNumberOfEntries", U, 0, "0" },
    { "Stats.EthernetBytesSent", U, NA, "0" },
    { "Stats.EthernetBytesReceived", U, NA, "0" },
    { "Stats.EthernetPacketsSent", U, NA, "0" },
    { "Stats.EthernetPacketsReceived", U, NA, "0" },
    { "PortMapping.{i}.PortMappingEnabled", B, W, "false" },
    { "PortMapping.{i}.PortMappingLeaseDuration", U, W, "0" },
    { "PortMapping.{i}.RemoteHost", S, W, "" },
    { "PortMapping.{i}.ExternalPort", U, W, "0", "0:65535" },
    { "PortMapping.{i}.ExternalPortEndRange", U, W, "0", "0:65535" },
    { "PortMapping.{i}.InternalPort", U, W, "0", "0:65535" },
    { "PortMapping.{i}.PortMappingProtocol", S, W, "TCP", "enum:TCP|UDP" },
    { "PortMapping.{i}.InternalClient", S, W, "", "len:256" },
    { "PortMapping.{i}.PortMappingDescription", S, W, "", "len:256" },
    { NULL },
};

static const dmb_row_t wan_ppp[] = {
    { "Enable", B, W, "false" },
    { "ConnectionStatus", S, 0, "Unconfigured" },
    { "PossibleConnectionTypes", S, 0, "IP_Routed" },
    { "ConnectionType", S, W, "IP_Routed", "enum:Unconfigured|IP_Routed|DHCP_Spoofed|PPPoE_Bridged|PPTP_Relay|L2TP_Relay|PPPoE_Relay" },
    { "Name", S, W, "", "len:256" },
    { "Uptime", U, NA, "0" },
    { "LastConnectionError", S, 0, "ERROR_NONE" },
    { "NATEnabled", B, W, "true" },
    { "Username", S, W, "", "len:64" },
    { "Password", S, W | SEC, "", "len:64" },
    { "ExternalIPAddress", S, 0, "" },
    { "DNSEnabled", B, W, "true" },
    { "DNSServers", S, W, "" },
    { "MaxMRUSize", U, W, "1492", "1:1540" },
    { "MACAddress", S, W, "" },
    { "PPPoEServiceName", S, W, "", "len:256" },
    { "ConnectionTrigger", S, W, "AlwaysOn", "enum:OnDemand|AlwaysOn|Manual" },
    { "PortMappingNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t ip_ping[] = {
    { "DiagnosticsState", S, W, "None",
      "enum:None|Requested|Complete|Error_CannotResolveHostName|Error_Internal|Error_Other" },
    { "Interface", S, W, "", "len:256" },
    { "Host", S, W, "", "len:256" },
    { "NumberOfRepetitions", U, W, "3", "1:" },
    { "Timeout", U, W, "1000", "1:" },
    { "DataBlockSize", U, W, "64", "1:65535" },
    { "DSCP", U, W, "0", "0:64" },
    { "SuccessCount", U, 0, "0" },
    { "FailureCount", U, 0, "0" },
    { "AverageResponseTime", U, 0, "0" },
    { "MinimumResponseTime", U, 0, "0" },
    { "MaximumResponseTime", U, 0, "0" },
    { NULL },
};

#define IGD "InternetGatewayDevice."
#define LAN IGD "LANDevice.1."
#define WCD IGD "WANDevice.1.WANConnectionDevice."

static void lan(dmb_t *b)
{
    dmb_rows(b, (const dmb_row_t[]){
                    { "LANEthernetInterfaceNumberOfEntries", U, 0, "0" },
                    { "LANUSBInterfaceNumberOfEntries", U, 0, "0" },
                    { "LANWLANConfigurationNumberOfEntries", U, 0, "0" },
                    { NULL } },
             LAN);
    dmb_rows(b, lan_hcm, LAN "LANHostConfigManagement.");
    dmb_obj(b, W | DM_TABLE, LAN "LANHostConfigManagement.DHCPStaticAddress.");
    dmb_obj(b, W | DM_TABLE, LAN "LANHostConfigManagement.IPInterface.");
    dmb_obj(b, W | DM_TABLE, IGD "LANDevice.");
    dmb_obj(b, W, LAN "LANHostConfigManagement.DHCPStaticAddress.{i}.");
    for (int i = 1; i <= 4; i++) {
        dmb_rows(b, lan_eth, LAN "LANEthernetInterfaceConfig.%d.", i);
        char v[16];
        snprintf(v, sizeof v, "eth%d", i);
        dmb_set(b, v, LAN "LANEthernetInterfaceConfig.%d.Name", i);
        dmb_dyn(b, DM_DYN_MAC, (unsigned)(i + 1), LAN "LANEthernetInterfaceConfig.%d.MACAddress", i);
    }
    dmb_set(b, "NoLink", LAN "LANEthernetInterfaceConfig.4.Status");
    dmb_set(b, "4", LAN "LANEthernetInterfaceNumberOfEntries");
    dmb_set(b, "2", LAN "LANWLANConfigurationNumberOfEntries");
    for (int i = 1; i <= 2; i++) {
        dmb_rows(b, wlan, LAN "WLANConfiguration.%d.", i);
        dmb_set(b, i == 1 ? "wl0" : "wl1", LAN "WLANConfiguration.%d.Name", i);
        dmb_set(b, i == 1 ? "Outpost-2G" : "Outpost-5G", LAN "WLANConfiguration.%d.SSID", i);
        dmb_dyn(b, DM_DYN_MAC, 8u + (unsigned)i, LAN "WLANConfiguration.%d.BSSID", i);
    }
    dmb_set(b, "ac", LAN "WLANConfiguration.2.Standard");
    dmb_set(b, "36", LAN "WLANConfiguration.2.Channel");
    dmb_set(b, "36", LAN "WLANConfiguration.2.ChannelsInUse");
    dmb_set(b, "36,40,44,48,52,56,60,64,100,104,108,112,116,120,124,128,132,136,140",
            LAN "WLANConfiguration.2.PossibleChannels");
    for (int k = 1; k <= 2; k++) {
        dmb_rows(b, wlan_assoc, LAN "WLANConfiguration.1.AssociatedDevice.%d.", k);
        dmb_dyn(b, DM_DYN_MAC, 16u + (unsigned)k,
                LAN "WLANConfiguration.1.AssociatedDevice.%d.AssociatedDeviceMACAddress", k);
        char v[32];
        snprintf(v, sizeof v, "192.168.1.%d", 101 + k);
        dmb_set(b, v, LAN "WLANConfiguration.1.AssociatedDevice.%d.AssociatedDeviceIPAddress", k);
    }
    dmb_set(b, "2", LAN "WLANConfiguration.1.TotalAssociations");

    static const char *const names[] = { "laptop", "phone", "tv" };
    dmb_rows(b, (const dmb_row_t[]){ { "HostNumberOfEntries", U, 0, "0" }, { NULL } }, LAN "Hosts.");
    for (int i = 1; i <= 3; i++) {
        dmb_rows(b, host, LAN "Hosts.Host.%d.", i);
        char v[80];
        snprintf(v, sizeof v, "192.168.1.%d", 100 + i);
        dmb_set(b, v, LAN "Hosts.Host.%d.IPAddress", i);
        dmb_dyn(b, DM_DYN_MAC, (unsigned)(i == 1 ? 32 : 15 + i), LAN "Hosts.Host.%d.MACAddress", i);
        dmb_set(b, names[i - 1], LAN "Hosts.Host.%d.HostName", i);
        dmb_set(b, i == 1 ? LAN "LANEthernetInterfaceConfig.1" : LAN "WLANConfiguration.1",
                LAN "Hosts.Host.%d.Layer2Interface", i);
        if (i > 1)
            dmb_set(b, "802.11", LAN "Hosts.Host.%d.InterfaceType", i);
    }
}

static void wan(dmb_t *b)
{
    dmb_rows(b, (const dmb_row_t[]){ { "WANConnectionNumberOfEntries", U, 0, "0" }, { NULL } },
             IGD "WANDevice.1.");
    dmb_rows(b, wan_common, IGD "WANDevice.1.WANCommonInterfaceConfig.");
    dmb_rows(b, wan_eth, IGD "WANDevice.1.WANEthernetInterfaceConfig.");
    dmb_rows(b, (const dmb_row_t[]){
                    { "WANIPConnectionNumberOfEntries", U, 0, "0" },
                    { "WANPPPConnectionNumberOfEntries", U, 0, "0" },
                    { NULL } },
             WCD "1.");
    dmb_obj(b, W, WCD "1.");
    dmb_rows(b, wan_ip, WCD "1.WANIPConnection.1.");
    dmb_obj(b, W, WCD "1.WANIPConnection.1.");
    dmb_set(b, "true", WCD "1.WANIPConnection.1.Enable");
    dmb_set(b, "Connected", WCD "1.WANIPConnection.1.ConnectionStatus");
    dmb_set(b, "wan", WCD "1.WANIPConnection.1.Name");
    dmb_dyn(b, DM_DYN_WAN_IP, 0, WCD "1.WANIPConnection.1.ExternalIPAddress");
    dmb_set(b, "255.192.0.0", WCD "1.WANIPConnection.1.SubnetMask");
    dmb_set(b, "100.64.0.1", WCD "1.WANIPConnection.1.DefaultGateway");
    dmb_set(b, "192.0.2.53,198.51.100.53", WCD "1.WANIPConnection.1.DNSServers");
    dmb_dyn(b, DM_DYN_MAC, 1, WCD "1.WANIPConnection.1.MACAddress");
    dmb_obj(b, W | DM_TABLE, WCD "1.WANIPConnection.1.PortMapping.");
    dmb_obj(b, W, WCD "1.WANIPConnection.1.PortMapping.{i}.");
    dmb_obj(b, W | DM_TABLE, WCD "1.WANIPConnection.");
    dmb_rows(b, wan_ip, WCD "1.WANIPConnection.{i}.");
    dmb_obj(b, W, WCD "1.WANIPConnection.{i}.");
    dmb_obj(b, W, WCD "1.WANIPConnection.{i}.PortMapping.{i}.");
    dmb_obj(b, W | DM_TABLE, WCD "1.WANPPPConnection.");
    dmb_rows(b, wan_ppp, WCD "1.WANPPPConnection.{i}.");
    dmb_obj(b, W, WCD "1.WANPPPConnection.{i}.");
    /* a new WAN connection device starts with empty IP and PPP tables */
    dmb_obj(b, W | DM_TABLE, WCD);
    dmb_rows(b, (const dmb_row_t[]){
                    { "WANIPConnectionNumberOfEntries", U, 0, "0" },
                    { "WANPPPConnectionNumberOfEntries", U, 0, "0" },
                    { NULL } },
             WCD "{i}.");
    dmb_obj(b, W, WCD "{i}.");
    dmb_obj(b, W | DM_TABLE, WCD "{i}.WANIPConnection.");
    dmb_rows(b, wan_ip, WCD "{i}.WANIPConnection.{i}.");
    dmb_obj(b, W, WCD "{i}.WANIPConnection.{i}.");
    dmb_obj(b, W, WCD "{i}.WANIPConnection.{i}.PortMapping.{i}.");
    dmb_obj(b, W | DM_TABLE, WCD "{i}.WANPPPConnection.");
    dmb_rows(b, wan_ppp, WCD "{i}.WANPPPConnection.{i}.");
    dmb_obj(b, W, WCD "{i}.WANPPPConnection.{i}.");
}

int dm_tr098_build(dm_model_t *m)
{
    dmb_t b = { .m = m };
    dmb_rows(&b, root_rows, IGD);
    dmb_rows(&b, device_info, IGD "DeviceInfo.");
    dmb_rows(&b, (const dmb_row_t[]){
                     { "PersistentData", S, W, "", "len:256" },
                     { "ConfigFile", S, W, "", "len:32768" },
                     { NULL } },
             IGD "DeviceConfig.");
    dmb_rows(&b, mgmt_server, IGD "ManagementServer.");
    dmb_rows(&b, time_rows, IGD "Time.");
    dmb_rows(&b, user_interface, IGD "UserInterface.");
    dmb_rows(&b, (const dmb_row_t[]){
                     { "DefaultConnectionService", S, W,
                       IGD "WANDevice.1.WANConnectionDevice.1.WANIPConnection.1", "len:256" },
                     { "ForwardNumberOfEntries", U, 0, "0" },
                     { NULL } },
             IGD "Layer3Forwarding.");
    dmb_rows(&b, forwarding, IGD "Layer3Forwarding.Forwarding.{i}.");
    dmb_obj(&b, W | DM_TABLE, IGD "Layer3Forwarding.Forwarding.");
    dmb_obj(&b, W, IGD "Layer3Forwarding.Forwarding.{i}.");
    lan(&b);
    wan(&b);
    dmb_rows(&b, ip_ping, IGD "IPPingDiagnostics.");
    return b.rc;
}
