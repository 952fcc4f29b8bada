// The cache overlay. With the overlay on, the renderer writes HTML comments
// around every cached fragment, every hole and (under CachePage) the page:
//
//   <!--ct:fragment key="post&#45;item:6" tags="post:6 category:3" state="MISS"-->…<!--/ct:fragment-->
//   <!--ct:hole name="greeting"-->…<!--/ct:hole-->
//   <!--ct:page key="/" tags="…" state="HIT" age="12s"-->
//
// This script finds them (a TreeWalker over comment nodes), outlines what
// lies between each opening and closing comment like a browser's devtools
// overlay, and shows a panel with the page's state and the response's cache
// headers. Boxes are drawn over the page, never into it: the page's own
// layout stays as it is. Without annotations it does nothing.
(function () {
  'use strict';

  // attrs reads name="value" pairs; values escape '-', '<', '>', '&', '"'
  // and controls as decimal character references.
  function attrs(text) {
    const out = {};
    for (const m of text.matchAll(/(\w+)="([^"]*)"/g)) {
      out[m[1]] = m[2].replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
    }
    return out;
  }

  // annotations pairs the opening and closing comments, nested like the
  // fragments they mark.
  function annotations() {
    const regions = [];
    const stack = [];
    let page = null;
    const walker = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const m = /^(\/?)ct:(fragment|hole|page)\b/.exec(n.data);
      if (!m) continue;
      const [, closing, kind] = m;
      if (kind === 'page') {
        page = attrs(n.data);
      } else if (!closing) {
        stack.push({ kind, attrs: attrs(n.data), open: n, depth: stack.length });
      } else if (stack.length && stack[stack.length - 1].kind === kind) {
        const r = stack.pop();
        r.close = n;
        regions.push(r);
      }
    }
    return { regions, page };
  }

  // rectOf is the area a region's content covers on the page, or null when
  // it shows nothing (whitespace only).
  function rectOf(r) {
    const range = document.createRange();
    range.setStartAfter(r.open);
    range.setEndBefore(r.close);
    let top = Infinity, left = Infinity, bottom = -Infinity, right = -Infinity;
    for (const c of range.getClientRects()) {
      if (c.width === 0 && c.height === 0) continue;
      top = Math.min(top, c.top); left = Math.min(left, c.left);
      bottom = Math.max(bottom, c.bottom); right = Math.max(right, c.right);
    }
    if (top === Infinity) return null;
    return { top: top + window.scrollY, left: left + window.scrollX, width: right - left, height: bottom - top };
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function drawBoxes(regions) {
    const layer = el('div');
    layer.id = 'ct-overlay';
    const boxes = regions.map((r) => {
      const a = r.attrs;
      const box = el('div', 'ct-box');
      box.dataset.kind = r.kind;
      const label = el('div', 'ct-label');
      if (r.kind === 'fragment') {
        box.classList.add('ct-' + (a.state || 'miss').toLowerCase());
        box.dataset.key = a.key || '';
        box.dataset.state = a.state || '';
        box.dataset.tags = a.tags || '';
        let text = a.key + ' · ' + a.state;
        if (a.age) text += ' · age ' + a.age;
        if (a.ttl) text += ' · ttl ' + a.ttl;
        label.append(text, ' ', el('span', 'ct-tags', '[' + (a.tags || '') + ']'));
      } else {
        box.classList.add('ct-hole');
        box.dataset.name = a.name || '';
        // A phased section is named by its section's id: "phased" says enough.
        label.textContent = /^phased /.test(a.name || '') ? 'phased' : 'nocache: ' + a.name;
        label.title = a.name || '';
      }
      if (r.depth > 0) box.classList.add('ct-nested');
      box.append(label);
      layer.append(box);
      return { r, box };
    });
    document.body.append(layer);
    const place = () => {
      for (const { r, box } of boxes) {
        const rect = rectOf(r);
        box.hidden = !rect;
        if (!rect) continue;
        box.style.top = rect.top + 'px';
        box.style.left = rect.left + 'px';
        box.style.width = rect.width + 'px';
        box.style.height = rect.height + 'px';
      }
    };
    place();
    window.addEventListener('resize', place);
    if (document.fonts) document.fonts.ready.then(place);
  }

  function row(dl, name, value, cls) {
    const dd = el('dd', cls, value);
    dl.append(el('dt', '', name), dd);
    return dd;
  }

  function drawPanel(regions, page) {
    const panel = el('aside');
    panel.id = 'ct-panel';
    const header = el('header');
    const hide = el('button', '', 'hide boxes');
    hide.type = 'button';
    hide.addEventListener('click', () => {
      hide.textContent = document.documentElement.classList.toggle('ct-boxes-hidden') ? 'show boxes' : 'hide boxes';
    });
    const fold = el('button', '', '–');
    fold.type = 'button';
    fold.addEventListener('click', () => panel.classList.toggle('ct-collapsed'));
    header.append(el('strong', '', 'cache'), hide, fold);
    const dl = el('dl');
    panel.append(header, dl);

    if (page) {
      panel.dataset.page = page.state;
      // Its tags are those of Surrogate-Key, below.
      row(dl, 'page', page.state + (page.age ? ' (age ' + page.age + ')' : ''), 'ct-state-' + page.state);
    } else {
      row(dl, 'page', 'not cached whole');
    }
    const count = {};
    let holes = 0;
    for (const r of regions) {
      if (r.kind === 'hole') holes++;
      else count[r.attrs.state] = (count[r.attrs.state] || 0) + 1;
    }
    const parts = Object.keys(count).sort().map((s) => count[s] + ' ' + s);
    row(dl, 'fragments', parts.length ? parts.join(', ') : (page && page.state === 'HIT' ? 'inside the cached page' : 'none'));
    row(dl, 'holes', String(holes) + ' (run on every request)');

    // This response's headers are out of the page's reach: ask again, with
    // HEAD. It says what the cache holds now (a page just rendered is
    // usually a HIT by then).
    const xcache = row(dl, 'X-Cache now', '…');
    const age = row(dl, 'Age', '…');
    const skey = row(dl, 'Surrogate-Key', '…');
    fetch(location.href, { method: 'HEAD', credentials: 'same-origin', cache: 'no-store' })
      .then((res) => {
        const x = res.headers.get('X-Cache') || 'not cached (no X-Cache)';
        xcache.textContent = x;
        xcache.className = 'ct-state-' + x;
        age.textContent = res.headers.get('Age') || '–';
        skey.textContent = res.headers.get('Surrogate-Key') || '–';
        panel.dataset.xcache = x;
        panel.dataset.surrogateKey = res.headers.get('Surrogate-Key') || '';
      })
      .catch((err) => {
        xcache.textContent = 'HEAD failed: ' + err;
        panel.dataset.xcache = 'error';
      });
    document.body.append(panel);
  }

  function main() {
    const { regions, page } = annotations();
    if (!regions.length && !page) return;
    drawBoxes(regions);
    drawPanel(regions, page);
    document.documentElement.dataset.ctOverlay = 'ready';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
  else main();
})();
