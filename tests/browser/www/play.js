// Test page for the browser suite: plays one manifest with one player and
// ClearKey, and keeps what happened in window.dpTest for the driver to read.
// The players' own libraries come from tests/browser/node_modules, served by
// the front nginx under lib/.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);
  const which = params.get('player');
  const mpd = params.get('mpd');
  const kid = (params.get('kid') || '').toLowerCase();
  const key = (params.get('key') || '').toLowerCase();
  // Where to start, in seconds (to cross a period boundary in a short run).
  const start = params.has('start') ? Number(params.get('start')) : NaN;
  const video = document.getElementById('video');
  const statusLine = document.getElementById('status');

  const t0 = performance.now();
  const test = {
    player: which,
    mpd: mpd,
    started: false,
    errors: [],  // player and media element errors, one line each
    log: [],     // timestamped events, for the failure artifacts
    snapshot: snapshot,
  };
  window.dpTest = test;

  function note(line) {
    test.log.push(((performance.now() - t0) / 1000).toFixed(2) + 's ' + line);
  }
  function error(line) {
    test.errors.push(line);
    note('ERROR ' + line);
    statusLine.textContent = 'error: ' + line;
  }

  // What the driver asserts on. Frames decoded, not currentTime, tell
  // whether media was really decrypted and decoded: dash.js skips segments
  // it cannot append and its clock runs on.
  function snapshot() {
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    const buffered = [];
    for (let i = 0; i < video.buffered.length; i++) {
      buffered.push([video.buffered.start(i), video.buffered.end(i)]);
    }
    return {
      currentTime: video.currentTime,
      totalVideoFrames: q ? q.totalVideoFrames : -1,
      droppedVideoFrames: q ? q.droppedVideoFrames : -1,
      readyState: video.readyState,
      paused: video.paused,
      ended: video.ended,
      buffered: buffered,
      mediaError: video.error ? (video.error.code + ' ' + video.error.message) : null,
      errors: test.errors.slice(),
      events: test.log.length,
      started: test.started,
    };
  }

  function hexToBase64Url(hex) {
    let bin = '';
    for (let i = 0; i < hex.length; i += 2) bin += String.fromCharCode(parseInt(hex.substr(i, 2), 16));
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error('cannot load ' + src)); };
      document.head.appendChild(s);
    });
  }

  video.addEventListener('error', function () {
    const e = video.error;
    error('media element: ' + (e ? e.code + ' ' + e.message : 'unknown'));
  });
  ['loadedmetadata', 'playing', 'waiting', 'ended', 'stalled'].forEach(function (ev) {
    video.addEventListener(ev, function () { note('video ' + ev + ' t=' + video.currentTime.toFixed(2)); });
  });
  video.addEventListener('playing', function () { statusLine.textContent = 'playing'; });

  function describe(e) {
    if (!e) return 'unknown';
    if (typeof e === 'string') return e;
    try {
      return JSON.stringify(e, function (k, v) {
        if (k === 'stack') return undefined;  // minified frames say nothing
        return (v instanceof ArrayBuffer) ? '[ArrayBuffer]' : v;
      }).slice(0, 500);
    } catch (x) {
      return String(e);
    }
  }

  async function playDashjs() {
    await loadScript('lib/dashjs/dist/modern/umd/dash.all.min.js');
    // A Smooth client manifest played direct: dash.js's optional MSS module.
    if (/\/Manifest(\?|$)/.test(mpd)) await loadScript('lib/dashjs/dist/modern/umd/dash.mss.min.js');
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
    const events = dashjs.MediaPlayer.events;
    function on(name, handler) {
      if (events[name]) player.on(events[name], handler);  // the set differs between releases
    }
    on('ERROR', function (e) { error('dash.js: ' + describe(e.error || e)); });
    on('PLAYBACK_ERROR', function (e) { error('dash.js playback: ' + describe(e.error || e)); });
    on('KEY_SESSION_CREATED', function () { note('dash.js key session created'); });
    on('KEY_STATUSES_CHANGED', function () { note('dash.js key statuses changed'); });
    on('FRAGMENT_LOADING_COMPLETED', function (e) {
      const r = e.request || {};
      note('dash.js loaded ' + (r.mediaType || '') + ' ' + (r.type || '') + ' ' + (r.url || ''));
    });
    if (kid && key) {
      const clearkeys = {};
      clearkeys[hexToBase64Url(kid)] = hexToBase64Url(key);
      player.setProtectionData({ 'org.w3.clearkey': { clearkeys: clearkeys } });
    }
    player.initialize(video, mpd, true, start);
    test.started = true;
    note('dash.js ' + player.getVersion() + ' initialised');
  }

  async function playShaka() {
    await loadScript('lib/shaka-player/dist/shaka-player.compiled.js');
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka: browser not supported');
    const player = new shaka.Player();
    await player.attach(video);
    player.addEventListener('error', function (e) { error('Shaka: ' + describe(e.detail)); });
    ['drmsessionupdate', 'keystatuschanged', 'buffering', 'loaded', 'segmentappended'].forEach(function (ev) {
      player.addEventListener(ev, function (e) {
        note('Shaka ' + ev + (e.buffering !== undefined ? ' ' + e.buffering : ''));
      });
    });
    if (kid && key) {
      const clearKeys = {};
      clearKeys[kid] = key;
      player.configure({ drm: { clearKeys: clearKeys } });
    }
    note('Shaka ' + shaka.Player.version + ' loading');
    await player.load(mpd, isNaN(start) ? null : start);
    test.started = true;
    note('Shaka loaded the manifest');
    try {
      await video.play();
    } catch (e) {
      // An interrupted play() is the echo of something else (Shaka
      // unloading after an error it reports itself), not a cause.
      if (e && e.name === 'AbortError') note('play() interrupted: ' + e.message);
      else throw e;
    }
  }

  const run = which === 'shaka' ? playShaka : playDashjs;
  run().catch(function (e) {
    error((which || 'player') + ' start: ' + describe(e && e.detail ? e.detail : (e && e.message) || e));
  });
})();
