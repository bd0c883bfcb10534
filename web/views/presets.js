// Presets: when provisioning runs and what it applies (docs/provisioning.md),
// edited as JSON (GET answers can be PUT back).
import { fmtTime } from '../lib.js';
import { configView } from './config_lib.js';

const HIDDEN = ['source', 'created', 'updated'];

export default configView({
  path: '#/presets',
  title: 'Presets',
  kind: 'preset',
  base: '/api/presets',
  help: 'JSON: events, match, provisions, weight, schedule, max_tries, retry_backoff (docs/provisioning.md).',
  list: async (ctx) => (await ctx.api('/api/presets')).map((p) => ({
    name: p.name, note: p.source === 'config' ? '(config)' : '' })),
  load: async (ctx, name) => {
    const p = await ctx.api(`/api/presets/${encodeURIComponent(name)}`);
    const shown = { ...p };
    for (const k of HIDDEN) delete shown[k];
    return { text: JSON.stringify(shown, null, 2) + '\n', readOnly: p.source === 'config',
             note: `${p.source === 'config' ? 'from the config file, ' : ''}updated ${fmtTime(p.updated)}` };
  },
  save: (ctx, name, text) => ctx.api(`/api/presets/${encodeURIComponent(name)}`, {
    method: 'PUT', body: text, headers: { 'Content-Type': 'application/json' } }),
  template: (name) => JSON.stringify({
    name, events: ['0 BOOTSTRAP'], match: [],
    provisions: [{ type: 'set', path: 'Device.ManagementServer.PeriodicInformInterval', value: 300 }],
  }, null, 2) + '\n',
});
