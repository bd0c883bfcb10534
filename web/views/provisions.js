// Provisions: Lua scripts presets run by name (docs/provisioning.md).
import { configView, scriptSpec } from './config_lib.js';

export default configView(scriptSpec('#/provisions', 'Provisions', 'provision', '/api/provisions',
  'Lua run by presets\u2019 script provisions; a syntax error is shown with its line.',
  () => '-- declare what the device should have (args: the preset\u2019s arguments)\ndeclare("Device.WiFi.SSID.1.SSID", nil, {value = "net-" .. device.serial})\n'));
