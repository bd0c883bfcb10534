// The dashboard's views, in nav order: the only list (app.js's router and
// nav read it). One import and one entry per view module; each exports
//   { path: '#/x', title, nav, minRole, render(el, ctx) }  (docs/dashboard.md)
import overview from './overview.js';
import devices from './devices.js';
import device from './device.js';

export default [
  overview,
  devices,
  device,
];
