// The dashboard's views, in nav order: the only list (app.js's router and
// nav read it). One import and one entry per view module; each exports
//   { path: '#/x', title, nav, minRole, render(el, ctx) }  (docs/dashboard.md)
import overview from './overview.js';
import devices from './devices.js';
import device from './device.js';
import tasks from './tasks.js';
import task from './task.js';
import faults from './faults.js';
import bulk from './bulk.js';
import bulkDetail from './bulk_detail.js';
import files from './files.js';
import presets from './presets.js';
import provisions from './provisions.js';
import vparams from './vparams.js';
import keys from './keys.js';

export default [
  overview,
  devices,
  device,
  tasks,
  task,
  faults,
  bulk,
  bulkDetail,
  files,
  presets,
  provisions,
  vparams,
  keys,
];
