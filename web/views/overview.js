// Overview: the fleet at a glance (filled in by the next commit).
import { h, fmtNum } from '../lib.js';

export default {
  path: '#/overview',
  title: 'Overview',
  nav: true,
  minRole: 'viewer',
  async render(el, ctx) {
    el.append(h('h1', {}, 'Overview'));
    const s = await ctx.api('/api/stats');
    el.append(h('div', { class: 'cards' },
      h('div', { class: 'card', id: 'ov-total' }, h('span', { class: 'value' }, fmtNum(s.total_devices)), h('span', { class: 'label' }, 'devices'))));
  },
};
