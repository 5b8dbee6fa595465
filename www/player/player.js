// The /player page: plays a manifest through this dashpiff with dash.js and
// shows, for the last video and audio segment it received, what dashpiff
// changed (GET /inspect/…, the same path as the segment's /media/… one;
// answered only when the service runs with player-page on) and the boxes the
// player actually got. Query parameters url, kid and key fill the form and
// start playing at once.
'use strict';

(function () {
  const $ = function (id) { return document.getElementById(id); };
  const video = $('video');
  let player = null;
  let generation = 0;  // a new manifest makes answers for the old one stale
  const segments = {};  // media type -> {url, bytes, received, listing, inspect}
  window.dashpiffPlayerSegments = segments;  // read by tests/browser (and handy in the console)

  function status(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  function log(text) {
    const li = document.createElement('li');
    li.textContent = new Date().toISOString().slice(11, 23) + ' ' + text;
    const list = $('log');
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 200) list.removeChild(list.lastChild);
  }

  function hexToBase64Url(hex) {
    let bin = '';
    for (let i = 0; i < hex.length; i += 2) bin += String.fromCharCode(parseInt(hex.substr(i, 2), 16));
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // A URL this service already minted plays as it is; anything else goes
  // through /create first.
  async function proxyUrl(input) {
    const u = new URL(input, location.href);
    if (u.origin === location.origin && /^\/(mpd|api\/dash)\//.test(u.pathname)) return u.href;
    const answer = await fetch('/create?url=' + encodeURIComponent(input), { headers: { Accept: 'application/json' } });
    const text = await answer.text();
    if (!answer.ok) throw new Error('/create answered ' + answer.status + ': ' + text.trim());
    return JSON.parse(text).url;
  }

  function inspectUrl(mediaUrl) {
    const u = new URL(mediaUrl, location.href);
    const m = /^\/(api\/media|media)\//.exec(u.pathname);
    if (!m) return null;
    u.pathname = '/inspect/' + u.pathname.slice(m[0].length);
    return u.href;
  }

  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    const box = $('segments');
    box.textContent = '';
    const order = ['video', 'audio'];
    const types = Object.keys(segments).sort(function (a, b) {
      const ia = order.indexOf(a) < 0 ? 9 : order.indexOf(a);
      const ib = order.indexOf(b) < 0 ? 9 : order.indexOf(b);
      return ia - ib || (a < b ? -1 : a > b ? 1 : 0);
    });
    $('changes-note').textContent = types.length ? '' : 'None loaded yet.';
    types.forEach(function (type) {
      const s = segments[type];
      const div = element('div', 'segment');
      div.appendChild(element('h3', null, type + ' segment, ' + s.bytes + ' bytes, ' + s.received));
      div.appendChild(element('div', 'url', s.url));
      const ul = element('ul');
      const info = s.inspect;
      if (!info) {
        ul.appendChild(element('li', 'none', 'asking the service…'));
      } else if (info.error) {
        ul.appendChild(element('li', 'warn', info.error));
      } else {
        const counts = 'mode ' + info.mode + ': ' + info.piff_neutralised + ' PIFF box(es) neutralised, ' +
          info.piff_converted + ' converted, ' + info.bytes_in + ' -> ' + info.bytes_out + ' bytes';
        ul.appendChild(element('li', null, counts));
        (info.changes || []).forEach(function (c) { ul.appendChild(element('li', 'change', c)); });
        if (!(info.changes || []).length) ul.appendChild(element('li', 'none', 'no change: passed through as it came'));
        if (info.passthrough_reason) ul.appendChild(element('li', 'warn', 'passed through: ' + info.passthrough_reason));
      }
      div.appendChild(ul);
      if (s.listing) {
        const d = element('details');
        d.appendChild(element('summary', null, 'boxes as the player received them'));
        d.appendChild(element('div', 'boxes', s.listing));
        div.appendChild(d);
      }
      box.appendChild(div);
    });
  }

  async function inspect(type, entry, gen) {
    const url = inspectUrl(entry.url);
    if (!url) {
      entry.inspect = { error: 'not a /media/ URL of this service: nothing to inspect' };
    } else {
      try {
        const answer = await fetch(url, { headers: { Accept: 'application/json' } });
        const text = await answer.text();
        if (answer.status === 404) {
          entry.inspect = { error: 'the service does not report changes (' + text.trim() + ')' };
        } else if (!answer.ok) {
          entry.inspect = { error: '/inspect answered ' + answer.status + ': ' + text.trim() };
        } else {
          entry.inspect = JSON.parse(text);
        }
      } catch (e) {
        entry.inspect = { error: 'cannot ask /inspect: ' + e.message };
      }
    }
    if (gen === generation && segments[type] === entry) render();
  }

  // Sees every answer dash.js gets; keeps the last media segment per type.
  function onResponse(response) {
    const req = response && response.request && response.request.customData && response.request.customData.request;
    if (!req || req.type !== 'MediaSegment' || !(response.data instanceof ArrayBuffer)) return;
    const type = req.mediaType || 'media';
    const entry = {
      url: response.url || response.request.url,
      bytes: response.data.byteLength,
      received: new Date().toISOString().slice(11, 19),
      listing: window.DashpiffBmff ? window.DashpiffBmff.describe(response.data) : '',
      inspect: null,
    };
    segments[type] = entry;
    render();
    inspect(type, entry, generation);
  }

  function updateQuality() {
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    $('quality').textContent = 'time ' + video.currentTime.toFixed(2) + ' s' +
      (q ? ', ' + q.totalVideoFrames + ' frames decoded, ' + q.droppedVideoFrames + ' dropped' : '');
  }

  async function play(url, kid, key) {
    generation++;
    Object.keys(segments).forEach(function (k) { delete segments[k]; });
    render();
    if (player) {
      player.reset();
      player = null;
    }
    status('Asking /create for a proxy URL…');
    let manifest;
    try {
      manifest = await proxyUrl(url);
    } catch (e) {
      status(e.message, true);
      return;
    }
    $('proxy-url').textContent = manifest;
    $('proxy-url').href = manifest;
    player = dashjs.MediaPlayer().create();
    player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
    player.addResponseInterceptor(function (response) {
      try { onResponse(response); } catch (e) { log('inspector: ' + e.message); }
      return Promise.resolve(response);
    });
    const events = dashjs.MediaPlayer.events;
    player.on(events.ERROR, function (e) {
      const err = e.error || e;
      const text = 'dash.js error ' + (err.code || '') + ': ' + (err.message || JSON.stringify(err).slice(0, 300));
      status(text, true);
      log(text);
    });
    player.on(events.PLAYBACK_PLAYING, function () { status('Playing ' + manifest); });
    player.on(events.STREAM_INITIALIZED, function () { log('stream initialised'); });
    if (kid && key) {
      const clearkeys = {};
      clearkeys[hexToBase64Url(kid.toLowerCase())] = hexToBase64Url(key.toLowerCase());
      player.setProtectionData({ 'org.w3.clearkey': { clearkeys: clearkeys } });
    }
    status('Loading ' + manifest);
    log('dash.js ' + player.getVersion() + ' loading ' + manifest);
    player.initialize(video, manifest, true);
  }

  video.addEventListener('error', function () {
    const e = video.error;
    const text = 'media error ' + (e ? e.code + ': ' + e.message : '');
    status(text, true);
    log(text);
  });
  ['playing', 'waiting', 'ended'].forEach(function (ev) {
    video.addEventListener(ev, function () { log('video ' + ev + ' at ' + video.currentTime.toFixed(2) + ' s'); });
  });
  setInterval(updateQuality, 500);

  $('form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    const url = $('url').value.trim();
    const kid = $('kid').value.trim();
    const key = $('key').value.trim();
    // Keep the page's address shareable: it replays the same thing.
    const q = new URLSearchParams({ url: url });
    if (kid && key) { q.set('kid', kid); q.set('key', key); }
    history.replaceState(null, '', location.pathname + '?' + q.toString());
    play(url, kid, key);
  });

  const params = new URLSearchParams(location.search);
  if (params.get('kid')) { $('kid').value = params.get('kid'); $('drm').open = true; }
  if (params.get('key')) $('key').value = params.get('key');
  if (typeof dashjs === 'undefined') {
    status('dash.js did not load (/player/lib/dash.all.min.js): the page cannot play.', true);
  } else if (params.get('url')) {
    $('url').value = params.get('url');
    play(params.get('url'), params.get('kid'), params.get('key'));
  }
})();
