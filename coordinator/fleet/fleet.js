// The fleet view: polls fleet.json and draws racks as columns, each with its
// brokers on top and its agents below, and a line from every broker to each
// agent eligible for it. A broker eligible on more agents than kMaxLines gets
// one line to an outline around those agents instead, so that a rack of a
// hundred agents stays readable.
//
// Everything from the coordinator is written with textContent or attributes,
// never parsed as HTML: node ids and reasons of refused members are whatever
// a group member claimed.
'use strict';

(() => {
  const kMaxLines = 12;
  const kTokenKey = 'kgw-admin-token';
  const params = new URLSearchParams(location.search);
  const pollMs = Math.max(500, Number(params.get('interval')) || 2000);

  // The fragment (never sent to the server) may carry the admin token and a
  // broker or agent to pin: /fleet#broker=3, /fleet#agent=agent-a&token=...
  // The token is taken once and removed from the address bar and history.
  const fragment = new URLSearchParams(location.hash.slice(1));
  let token = sessionStorage.getItem(kTokenKey) || '';
  if (fragment.has('token')) {
    token = fragment.get('token');
    sessionStorage.setItem(kTokenKey, token);
    fragment.delete('token');
    const rest = fragment.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  }

  const $ = (id) => document.getElementById(id);
  let lastText = null;
  let lastAnswer = 0;
  let model = null;
  let timer = null;
  // {kind: 'broker'|'agent', id}: highlighted with its details shown until a
  // click elsewhere.
  let pinned = fragment.has('broker') ? {kind: 'broker', id: fragment.get('broker')}
    : fragment.has('agent') ? {kind: 'agent', id: fragment.get('agent')} : null;

  function el(tag, attrs = {}, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, String(v));
    }
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }

  // Natural order: agent-2 before agent-10.
  const collator = new Intl.Collator(undefined, {numeric: true});
  const byName = (a, b) => collator.compare(a, b);

  function bytes(n) {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
  }

  function age(ms) {
    if (!ms) return 'never';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return `${s} s ago`;
    if (s < 7200) return `${Math.round(s / 60)} min ago`;
    return `${Math.round(s / 3600)} h ago`;
  }

  // ---- the model: fleet.json turned into racks, agents, brokers and sets ----

  const kHealthOrder = {live: 0, unstreamed: 1, draining: 2, unknown: 3};

  function buildModel(d) {
    const status = d.status || {};
    const nodes = (d.nodes && d.nodes.nodes) || [];
    const a = d.assignment;
    const draining = new Set((a && a.draining_node_ids) || []);
    const agents = new Map();
    const sidecars = [];
    const refused = [];
    const agentFrom = (id) => {
      if (!agents.has(id)) agents.set(id, {id, rack: '', brokers: []});
      return agents.get(id);
    };
    for (const e of (a && a.agents) || []) {
      Object.assign(agentFrom(e.node_id), {
        rack: e.rack || '', host: e.advertised_host, port: e.port_start, weight: e.weight,
      });
    }
    const nodeOf = new Map();
    for (const n of nodes) {
      const node = n.node || {};
      if (n.health === 'HEALTH_REFUSED') {
        refused.push({id: node.node_id || '', member: n.member_id || '',
          host: node.advertised_host || '', reason: n.refusal || ''});
      } else if (node.role === 'ROLE_SIDECAR') {
        sidecars.push({id: node.node_id, rack: node.rack || '', node: n});
      } else if (node.role !== 'ROLE_COORDINATOR') {
        nodeOf.set(node.node_id, n);
        const agent = agentFrom(node.node_id);
        if (!agent.rack) agent.rack = node.rack || '';
        if (!agent.host) agent.host = node.advertised_host;
      }
    }
    let maxConnections = 0;
    for (const agent of agents.values()) {
      const n = nodeOf.get(agent.id);
      agent.node = n;
      if (!n) agent.health = 'unknown';
      else if (n.health === 'HEALTH_DRAINING' || draining.has(agent.id)) agent.health = 'draining';
      else if (!n.connected) agent.health = 'unstreamed';
      else agent.health = 'live';
      const load = (n && n.load) || {};
      agent.connections = Number(load.connections || 0);
      agent.bytesPerSecond = Number(load.bytes_per_second || 0);
      agent.reportedAt = Number(load.reported_at_ms || 0);
      agent.version = n && n.node ? n.node.version : '';
      agent.role = n && n.node ? n.node.role : '';
      maxConnections = Math.max(maxConnections, agent.connections);
    }
    // Compact assignments name each agent set once; older records list the
    // agents per broker, which become sets of their own here.
    const sets = ((a && a.agent_sets) || []).map((s) => s.agent_node_ids || []);
    const brokers = ((a && a.brokers) || []).map((b) => {
      const set = b.agent_set > 0 ? `s${b.agent_set}` : `b${b.broker_id}`;
      const ids = b.agent_set > 0 ? (sets[b.agent_set - 1] || []) : (b.agent_node_ids || []);
      return {id: b.broker_id, rack: b.broker_rack || '', set, agents: ids};
    }).sort((x, y) => x.id - y.id);
    for (const b of brokers) {
      for (const id of b.agents) agentFrom(id).brokers.push(b.id);
    }
    const rackNames = new Set();
    for (const b of brokers) rackNames.add(b.rack);
    for (const agent of agents.values()) rackNames.add(agent.rack);
    for (const s of sidecars) rackNames.add(s.rack);
    const racks = [...rackNames].sort((x, y) => (x === '') - (y === '') || byName(x, y))
      .map((name) => ({
        name,
        brokers: brokers.filter((b) => b.rack === name),
        agents: [...agents.values()].filter((g) => g.rack === name)
          .sort((x, y) => kHealthOrder[x.health] - kHealthOrder[y.health] || byName(x.id, y.id)),
        sidecars: sidecars.filter((s) => s.rack === name).sort((x, y) => byName(x.id, y.id)),
      }));
    return {status, assignment: a, agents, brokers, racks, sidecars, refused, maxConnections,
      brokerById: new Map(brokers.map((b) => [b.id, b]))};
  }

  // ---- drawing ----

  function drawSummary(m) {
    const s = m.status;
    const a = m.assignment;
    const items = [
      ['Cluster', s.cluster_id],
      ['Generation', a ? a.generation_id : s.generation_id],
      ['Leader', (a && a.leader_node_id) || s.leader_node_id || 'none'],
      ['Epoch', a ? `${a.epoch} · revision ${a.revision}` : '–'],
      ['Agents', m.agents.size],
      ['Brokers', m.brokers.length],
      ['Sidecars', m.sidecars.length],
      ['Refused', m.refused.length],
      ['Computed', a ? age(Number(a.computed_at_ms)) : 'no assignment yet'],
      ['Answered by', s.answered_by],
    ];
    const dl = $('summary');
    dl.replaceChildren(...items.map(([k, v]) => {
      const div = el('div', {'data-field': k.toLowerCase()});
      div.append(el('dt', {}, k), el('dd', {}, v === undefined || v === '' ? '–' : v));
      return div;
    }));
    const coordinators = (s.coordinators || []).slice()
      .sort((x, y) => byName(x.node_id, y.node_id));
    const leader = (a && a.leader_node_id) || s.leader_node_id;
    $('coordinators').replaceChildren(...coordinators.map((c) => el('span', {
      class: c.node_id === leader ? 'coordinator leader' : 'coordinator',
      'data-coordinator': c.node_id,
      title: `${c.grpc_endpoint || ''} · rack ${c.rack || '–'} · ${c.version || ''}`,
    }, c.node_id === leader ? `${c.node_id} · leader` : c.node_id)));
  }

  function agentTitle(g) {
    return [
      g.id, `rack ${g.rack || '–'} · ${g.health}`,
      g.version ? `version ${g.version}` : '',
      `${g.connections} connections · ${bytes(g.bytesPerSecond)}/s`,
      `serves ${g.brokers.length} broker${g.brokers.length === 1 ? '' : 's'}`,
    ].filter(Boolean).join('\n');
  }

  function drawRacks(m) {
    const fullest = Math.max(0, ...m.racks.map((r) => r.agents.length));
    const size = fullest <= 8 ? 'card' : fullest <= 80 ? 'tile' : 'dot';
    const container = $('racks');
    container.className = `size-${size}`;
    const minWidth = size === 'card' ? 200 : size === 'tile' ? 240 : 300;
    container.style.gridTemplateColumns =
      `repeat(${Math.max(1, m.racks.length)}, minmax(${minWidth}px, 1fr))`;
    container.replaceChildren(...m.racks.map((rack) => {
      const section = el('section', {class: 'rack', 'data-rack': rack.name});
      section.append(el('h2', {}, rack.name === '' ? 'no rack' : `rack ${rack.name}`));
      const draining = rack.agents.filter((g) => g.health === 'draining').length;
      section.append(el('div', {class: 'counts'},
        `${rack.brokers.length} broker${rack.brokers.length === 1 ? '' : 's'} · ` +
        `${rack.agents.length} agent${rack.agents.length === 1 ? '' : 's'}` +
        (draining ? ` (${draining} draining)` : '')));
      const brokers = el('div', {class: 'brokers'});
      for (const b of rack.brokers) {
        const cls = ['broker'];
        if (b.agents.length === 0) cls.push('orphan');
        if (rack.brokers.length > 40) cls.push('many');
        brokers.append(el('div', {
          class: cls.join(' '), 'data-broker': b.id, 'data-rack': b.rack,
          title: `broker ${b.id} · rack ${b.rack || '–'} · ${b.agents.length} eligible agents`,
        }, b.id));
      }
      section.append(brokers, el('div', {class: 'gap'}));
      const agents = el('div', {class: 'agents'});
      for (const g of rack.agents) {
        const tile = el('div', {class: 'agent', 'data-agent': g.id, 'data-rack': g.rack,
          'data-health': g.health, title: agentTitle(g)});
        if (size === 'card') {
          tile.append(el('div', {class: 'name'}, g.id),
            el('div', {class: 'facts'},
              `${g.connections} conn · ${bytes(g.bytesPerSecond)}/s` +
              (g.version ? ` · ${g.version}` : '')));
        }
        const share = m.maxConnections > 0 ? g.connections / m.maxConnections : 0;
        const bar = el('div', {class: 'load'});
        bar.style.width = `${Math.round(share * 100)}%`;  // CSSOM: allowed by the page's CSP
        tile.append(bar);
        agents.append(tile);
      }
      section.append(agents);
      if (rack.sidecars.length > 0) {
        section.append(el('div', {class: 'sidecars-title'}, `sidecars (${rack.sidecars.length})`));
        const row = el('div', {class: 'sidecars'});
        for (const s of rack.sidecars) {
          row.append(el('div', {class: 'sidecar', 'data-sidecar': s.id, title: s.id}));
        }
        section.append(row);
      }
      return section;
    }));
  }

  function drawLinks(m) {
    const fleet = $('fleet');
    const links = $('links');
    const origin = fleet.getBoundingClientRect();
    links.setAttribute('width', fleet.scrollWidth);
    links.setAttribute('height', fleet.scrollHeight);
    const boxOf = (node) => {
      const r = node.getBoundingClientRect();
      return {left: r.left - origin.left, top: r.top - origin.top, right: r.right - origin.left,
        bottom: r.bottom - origin.top};
    };
    const agentEls = new Map();
    for (const node of document.querySelectorAll('.agent')) agentEls.set(node.dataset.agent, node);
    const curve = (x1, y1, x2, y2) => {
      const bend = Math.max(24, Math.abs(y2 - y1) / 2);
      return `M${x1},${y1} C${x1},${y1 + bend} ${x2},${y2 - bend} ${x2},${y2}`;
    };
    const parts = [];
    const outlines = new Map();  // set + rack -> its outline's box
    for (const node of document.querySelectorAll('.broker')) {
      const b = m.brokerById.get(Number(node.dataset.broker));
      const from = boxOf(node);
      const x1 = (from.left + from.right) / 2;
      const members = b.agents.filter((id) => agentEls.has(id));
      if (members.length <= kMaxLines) {
        for (const id of members) {
          const to = boxOf(agentEls.get(id));
          parts.push(svg('path', {d: curve(x1, from.bottom, (to.left + to.right) / 2, to.top),
            'data-broker': b.id, 'data-agent': id}));
        }
        continue;
      }
      const byRack = new Map();
      for (const id of members) {
        const rack = agentEls.get(id).dataset.rack;
        if (!byRack.has(rack)) byRack.set(rack, []);
        byRack.get(rack).push(id);
      }
      for (const [rack, ids] of byRack) {
        const key = `${b.set}@${rack}`;
        if (!outlines.has(key)) {
          const boxes = ids.map((id) => boxOf(agentEls.get(id)));
          const box = {left: Math.min(...boxes.map((x) => x.left)) - 4,
            top: Math.min(...boxes.map((x) => x.top)) - 4,
            right: Math.max(...boxes.map((x) => x.right)) + 4,
            bottom: Math.max(...boxes.map((x) => x.bottom)) + 4};
          outlines.set(key, box);
          parts.push(svg('rect', {class: 'set', x: box.left, y: box.top, rx: 4,
            width: box.right - box.left, height: box.bottom - box.top,
            'data-set': key, 'data-agents': ids.join(' ')}));
        }
        const box = outlines.get(key);
        parts.push(svg('path', {d: curve(x1, from.bottom, (box.left + box.right) / 2, box.top),
          'data-broker': b.id, 'data-set': key}));
      }
    }
    links.replaceChildren(...parts);
  }

  function drawExtras(m) {
    const extras = $('extras');
    extras.replaceChildren();
    if (m.refused.length > 0) {
      extras.append(el('h3', {}, `Refused members (${m.refused.length})`));
      const table = el('table', {id: 'refused'});
      const head = el('tr');
      for (const h of ['member', 'claims node id', 'host', 'why']) head.append(el('th', {}, h));
      table.append(head);
      for (const r of m.refused) {
        const row = el('tr', {'data-refused': r.id});
        for (const v of [r.member, r.id, r.host, r.reason]) row.append(el('td', {}, v));
        table.append(row);
      }
      extras.append(table);
    }
    if (!m.assignment) {
      extras.append(el('p', {class: 'hint'},
        'No assignment has been published yet: the leader computes one once it knows the ' +
        'brokers and the group.'));
    }
  }

  function draw(m) {
    drawSummary(m);
    drawRacks(m);
    drawExtras(m);
    $('legend').hidden = false;
    drawLinks(m);
    if (pinned) {
      focus(pinned.kind, pinned.id);
      showDetail(pinned.kind, pinned.id);
    }
  }

  // ---- pointing and details ----

  function focus(kind, id) {
    clearFocus();
    const hot = [];
    if (kind === 'broker') {
      const b = model.brokerById.get(Number(id));
      if (!b) return;
      hot.push(...document.querySelectorAll(`.broker[data-broker="${b.id}"]`));
      hot.push(...document.querySelectorAll(`#links [data-broker="${b.id}"]`));
      for (const agentId of b.agents) hot.push(...agentNodes(agentId));
      for (const r of document.querySelectorAll('#links rect.set')) {
        if (r.dataset.set.startsWith(`${b.set}@`)) hot.push(r);
      }
    } else {
      const g = model.agents.get(id);
      if (!g) return;
      hot.push(...agentNodes(id));
      const served = new Set(g.brokers);
      for (const node of document.querySelectorAll('.broker')) {
        if (served.has(Number(node.dataset.broker))) hot.push(node);
      }
      for (const p of document.querySelectorAll('#links path')) {
        const direct = p.dataset.agent === id;
        const viaSet = p.dataset.set && served.has(Number(p.dataset.broker));
        if (direct || viaSet) hot.push(p);
      }
    }
    for (const node of hot) node.classList.add('hot');
    document.body.classList.add('focus');
  }

  function agentNodes(id) {
    return [...document.querySelectorAll('.agent')].filter((n) => n.dataset.agent === id);
  }

  function clearFocus() {
    document.body.classList.remove('focus');
    for (const node of document.querySelectorAll('.hot')) node.classList.remove('hot');
  }

  function showDetail(kind, id) {
    const panel = $('detail');
    const rows = [];
    let title;
    if (kind === 'broker') {
      const b = model.brokerById.get(Number(id));
      if (!b) return hideDetail();
      title = `Broker ${b.id}`;
      const names = b.agents.slice().sort(byName);
      const shown = names.slice(0, 24).join(', ');
      rows.push(['Rack', b.rack || '–'], ['Eligible agents', b.agents.length],
        ['Agents', names.length > 24 ? `${shown} and ${names.length - 24} more` : shown || 'none']);
    } else {
      const g = model.agents.get(id);
      if (!g) return hideDetail();
      title = g.id;
      rows.push(['Rack', g.rack || '–'], ['Health', g.health], ['Version', g.version || '–'],
        ['Address', g.host ? `${g.host}:${g.port || ''}` : '–'], ['Weight', g.weight || '–'],
        ['Connections', g.connections], ['Throughput', `${bytes(g.bytesPerSecond)}/s`],
        ['Load reported', age(g.reportedAt)],
        ['Stream here', g.node && g.node.connected ? 'yes' : 'no'],
        ['Brokers', g.brokers.length ? g.brokers.slice().sort((x, y) => x - y).join(', ')
          : 'none']);
    }
    const dl = el('dl');
    for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
    panel.replaceChildren(el('h3', {}, title), dl);
    panel.hidden = false;
  }

  function hideDetail() {
    $('detail').hidden = true;
  }

  function target(event) {
    const node = event.target.closest('.broker, .agent');
    if (!node) return null;
    return node.classList.contains('broker') ? {kind: 'broker', id: node.dataset.broker}
      : {kind: 'agent', id: node.dataset.agent};
  }

  $('racks').addEventListener('mouseover', (event) => {
    const t = target(event);
    if (t && !pinned) focus(t.kind, t.id);
  });
  $('racks').addEventListener('mouseleave', () => {
    if (!pinned) clearFocus();
  });
  document.addEventListener('click', (event) => {
    const t = target(event);
    if (t) {
      pinned = t;
      focus(t.kind, t.id);
      showDetail(t.kind, t.id);
    } else if (!event.target.closest('#detail')) {
      pinned = null;
      clearFocus();
      hideDetail();
    }
  });
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => model && drawLinks(model), 100);
  });

  // ---- polling ----

  function setState(state, text) {
    document.body.dataset.state = state;
    const badge = $('freshness');
    badge.className = `badge ${state === 'drawn' ? 'live' : state === 'stale' ? 'stale' : 'error'}`;
    badge.textContent = text;
  }

  function showProblem(text) {
    const p = $('problem');
    p.textContent = text;
    p.hidden = false;
  }

  function askForToken(reason) {
    $('login-reason').textContent = reason;
    $('login').hidden = false;
    $('token').focus();
    setState('login', 'needs the admin token');
  }

  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    token = $('token').value;
    sessionStorage.setItem(kTokenKey, token);
    $('login').hidden = true;
    poll();
  });

  async function poll() {
    clearTimeout(timer);
    try {
      const headers = token ? {Authorization: `Bearer ${token}`} : {};
      const response = await fetch('fleet.json', {headers, cache: 'no-store'});
      if (response.status === 401) {
        sessionStorage.removeItem(kTokenKey);
        askForToken(token
          ? 'The admin token was not accepted. Enter the coordinator\'s GATEWAY_ADMIN_TOKEN.'
          : 'This coordinator needs its admin token (GATEWAY_ADMIN_TOKEN) to show the fleet.');
        return;  // polling resumes when a token is entered
      }
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        showProblem(body.error || `The coordinator answered HTTP ${response.status}.`);
        setState('error', `HTTP ${response.status}`);
      } else {
        const text = await response.text();
        lastAnswer = Date.now();
        $('problem').hidden = true;
        if (text !== lastText) {
          model = buildModel(JSON.parse(text));
          lastText = text;
          draw(model);
        } else if (model) {
          drawSummary(model);  // ages move on
        }
        setState('drawn', 'live');
      }
    } catch (e) {
      const since = lastAnswer ? `; last answer ${age(lastAnswer)}` : '';
      showProblem(`Cannot reach the coordinator (${e.message})${since}.`);
      setState(lastAnswer ? 'stale' : 'error', lastAnswer ? 'stale' : 'unreachable');
    }
    timer = setTimeout(poll, pollMs);
  }

  poll();
})();
