/*
 * dm_tr181: the built-in TR-181 Issue 2 (Device:2) model of a simulated
 * residential gateway: one Ethernet WAN port and three LAN ports, two WiFi
 * radios (2.4 and 5 GHz) with an SSID and access point each, a WAN and a LAN
 * IP interface, DHCP client and server, DNS, routing, NAT port mappings,
 * three LAN hosts, time, users and the management server.
 *
 * Written for this project from the TR-181 definitions: names, xsd types
 * and writability follow the standard; values describe a plausible device.
 * Per-CPE values (serial, MACs, the WAN address, uptime) are dynamic.
 */
#include "cpesim/dm_builtin.h"

#include <stdio.h>

/* Rows name only the fields they use; the rest are zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MAC(n) 0, NULL, NULL, DM_DYN_MAC, (n)

static const dmb_row_t root_rows[] = {
    { "RootDataModelVersion", S, 0, "2.15" },
    { "InterfaceStackNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t device_info[] = {
    { "DeviceCategory", S, 0, "InternetGatewayDevice" },
    { "Manufacturer", S, 0, "Outpost" },
    { "ManufacturerOUI", S, 0, "ACDE48" },
    { "ModelName", S, 0, "OP-1000" },
    { "ModelNumber", S, 0, "OP-1000-EU" },
    { "Description", S, 0, "Outpost simulated residential gateway" },
    { "ProductClass", S, 0, "OP-1000" },
    { "SerialNumber", S, 0, NULL, NULL, DM_DYN_SERIAL },
    { "HardwareVersion", S, 0, "1.0" },
    { "SoftwareVersion", S, 0, "1.0.0" },
    { "AdditionalHardwareVersion", S, 0, "" },
    { "AdditionalSoftwareVersion", S, 0, "" },
    { "ProvisioningCode", S, W, "", "len:64" },
    { "UpTime", U, NA, "0", NULL, DM_DYN_UPTIME },
    { "FirstUseDate", T, 0, "0001-01-01T00:00:00Z" },
    { "VendorConfigFileNumberOfEntries", U, 0, "0" },
    { "SupportedDataModelNumberOfEntries", U, 0, "0" },
    { "ProcessorNumberOfEntries", U, 0, "0" },
    { "VendorLogFileNumberOfEntries", U, 0, "0" },
    { "LocationNumberOfEntries", U, 0, "0" },
    { "MemoryStatus.Total", U, 0, "262144" },
    { "MemoryStatus.Free", U, NA, "141312" },
    { "ProcessStatus.CPUUsage", U, NA, "3", "0:100" },
    { "ProcessStatus.ProcessNumberOfEntries", U, 0, "0" },
    { "TemperatureStatus.TemperatureSensorNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t mgmt_server[] = {
    { "EnableCWMP", B, W, "true" },
    { "URL", S, W, "", "len:256" },
    { "Username", S, W, "", "len:256" },
    { "Password", S, W | SEC, "", "len:256" },
    { "ScheduleReboot", T, W, "0001-01-01T00:00:00Z" },
    { "DelayReboot", I, W, "-1", "-1:" },
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
    { "SupportedConnReqMethods", S, 0, "HTTP" },
    { "UpgradesManaged", B, W, "false" },
    { "KickURL", S, 0, "" },
    { "DownloadProgressURL", S, 0, "" },
    { "DefaultActiveNotificationThrottle", U, W, "0" },
    { "CWMPRetryMinimumWaitInterval", U, W, "5", "1:65535" },
    { "CWMPRetryIntervalMultiplier", U, W, "2000", "1000:65535" },
    { "HTTPConnectionRequestEnable", B, W, "true" },
    { "UDPConnectionRequestAddress", S, 0, "" },
    { "STUNEnable", B, W, "false" },
    { "STUNServerAddress", S, W, "", "len:256" },
    { "STUNServerPort", U, W, "3478", "0:65535" },
    { "STUNUsername", S, W, "", "len:256" },
    { "STUNPassword", S, W | SEC, "", "len:256" },
    { "NATDetected", B, 0, "false" },
    { "AliasBasedAddressing", B, 0, "false" },
    { "InstanceMode", S, W, "InstanceNumber", "enum:InstanceNumber|InstanceAlias" },
    { "AutoCreateInstances", B, W, "false" },
    { "ManageableDeviceNumberOfEntries", U, 0, "0" },
    { "ManageableDeviceNotificationLimit", U, W, "0" },
    { "EmbeddedDeviceNumberOfEntries", U, 0, "0" },
    { "VirtualDeviceNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t time_rows[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Synchronized" },
    { "NTPServer1", S, W, "0.pool.ntp.org", "len:64" },
    { "NTPServer2", S, W, "1.pool.ntp.org", "len:64" },
    { "NTPServer3", S, W, "", "len:64" },
    { "NTPServer4", S, W, "", "len:64" },
    { "NTPServer5", S, W, "", "len:64" },
    { "CurrentLocalTime", T, NA, NULL, NULL, DM_DYN_NOW },
    { "LocalTimeZone", S, W, "UTC0", "len:256" },
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
    { "TextColor", HEX, W, "000000" },
    { "BackgroundColor", HEX, W, "FFFFFF" },
    { "ButtonColor", HEX, W, "3366CC" },
    { "ButtonTextColor", HEX, W, "FFFFFF" },
    { "AutoUpdateServer", S, W, "", "len:256" },
    { "UserUpdateServer", S, W, "", "len:256" },
    { "AvailableLanguages", S, 0, "en,de,fr" },
    { "CurrentLanguage", S, W, "en", "len:16" },
    { NULL },
};

static const dmb_row_t eth_iface[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "Alias", S, W, "", "len:64" },
    { "Name", S, 0, "" },
    { "LastChange", U, NA, "0" },
    { "LowerLayers", S, W, "" },
    { "Upstream", B, 0, "false" },
    { "MACAddress", S, MAC(0) },
    { "MaxBitRate", I, W, "-1", "-1:" },
    { "CurrentBitRate", U, 0, "1000" },
    { "DuplexMode", S, W, "Auto", "enum:Half|Full|Auto" },
    { "EEECapability", B, 0, "false" },
    { "EEEEnable", B, W, "false" },
    { "Stats.BytesSent", UL, NA, "0" },
    { "Stats.BytesReceived", UL, NA, "0" },
    { "Stats.PacketsSent", UL, NA, "0" },
    { "Stats.PacketsReceived", UL, NA, "0" },
    { "Stats.ErrorsSent", U, NA, "0" },
    { "Stats.ErrorsReceived", U, NA, "0" },
    { "Stats.UnicastPacketsSent", UL, NA, "0" },
    { "Stats.UnicastPacketsReceived", UL, NA, "0" },
    { "Stats.DiscardPacketsSent", U, NA, "0" },
    { "Stats.DiscardPacketsReceived", U, NA, "0" },
    { "Stats.MulticastPacketsSent", UL, NA, "0" },
    { "Stats.MulticastPacketsReceived", UL, NA, "0" },
    { "Stats.BroadcastPacketsSent", UL, NA, "0" },
    { "Stats.BroadcastPacketsReceived", UL, NA, "0" },
    { "Stats.UnknownProtoPacketsReceived", U, NA, "0" },
    { NULL },
};

static const dmb_row_t eth_link[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "Alias", S, W, "", "len:64" },
    { "Name", S, 0, "" },
    { "LastChange", U, NA, "0" },
    { "LowerLayers", S, W, "" },
    { "MACAddress", S, W, NULL, NULL, DM_DYN_MAC, 0 },
    { "PriorityTagging", B, W, "false" },
    { "Stats.BytesSent", UL, NA, "0" },
    { "Stats.BytesReceived", UL, NA, "0" },
    { "Stats.PacketsSent", UL, NA, "0" },
    { "Stats.PacketsReceived", UL, NA, "0" },
    { "Stats.ErrorsSent", U, NA, "0" },
    { "Stats.ErrorsReceived", U, NA, "0" },
    { NULL },
};

static const dmb_row_t wifi_radio[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "Alias", S, W, "", "len:64" },
    { "Name", S, 0, "" },
    { "LastChange", U, NA, "0" },
    { "LowerLayers", S, W, "" },
    { "Upstream", B, 0, "false" },
    { "MaxBitRate", U, 0, "574" },
    { "SupportedFrequencyBands", S, 0, "2.4GHz" },
    { "OperatingFrequencyBand", S, W, "2.4GHz", "enum:2.4GHz|5GHz" },
    { "SupportedStandards", S, 0, "b,g,n,ax" },
    { "OperatingStandards", S, W, "g,n,ax" },
    { "PossibleChannels", S, 0, "1-13" },
    { "ChannelsInUse", S, 0, "6" },
    { "Channel", U, W | VOL, "6", "1:255" },
    { "AutoChannelSupported", B, 0, "true" },
    { "AutoChannelEnable", B, W, "true" },
    { "AutoChannelRefreshPeriod", U, W, "0" },
    { "OperatingChannelBandwidth", S, W, "20MHz", "enum:20MHz|40MHz|80MHz|160MHz|Auto" },
    { "ExtensionChannel", S, W, "Auto", "enum:AboveControlChannel|BelowControlChannel|Auto" },
    { "GuardInterval", S, W, "Auto", "enum:400nsec|800nsec|Auto" },
    { "MCS", I, W, "-1", "-1:15" },
    { "TransmitPowerSupported", S, 0, "-1,25,50,75,100" },
    { "TransmitPower", I, W, "100", "-1:100" },
    { "IEEE80211hSupported", B, 0, "false" },
    { "IEEE80211hEnabled", B, W, "false" },
    { "RegulatoryDomain", S, W, "US ", "len:3" },
    { "Stats.BytesSent", UL, NA, "0" },
    { "Stats.BytesReceived", UL, NA, "0" },
    { "Stats.PacketsSent", UL, NA, "0" },
    { "Stats.PacketsReceived", UL, NA, "0" },
    { "Stats.ErrorsSent", U, NA, "0" },
    { "Stats.ErrorsReceived", U, NA, "0" },
    { "Stats.DiscardPacketsSent", U, NA, "0" },
    { "Stats.DiscardPacketsReceived", U, NA, "0" },
    { "Stats.Noise", I, NA, "-92" },
    { NULL },
};

static const dmb_row_t wifi_ssid[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Up" },
    { "Alias", S, W, "", "len:64" },
    { "Name", S, 0, "" },
    { "LastChange", U, NA, "0" },
    { "LowerLayers", S, W, "" },
    { "BSSID", S, MAC(0) },
    { "MACAddress", S, MAC(0) },
    { "SSID", S, W, "", "len:32" },
    { "Upstream", B, 0, "false" },
    { "Stats.BytesSent", UL, NA, "0" },
    { "Stats.BytesReceived", UL, NA, "0" },
    { "Stats.PacketsSent", UL, NA, "0" },
    { "Stats.PacketsReceived", UL, NA, "0" },
    { "Stats.ErrorsSent", U, NA, "0" },
    { "Stats.ErrorsReceived", U, NA, "0" },
    { "Stats.RetransCount", U, NA, "0" },
    { "Stats.UnicastPacketsSent", UL, NA, "0" },
    { "Stats.UnicastPacketsReceived", UL, NA, "0" },
    { "Stats.DiscardPacketsSent", U, NA, "0" },
    { "Stats.DiscardPacketsReceived", U, NA, "0" },
    { NULL },
};

static const dmb_row_t wifi_ap[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Enabled" },
    { "Alias", S, W, "", "len:64" },
    { "SSIDReference", S, W, "" },
    { "SSIDAdvertisementEnabled", B, W, "true" },
    { "RetryLimit", U, W, "7", "0:127" },
    { "WMMCapability", B, 0, "true" },
    { "UAPSDCapability", B, 0, "true" },
    { "WMMEnable", B, W, "true" },
    { "UAPSDEnable", B, W, "false" },
    { "AssociatedDeviceNumberOfEntries", U, 0, "0" },
    { "MaxAssociatedDevices", U, W, "32" },
    { "IsolationEnable", B, W, "false" },
    { "MACAddressControlEnabled", B, W, "false" },
    { "AllowedMACAddress", S, W, "" },
    { "Security.ModesSupported", S, 0, "None,WPA2-Personal,WPA3-Personal,WPA2-WPA3-Personal" },
    { "Security.ModeEnabled", S, W, "WPA2-Personal",
      "enum:None|WPA2-Personal|WPA3-Personal|WPA2-WPA3-Personal" },
    { "Security.WEPKey", HEX, W | SEC, "" },
    { "Security.PreSharedKey", HEX, W | SEC, "" },
    { "Security.KeyPassphrase", S, W | SEC, "", "len:63" },
    { "Security.SAEPassphrase", S, W | SEC, "" },
    { "Security.RekeyingInterval", U, W, "3600" },
    { "Security.RadiusServerIPAddr", S, W, "", "len:45" },
    { "Security.RadiusServerPort", U, W, "1812", "0:65535" },
    { "Security.RadiusSecret", S, W | SEC, "" },
    { "WPS.Enable", B, W, "false" },
    { "WPS.ConfigMethodsSupported", S, 0, "PushButton,PIN" },
    { "WPS.ConfigMethodsEnabled", S, W, "PushButton" },
    { "WPS.Status", S, 0, "Disabled" },
    { "AssociatedDevice.", 0, DM_TABLE },
    { NULL },
};

static const dmb_row_t wifi_assoc[] = {
    { "MACAddress", S, 0, "" },
    { "AuthenticationState", B, 0, "true" },
    { "LastDataDownlinkRate", U, NA, "144000", "1000:" },
    { "LastDataUplinkRate", U, NA, "72000", "1000:" },
    { "SignalStrength", I, NA, "-58", "-200:0" },
    { "Retransmissions", U, NA, "0", "0:100" },
    { "Active", B, 0, "true" },
    { NULL },
};

static const dmb_row_t ip_rows[] = {
    { "IPv4Capable", B, 0, "true" },
    { "IPv4Enable", B, W, "true" },
    { "IPv4Status", S, 0, "Enabled" },
    { "IPv6Capable", B, 0, "true" },
    { "IPv6Enable", B, W, "false" },
    { "IPv6Status", S, 0, "Disabled" },
    { "ULAPrefix", S, W, "" },
    { "InterfaceNumberOfEntries", U, 0, "0" },
    { "ActivePortNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t ip_iface[] = {
    { "Enable", B, W, "true" },
    { "IPv4Enable", B, W, "true" },
    { "IPv6Enable", B, W, "false" },
    { "ULAEnable", B, W, "false" },
    { "Status", S, 0, "Up" },
    { "Alias", S, W, "", "len:64" },
    { "Name", S, 0, "" },
    { "LastChange", U, NA, "0" },
    { "LowerLayers", S, W, "" },
    { "Router", S, W, "Device.Routing.Router.1." },
    { "Reset", B, W, "false" },
    { "MaxMTUSize", U, W, "1500", "64:65535" },
    { "Type", S, 0, "Normal" },
    { "Loopback", B, W, "false" },
    { "IPv4AddressNumberOfEntries", U, 0, "0" },
    { "IPv6AddressNumberOfEntries", U, 0, "0" },
    { "IPv6PrefixNumberOfEntries", U, 0, "0" },
    { "Stats.BytesSent", UL, NA, "0" },
    { "Stats.BytesReceived", UL, NA, "0" },
    { "Stats.PacketsSent", UL, NA, "0" },
    { "Stats.PacketsReceived", UL, NA, "0" },
    { "Stats.ErrorsSent", U, NA, "0" },
    { "Stats.ErrorsReceived", U, NA, "0" },
    { "Stats.DiscardPacketsSent", U, NA, "0" },
    { "Stats.DiscardPacketsReceived", U, NA, "0" },
    { "IPv4Address.", 0, W | DM_TABLE },
    { "IPv6Address.", 0, W | DM_TABLE },
    { NULL },
};

static const dmb_row_t ipv4_addr[] = {
    { "Enable", B, W, "false" },
    { "Status", S, 0, "Disabled" },
    { "Alias", S, W, "", "len:64" },
    { "IPAddress", S, W, "", "len:15" },
    { "SubnetMask", S, W, "", "len:15" },
    { "AddressingType", S, 0, "Static" },
    { NULL },
};

static const dmb_row_t ipv6_addr[] = {
    { "Enable", B, W, "false" },
    { "Status", S, 0, "Disabled" },
    { "IPAddressStatus", S, 0, "Invalid" },
    { "Alias", S, W, "", "len:64" },
    { "IPAddress", S, W, "", "len:45" },
    { "Origin", S, 0, "Static" },
    { "Prefix", S, W, "" },
    { "PreferredLifetime", T, W, "9999-12-31T23:59:59Z" },
    { "ValidLifetime", T, W, "9999-12-31T23:59:59Z" },
    { "Anycast", B, W, "false" },
    { NULL },
};

static const dmb_row_t ip_ping[] = {
    { "DiagnosticsState", S, W, "None",
      "enum:None|Requested|Canceled|Complete|Error|Error_CannotResolveHostName|Error_Internal|Error_Other" },
    { "Interface", S, W, "" },
    { "ProtocolVersion", S, W, "Any", "enum:Any|IPv4|IPv6" },
    { "Host", S, W, "", "len:256" },
    { "NumberOfRepetitions", U, W, "3", "1:" },
    { "Timeout", U, W, "1000", "1:" },
    { "DataBlockSize", U, W, "64", "1:65535" },
    { "DSCP", U, W, "0", "0:63" },
    { "IPAddressUsed", S, 0, "" },
    { "SuccessCount", U, 0, "0" },
    { "FailureCount", U, 0, "0" },
    { "AverageResponseTime", U, 0, "0" },
    { "MinimumResponseTime", U, 0, "0" },
    { "MaximumResponseTime", U, 0, "0" },
    { NULL },
};

static const dmb_row_t ipv4_fwd[] = {
    { "Enable", B, W, "false" },
    { "Status", S, 0, "Disabled" },
    { "Alias", S, W, "", "len:64" },
    { "StaticRoute", B, 0, "true" },
    { "DestIPAddress", S, W, "", "len:15" },
    { "DestSubnetMask", S, W, "", "len:15" },
    { "ForwardingPolicy", I, W, "-1", "-1:" },
    { "GatewayIPAddress", S, W, "", "len:15" },
    { "Interface", S, W, "" },
    { "Origin", S, 0, "Static" },
    { "ForwardingMetric", I, W, "-1", "-1:" },
    { NULL },
};

static const dmb_row_t dns_server[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Enabled" },
    { "Alias", S, W, "", "len:64" },
    { "DNSServer", S, W, "", "len:45" },
    { "Interface", S, W, "Device.IP.Interface.1." },
    { "Type", S, 0, "DHCPv4" },
    { NULL },
};

static const dmb_row_t dhcp_client[] = {
    { "Enable", B, W, "true" },
    { "Alias", S, W, "", "len:64" },
    { "Interface", S, W, "Device.IP.Interface.1." },
    { "Status", S, 0, "Enabled" },
    { "DHCPStatus", S, 0, "Bound" },
    { "Renew", B, W, "false" },
    { "IPAddress", S, 0, NULL, NULL, DM_DYN_WAN_IP },
    { "SubnetMask", S, 0, "255.192.0.0" },
    { "IPRouters", S, 0, "100.64.0.1" },
    { "DNSServers", S, 0, "192.0.2.53,198.51.100.53" },
    { "LeaseTimeRemaining", I, NA, "86400", "-1:" },
    { "DHCPServer", S, 0, "100.64.0.1" },
    { "SentOptionNumberOfEntries", U, 0, "0" },
    { "ReqOptionNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t dhcp_pool[] = {
    { "Enable", B, W, "true" },
    { "Status", S, 0, "Enabled" },
    { "Alias", S, W, "", "len:64" },
    { "Order", U, W, "1", "1:" },
    { "Interface", S, W, "Device.IP.Interface.2." },
    { "VendorClassID", S, W, "", "len:255" },
    { "ClientID", HEX, W, "" },
    { "UserClassID", HEX, W, "" },
    { "Chaddr", S, W, "" },
    { "ChaddrMask", S, W, "" },
    { "MinAddress", S, W, "192.168.1.100", "len:15" },
    { "MaxAddress", S, W, "192.168.1.249", "len:15" },
    { "ReservedAddresses", S, W, "" },
    { "SubnetMask", S, W, "255.255.255.0", "len:15" },
    { "DNSServers", S, W, "192.168.1.1" },
    { "DomainName", S, W, "lan", "len:64" },
    { "IPRouters", S, W, "192.168.1.1" },
    { "LeaseTime", I, W, "86400", "-1:" },
    { "StaticAddressNumberOfEntries", U, 0, "0" },
    { "OptionNumberOfEntries", U, 0, "0" },
    { "ClientNumberOfEntries", U, 0, "0" },
    { "StaticAddress.", 0, W | DM_TABLE },
    { NULL },
};

static const dmb_row_t dhcp_static[] = {
    { "Enable", B, W, "false" },
    { "Alias", S, W, "", "len:64" },
    { "Chaddr", S, W, "" },
    { "Yiaddr", S, W, "", "len:15" },
    { NULL },
};

static const dmb_row_t host[] = {
    { "Alias", S, W, "", "len:64" },
    { "PhysAddress", S, 0, "" },
    { "IPAddress", S, 0, "" },
    { "AddressSource", S, 0, "DHCP" },
    { "DHCPClient", S, 0, "" },
    { "LeaseTimeRemaining", I, NA, "80000", "-1:" },
    { "AssociatedDevice", S, 0, "" },
    { "Layer1Interface", S, 0, "" },
    { "Layer3Interface", S, 0, "Device.IP.Interface.2." },
    { "HostName", S, 0, "", "len:64" },
    { "Active", B, VOL, "true" },
    { "ActiveLastChange", T, 0, "0001-01-01T00:00:00Z" },
    { "IPv4AddressNumberOfEntries", U, 0, "0" },
    { "IPv6AddressNumberOfEntries", U, 0, "0" },
    { NULL },
};

static const dmb_row_t port_mapping[] = {
    { "Enable", B, W, "false" },
    { "Status", S, 0, "Disabled" },
    { "Alias", S, W, "", "len:64" },
    { "Interface", S, W, "" },
    { "AllInterfaces", B, W, "false" },
    { "LeaseDuration", U, W, "0" },
    { "RemoteHost", S, W, "" },
    { "ExternalPort", U, W, "0", "0:65535" },
    { "ExternalPortEndRange", U, W, "0", "0:65535" },
    { "InternalPort", U, W, "0", "0:65535" },
    { "Protocol", S, W, "TCP", "enum:TCP|UDP" },
    { "InternalClient", S, W, "", "len:256" },
    { "Description", S, W, "", "len:256" },
    { NULL },
};

static const dmb_row_t user[] = {
    { "Enable", B, W, "false" },
    { "Alias", S, W, "", "len:64" },
    { "RemoteAccessCapable", B, W, "false" },
    { "Username", S, W, "", "len:64" },
    { "Password", S, W | SEC, "", "len:64" },
    { "Language", S, W, "", "len:16" },
    { NULL },
};

static void wifi(dmb_t *b)
{
    static const char *const band[] = { "2.4GHz", "5GHz" };
    static const char *const std[] = { "b,g,n,ax", "a,n,ac,ax" };
    static const char *const ostd[] = { "g,n,ax", "n,ac,ax" };
    static const char *const chans[] = { "1-13", "36,40,44,48,52,56,60,64,100,104,108,112,116,120,124,128,132,136,140" };
    static const char *const ch[] = { "6", "36" };
    static const char *const bw[] = { "20MHz", "80MHz" };
    static const char *const rate[] = { "574", "2402" };
    for (int i = 1; i <= 2; i++) {
        dmb_rows(b, wifi_radio, "Device.WiFi.Radio.%d.", i);
        dmb_set(b, i == 1 ? "wlan0" : "wlan1", "Device.WiFi.Radio.%d.Name", i);
        dmb_set(b, band[i - 1], "Device.WiFi.Radio.%d.SupportedFrequencyBands", i);
        dmb_set(b, band[i - 1], "Device.WiFi.Radio.%d.OperatingFrequencyBand", i);
        dmb_set(b, std[i - 1], "Device.WiFi.Radio.%d.SupportedStandards", i);
        dmb_set(b, ostd[i - 1], "Device.WiFi.Radio.%d.OperatingStandards", i);
        dmb_set(b, chans[i - 1], "Device.WiFi.Radio.%d.PossibleChannels", i);
        dmb_set(b, ch[i - 1], "Device.WiFi.Radio.%d.ChannelsInUse", i);
        dmb_set(b, ch[i - 1], "Device.WiFi.Radio.%d.Channel", i);
        dmb_set(b, bw[i - 1], "Device.WiFi.Radio.%d.OperatingChannelBandwidth", i);
        dmb_set(b, rate[i - 1], "Device.WiFi.Radio.%d.MaxBitRate", i);

        dmb_rows(b, wifi_ssid, "Device.WiFi.SSID.%d.", i);
        dmb_set(b, i == 1 ? "wl0" : "wl1", "Device.WiFi.SSID.%d.Name", i);
        char v[64];
        snprintf(v, sizeof v, "Device.WiFi.Radio.%d.", i);
        dmb_set(b, v, "Device.WiFi.SSID.%d.LowerLayers", i);
        dmb_set(b, i == 1 ? "Outpost-2G" : "Outpost-5G", "Device.WiFi.SSID.%d.SSID", i);
        dmb_dyn(b, DM_DYN_MAC, 8 + i, "Device.WiFi.SSID.%d.BSSID", i);
        dmb_dyn(b, DM_DYN_MAC, 8 + i, "Device.WiFi.SSID.%d.MACAddress", i);

        dmb_rows(b, wifi_ap, "Device.WiFi.AccessPoint.%d.", i);
        snprintf(v, sizeof v, "Device.WiFi.SSID.%d.", i);
        dmb_set(b, v, "Device.WiFi.AccessPoint.%d.SSIDReference", i);
    }
    dmb_obj(b, W, "Device.WiFi.SSID.");
    dmb_obj(b, W, "Device.WiFi.AccessPoint.");
    dmb_rows(b, wifi_ssid, "Device.WiFi.SSID.{i}.");
    dmb_obj(b, W, "Device.WiFi.SSID.{i}.");
    /* two stations on the 2.4 GHz access point */
    for (int k = 1; k <= 2; k++) {
        dmb_rows(b, wifi_assoc, "Device.WiFi.AccessPoint.1.AssociatedDevice.%d.", k);
        dmb_dyn(b, DM_DYN_MAC, 16 + k, "Device.WiFi.AccessPoint.1.AssociatedDevice.%d.MACAddress", k);
    }
    dmb_rows(b, wifi_assoc, "Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.");
    dmb_rows(b, (const dmb_row_t[]){
                    { "RadioNumberOfEntries", U, 0, "0" },
                    { "SSIDNumberOfEntries", U, 0, "0" },
                    { "AccessPointNumberOfEntries", U, 0, "0" },
                    { "EndPointNumberOfEntries", U, 0, "0" },
                    { NULL } },
             "Device.WiFi.");
}

static void ethernet(dmb_t *b)
{
    dmb_rows(b, (const dmb_row_t[]){
                    { "InterfaceNumberOfEntries", U, 0, "0" },
                    { "LinkNumberOfEntries", U, 0, "0" },
                    { NULL } },
             "Device.Ethernet.");
    for (int i = 1; i <= 4; i++) {
        dmb_rows(b, eth_iface, "Device.Ethernet.Interface.%d.", i);
        char v[16];
        snprintf(v, sizeof v, "eth%d", i - 1);
        dmb_set(b, v, "Device.Ethernet.Interface.%d.Name", i);
        dmb_dyn(b, DM_DYN_MAC, (unsigned)i, "Device.Ethernet.Interface.%d.MACAddress", i);
        if (i == 1)
            dmb_set(b, "true", "Device.Ethernet.Interface.1.Upstream");
        if (i == 4)
            dmb_set(b, "Down", "Device.Ethernet.Interface.4.Status");
    }
    for (int i = 1; i <= 2; i++) {
        dmb_rows(b, eth_link, "Device.Ethernet.Link.%d.", i);
        dmb_set(b, i == 1 ? "wan" : "br-lan", "Device.Ethernet.Link.%d.Name", i);
        dmb_set(b, i == 1 ? "Device.Ethernet.Interface.1." : "Device.Ethernet.Interface.2.,Device.Ethernet.Interface.3.,Device.Ethernet.Interface.4.,Device.WiFi.SSID.1.,Device.WiFi.SSID.2.",
                "Device.Ethernet.Link.%d.LowerLayers", i);
        dmb_dyn(b, DM_DYN_MAC, i == 1 ? 1u : 8u, "Device.Ethernet.Link.%d.MACAddress", i);
    }
    dmb_obj(b, W | DM_TABLE, "Device.Ethernet.Link.");
}

static void ip(dmb_t *b)
{
    dmb_rows(b, ip_rows, "Device.IP.");
    for (int i = 1; i <= 2; i++) {
        dmb_rows(b, ip_iface, "Device.IP.Interface.%d.", i);
        dmb_rows(b, ipv4_addr, "Device.IP.Interface.%d.IPv4Address.1.", i);
        dmb_obj(b, W, "Device.IP.Interface.%d.IPv4Address.1.", i);
        dmb_set(b, "true", "Device.IP.Interface.%d.IPv4Address.1.Enable", i);
        dmb_set(b, "Enabled", "Device.IP.Interface.%d.IPv4Address.1.Status", i);
    }
    dmb_set(b, "wan", "Device.IP.Interface.1.Name");
    dmb_set(b, "Device.Ethernet.Link.1.", "Device.IP.Interface.1.LowerLayers");
    dmb_dyn(b, DM_DYN_WAN_IP, 0, "Device.IP.Interface.1.IPv4Address.1.IPAddress");
    dmb_set(b, "255.192.0.0", "Device.IP.Interface.1.IPv4Address.1.SubnetMask");
    dmb_set(b, "DHCP", "Device.IP.Interface.1.IPv4Address.1.AddressingType");
    dmb_set(b, "br-lan", "Device.IP.Interface.2.Name");
    dmb_set(b, "Device.Ethernet.Link.2.", "Device.IP.Interface.2.LowerLayers");
    dmb_set(b, "192.168.1.1", "Device.IP.Interface.2.IPv4Address.1.IPAddress");
    dmb_set(b, "255.255.255.0", "Device.IP.Interface.2.IPv4Address.1.SubnetMask");
    dmb_obj(b, W | DM_TABLE, "Device.IP.Interface.");
    dmb_rows(b, ip_iface, "Device.IP.Interface.{i}.");
    dmb_obj(b, W, "Device.IP.Interface.{i}.");
    dmb_rows(b, ipv4_addr, "Device.IP.Interface.{i}.IPv4Address.{i}.");
    dmb_obj(b, W, "Device.IP.Interface.{i}.IPv4Address.{i}.");
    dmb_rows(b, ipv6_addr, "Device.IP.Interface.{i}.IPv6Address.{i}.");
    dmb_obj(b, W, "Device.IP.Interface.{i}.IPv6Address.{i}.");
    dmb_rows(b, ipv6_addr, "Device.IP.Interface.1.IPv6Address.{i}.");
    dmb_obj(b, W, "Device.IP.Interface.1.IPv6Address.{i}.");
    dmb_rows(b, ipv6_addr, "Device.IP.Interface.2.IPv6Address.{i}.");
    dmb_obj(b, W, "Device.IP.Interface.2.IPv6Address.{i}.");
    dmb_rows(b, ip_ping, "Device.IP.Diagnostics.IPPing.");

    dmb_rows(b, (const dmb_row_t[]){
                    { "Enable", B, W, "true" },
                    { "Status", S, 0, "Enabled" },
                    { "Alias", S, W, "", "len:64" },
                    { "IPv4ForwardingNumberOfEntries", U, 0, "0" },
                    { "IPv6ForwardingNumberOfEntries", U, 0, "0" },
                    { NULL } },
             "Device.Routing.Router.1.");
    dmb_rows(b, (const dmb_row_t[]){ { "RouterNumberOfEntries", U, 0, "0" }, { NULL } }, "Device.Routing.");
    dmb_obj(b, W | DM_TABLE, "Device.Routing.Router.");
    dmb_rows(b, ipv4_fwd, "Device.Routing.Router.1.IPv4Forwarding.1.");
    dmb_set(b, "true", "Device.Routing.Router.1.IPv4Forwarding.1.Enable");
    dmb_set(b, "Enabled", "Device.Routing.Router.1.IPv4Forwarding.1.Status");
    dmb_set(b, "false", "Device.Routing.Router.1.IPv4Forwarding.1.StaticRoute");
    dmb_set(b, "100.64.0.1", "Device.Routing.Router.1.IPv4Forwarding.1.GatewayIPAddress");
    dmb_set(b, "Device.IP.Interface.1.", "Device.Routing.Router.1.IPv4Forwarding.1.Interface");
    dmb_set(b, "DHCPv4", "Device.Routing.Router.1.IPv4Forwarding.1.Origin");
    dmb_set(b, "0", "Device.Routing.Router.1.IPv4Forwarding.1.ForwardingMetric");
    dmb_obj(b, W | DM_TABLE, "Device.Routing.Router.1.IPv4Forwarding.");
    dmb_obj(b, W, "Device.Routing.Router.1.IPv4Forwarding.1.");
    dmb_rows(b, ipv4_fwd, "Device.Routing.Router.1.IPv4Forwarding.{i}.");
    dmb_obj(b, W, "Device.Routing.Router.1.IPv4Forwarding.{i}.");
}

static void services(dmb_t *b)
{
    dmb_rows(b, (const dmb_row_t[]){ { "SupportedRecordTypes", S, 0, "A,AAAA,SRV,PTR" }, { NULL } },
             "Device.DNS.");
    dmb_rows(b, (const dmb_row_t[]){
                    { "Enable", B, W, "true" },
                    { "Status", S, 0, "Enabled" },
                    { "ServerNumberOfEntries", U, 0, "0" },
                    { NULL } },
             "Device.DNS.Client.");
    for (int i = 1; i <= 2; i++) {
        dmb_rows(b, dns_server, "Device.DNS.Client.Server.%d.", i);
        dmb_obj(b, W, "Device.DNS.Client.Server.%d.", i);
        dmb_set(b, i == 1 ? "192.0.2.53" : "198.51.100.53", "Device.DNS.Client.Server.%d.DNSServer", i);
    }
    dmb_obj(b, W, "Device.DNS.Client.Server.");
    dmb_rows(b, dns_server, "Device.DNS.Client.Server.{i}.");
    dmb_obj(b, W, "Device.DNS.Client.Server.{i}.");
    dmb_set(b, "Static", "Device.DNS.Client.Server.{i}.Type");
    dmb_set(b, "", "Device.DNS.Client.Server.{i}.Interface");

    dmb_rows(b, (const dmb_row_t[]){ { "ClientNumberOfEntries", U, 0, "0" }, { NULL } }, "Device.DHCPv4.");
    dmb_rows(b, dhcp_client, "Device.DHCPv4.Client.1.");
    dmb_obj(b, W | DM_TABLE, "Device.DHCPv4.Client.");
    dmb_rows(b, (const dmb_row_t[]){
                    { "Enable", B, W, "true" },
                    { "PoolNumberOfEntries", U, 0, "0" },
                    { NULL } },
             "Device.DHCPv4.Server.");
    dmb_rows(b, dhcp_pool, "Device.DHCPv4.Server.Pool.1.");
    dmb_obj(b, W | DM_TABLE, "Device.DHCPv4.Server.Pool.");
    dmb_rows(b, dhcp_static, "Device.DHCPv4.Server.Pool.1.StaticAddress.{i}.");
    dmb_obj(b, W, "Device.DHCPv4.Server.Pool.1.StaticAddress.{i}.");

    static const char *const names[] = { "laptop", "phone", "tv" };
    static const char *const l1[] = { "Device.Ethernet.Interface.2.", "Device.WiFi.SSID.1.", "Device.WiFi.SSID.1." };
    dmb_rows(b, (const dmb_row_t[]){ { "HostNumberOfEntries", U, 0, "0" }, { NULL } }, "Device.Hosts.");
    for (int i = 1; i <= 3; i++) {
        dmb_rows(b, host, "Device.Hosts.Host.%d.", i);
        char v[64];
        snprintf(v, sizeof v, "192.168.1.%d", 100 + i);
        dmb_set(b, v, "Device.Hosts.Host.%d.IPAddress", i);
        dmb_dyn(b, DM_DYN_MAC, (unsigned)(i == 1 ? 32 : 15 + i), "Device.Hosts.Host.%d.PhysAddress", i);
        dmb_set(b, names[i - 1], "Device.Hosts.Host.%d.HostName", i);
        dmb_set(b, l1[i - 1], "Device.Hosts.Host.%d.Layer1Interface", i);
        if (i > 1) {
            snprintf(v, sizeof v, "Device.WiFi.AccessPoint.1.AssociatedDevice.%d.", i - 1);
            dmb_set(b, v, "Device.Hosts.Host.%d.AssociatedDevice", i);
        }
        dmb_rows(b, (const dmb_row_t[]){ { "IPAddress", S, 0, "" }, { NULL } },
                 "Device.Hosts.Host.%d.IPv4Address.1.", i);
        snprintf(v, sizeof v, "192.168.1.%d", 100 + i);
        dmb_set(b, v, "Device.Hosts.Host.%d.IPv4Address.1.IPAddress", i);
    }

    dmb_rows(b, (const dmb_row_t[]){
                    { "InterfaceSettingNumberOfEntries", U, 0, "0" },
                    { "PortMappingNumberOfEntries", U, 0, "0" },
                    { NULL } },
             "Device.NAT.");
    dmb_rows(b, (const dmb_row_t[]){
                    { "Enable", B, W, "true" },
                    { "Status", S, 0, "Enabled" },
                    { "Alias", S, W, "", "len:64" },
                    { "Interface", S, W, "Device.IP.Interface.1." },
                    { NULL } },
             "Device.NAT.InterfaceSetting.1.");
    dmb_obj(b, W | DM_TABLE, "Device.NAT.InterfaceSetting.");
    dmb_rows(b, port_mapping, "Device.NAT.PortMapping.{i}.");
    dmb_obj(b, W | DM_TABLE, "Device.NAT.PortMapping.");
    dmb_obj(b, W, "Device.NAT.PortMapping.{i}.");

    dmb_rows(b, (const dmb_row_t[]){ { "UserNumberOfEntries", U, 0, "0" }, { NULL } }, "Device.Users.");
    dmb_rows(b, user, "Device.Users.User.1.");
    dmb_obj(b, W, "Device.Users.User.1.");
    dmb_set(b, "true", "Device.Users.User.1.Enable");
    dmb_set(b, "admin", "Device.Users.User.1.Username");
    dmb_set(b, "admin", "Device.Users.User.1.Password");
    dmb_obj(b, W | DM_TABLE, "Device.Users.User.");
    dmb_rows(b, user, "Device.Users.User.{i}.");
    dmb_obj(b, W, "Device.Users.User.{i}.");
}

int dm_tr181_build(dm_model_t *m)
{
    dmb_t b = { .m = m };
    dmb_rows(&b, root_rows, "Device.");
    dmb_rows(&b, device_info, "Device.DeviceInfo.");
    dmb_rows(&b, mgmt_server, "Device.ManagementServer.");
    dmb_rows(&b, time_rows, "Device.Time.");
    dmb_rows(&b, user_interface, "Device.UserInterface.");
    ethernet(&b);
    wifi(&b);
    ip(&b);
    services(&b);
    return b.rc;
}
