// config_lib.js: the editor views of the configuration (presets.js,
// provisions.js, vparams.js): a list of names and, for the one chosen
// (#/presets?name=X), its text in a line-numbered editor. Reading is a
// viewer's; saving, creating and deleting are an admin's (the API's roles).
// A save the API refuses shows its message and, for a syntax error, marks
// the line it names (422 `line` for Lua, "(line N)" in a 400 bad_json).
import { h, fill, fmtTime } from '../lib.js';
import { useStyles, busy, confirmDialog, editor } from './ops_lib.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

// The line an API error names, or 0.
export function errorLine(e) {
  const b = e && e.body;
  if (b && Number.isInteger(b.line) && b.line > 0) return b.line;
  const m = /\bline (\d+)\b/.exec((b && b.message) || (e && e.message) || '');
  return m ? Number(m[1]) : 0;
}

// spec: {path, title, kind ('preset' | 'provision' | 'virtual parameter'),
//        base ('/api/presets'), help,
//        list(ctx) -> [{name, note, readOnly}],
//        load(ctx, name) -> {text, readOnly, note},
//        save(ctx, name, text) -> stored object (throws ApiError),
//        template(name) -> text for a new one}
export function configView(spec) {
  return {
    path: spec.path,
    title: spec.title,
    nav: true,
    minRole: 'viewer',
    async render(el, ctx) {
      useStyles();
      const admin = ctx.can('admin');
      const listBox = h('nav', { 'aria-label': `${spec.title} by name` });
      const pane = h('div');
      el.append(h('h1', {}, spec.title), spec.help ? h('p', { class: 'muted' }, spec.help) : null,
        h('div', { class: 'ops-split' }, h('div', { class: 'panel' }, listBox), pane));
      const chosen = ctx.params.name || '';

      const items = await spec.list(ctx);
      const ul = h('ul', { class: 'ops-list' }, items.map((it) => h('li', {},
        h('a', { href: `${spec.path}?name=${encodeURIComponent(it.name)}`,
                 'aria-current': it.name === chosen ? 'true' : null }, it.name,
          it.note ? h('span', { class: 'muted' }, ` ${it.note}`) : null))));
      fill(listBox, items.length ? ul : h('p', { class: 'muted' }, `No ${spec.kind}s yet.`));
      if (admin) {
        const nm = h('input', { id: 'cfg-new-name', type: 'text', maxlength: 64, spellcheck: 'false', required: true,
                                pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]*' });
        const form = h('form', { class: 'field' },
          h('label', { for: 'cfg-new-name' }, `New ${spec.kind}`), nm,
          h('button', { type: 'submit' }, 'Create'));
        form.addEventListener('submit', (e) => {
          e.preventDefault();
          if (!NAME_RE.test(nm.value)) {
            ctx.notify('A name is 1-64 letters, digits, _ . - starting with a letter or digit', 'error');
            return;
          }
          if (items.some((it) => it.name === nm.value)) ctx.navigate(spec.path, { name: nm.value });
          else ctx.navigate(spec.path, { name: nm.value, new: '1' });
        });
        listBox.append(form);
      }
      if (!chosen) {
        pane.append(h('p', { class: 'muted' }, `Choose a ${spec.kind} to see it.`));
        return undefined;
      }
      let doc;
      const isNew = ctx.params.new === '1' && !items.some((it) => it.name === chosen);
      if (isNew) {
        doc = { text: spec.template(chosen), readOnly: false, note: 'not saved yet' };
      } else {
        try {
          doc = await spec.load(ctx, chosen);
        } catch (e) {
          pane.append(h('p', { class: 'error', role: 'alert' }, e.message));
          return undefined;
        }
      }
      const readOnly = !admin || doc.readOnly;
      const err = h('div', { id: 'cfg-error', class: 'ops-syntax', role: 'alert', hidden: true });
      const ed = editor({ id: 'cfg-source', label: `${spec.kind} ${chosen}`, value: doc.text,
                          readOnly, describedBy: 'cfg-error' });
      const bar = h('div', { class: 'toolbar' });
      pane.append(h('section', { class: 'panel', 'aria-labelledby': 'cfg-title' },
        h('h2', { id: 'cfg-title' }, chosen, doc.note ? h('span', { class: 'muted' }, ` (${doc.note})`) : null),
        readOnly ? h('p', { class: 'muted' }, admin ? 'Read only: it comes from the configuration file.'
                                                    : 'Read only: changing it needs an admin key.') : null,
        ed.el, err, bar));
      if (readOnly) return undefined;
      const save = h('button', { type: 'button', class: 'primary' }, 'Save');
      save.addEventListener('click', async () => {
        err.hidden = true;
        ed.markLine(0);
        save.disabled = true;
        try {
          await spec.save(ctx, chosen, ed.value());
          ctx.notify(`${spec.kind} ${chosen} saved`, 'ok');
          // a new one joins the list (the view drawn again); an existing one
          // stays in the editor, the caret where it was
          if (isNew) ctx.navigate(spec.path, { name: chosen });
        } catch (e) {
          const line = errorLine(e);
          fill(err, h('strong', {}, line ? `Line ${line}: ` : 'Not saved: '), e.message);
          err.hidden = false;
          if (line) ed.markLine(line); // the caret on the line, the message read out (role=alert)
          else {
            err.setAttribute('tabindex', '-1');
            err.focus();
          }
        } finally {
          save.disabled = false;
        }
      });
      bar.append(save);
      if (!isNew) {
        const del = h('button', { type: 'button', class: 'danger' }, 'Delete');
        del.addEventListener('click', async () => {
          if (!await confirmDialog(`Delete the ${spec.kind} ${chosen}?`, { confirm: 'Delete', danger: true, typed: chosen })) return;
          const r = await busy(ctx, del, () => ctx.api(`${spec.base}/${encodeURIComponent(chosen)}`, { method: 'DELETE' }));
          if (r !== undefined) {
            ctx.notify(`${spec.kind} ${chosen} deleted`, 'ok');
            ctx.navigate(spec.path);
          }
        });
        bar.append(del);
      }
      // Ctrl/Cmd+S saves.
      ed.textarea.addEventListener('keydown', (e) => {
        if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save.click(); }
      });
      return undefined;
    },
  };
}

// The two Lua script kinds share one API shape.
export function scriptSpec(path, title, kind, base, help, template) {
  return {
    path, title, kind, base, help, template,
    list: async (ctx) => (await ctx.api(base)).map((s) => ({ name: s.name, note: `${s.size} B` })),
    load: async (ctx, name) => {
      const s = await ctx.api(`${base}/${encodeURIComponent(name)}`);
      return { text: s.source, readOnly: false, note: `updated ${fmtTime(s.updated)}` };
    },
    save: (ctx, name, text) => ctx.api(`${base}/${encodeURIComponent(name)}`, {
      method: 'PUT', body: text, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
  };
}
