// API keys (admin only): the keys with their roles and last use; add one
// (its token is shown once, with a copy button), revoke one. The
// configuration's --api-token is listed and cannot be revoked here.
import { h, fill, fmtTime } from '../lib.js';
import { useStyles, table, busy, confirmDialog } from './ops_lib.js';

export default {
  path: '#/keys',
  title: 'API keys',
  nav: true,
  minRole: 'admin',
  async render(el, ctx) {
    useStyles();
    const name = h('input', { id: 'key-name', type: 'text', required: true, maxlength: 64 });
    const role = h('select', { id: 'key-role' }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
    const add = h('button', { type: 'submit', class: 'primary' }, 'Add key');
    const shown = h('div', { 'aria-live': 'polite' });
    const form = h('form', { class: 'panel', 'aria-labelledby': 'key-add-title' },
      h('h2', { id: 'key-add-title' }, 'Add a key'),
      h('div', { class: 'toolbar' },
        h('div', { class: 'field grow' }, h('label', { for: 'key-name' }, 'Name'), name),
        h('div', { class: 'field' }, h('label', { for: 'key-role' }, 'Role'), role)),
      h('p', { class: 'help' }, 'viewer reads; operator also acts on devices, tasks, files; admin also changes configuration and keys.'),
      add, shown);
    const list = h('div');
    el.append(h('h1', {}, 'API keys'), form, h('section', { 'aria-labelledby': 'keys-list' },
      h('h2', { id: 'keys-list' }, 'Keys'), list));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const k = await busy(ctx, add, () => ctx.api('/api/keys', { body: { name: name.value.trim(), role: role.value } }));
      if (!k) return;
      const code = h('code', { id: 'key-token' }, k.token);
      const copy = h('button', { type: 'button', id: 'key-copy' }, 'Copy');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(k.token);
          copy.textContent = 'Copied';
        } catch {
          // no clipboard access (plain http): select it for Ctrl+C
          const r = document.createRange();
          r.selectNodeContents(code);
          getSelection().removeAllRanges();
          getSelection().addRange(r);
          copy.textContent = 'Selected: press Ctrl+C';
        }
      });
      fill(shown, h('div', { class: 'panel', role: 'status' },
        h('p', {}, h('strong', {}, `Key "${k.name}" (${k.role}) made. `),
          'Its token is shown this once: keep it now.'),
        h('div', { class: 'ops-token' }, code, copy)));
      copy.focus();
      name.value = '';
      refresh();
    });

    async function refresh() {
      const keys = await ctx.api('/api/keys');
      const cols = [
        { label: 'Id', cell: (k) => h('code', {}, k.id) },
        { label: 'Name', cell: (k) => k.name },
        { label: 'Role', cell: (k) => h('span', { class: 'badge' }, k.role) },
        { label: 'Source', cell: (k) => k.source },
        { label: 'Created', cell: (k) => fmtTime(k.created) },
        { label: 'Last used', cell: (k) => (k.last_used ? fmtTime(k.last_used) : 'never') },
        { label: 'Actions', cell: (k) => {
          if (k.source === 'config') return h('span', { class: 'muted' }, 'the configuration\u2019s token');
          const b = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke key ${k.name} (${k.id})` }, 'Revoke');
          b.addEventListener('click', async () => {
            if (!await confirmDialog(`Revoke the key "${k.name}" (${k.role})? Whoever uses it is refused from now on.`,
                                     { confirm: 'Revoke', danger: true })) return;
            const r = await busy(ctx, b, () => ctx.api(`/api/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' }));
            if (r !== undefined) {
              ctx.notify(`Key ${k.name} revoked`, 'ok');
              refresh();
            }
          });
          return b;
        } },
      ];
      fill(list, table(cols, keys, { caption: 'API keys' }));
    }
    await refresh();
    return undefined;
  },
};
