// Virtual parameters: Lua scripts behind VirtualParameters.NAME (docs/provisioning.md).
import { configView, scriptSpec } from './config_lib.js';

export default configView(scriptSpec('#/virtual-parameters', 'Virtual parameters', 'virtual parameter',
  '/api/virtual-parameters',
  'Lua computing VirtualParameters.NAME (get and set modes); a syntax error is shown with its line.',
  () => '-- get mode: return the value; set mode (args.mode == "set"): args[2].value[1] is the new one\nlocal m = declare("Device.DeviceInfo.ModelName", {value = 1})\nreturn {writable = false, value = {m.value[1], "xsd:string"}}\n'));
