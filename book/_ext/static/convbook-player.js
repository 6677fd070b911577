/* ConvBook's static explorer player (no framework, no network): see convlib/widgets/player.py.
   Each <div class="cb-player"> holds a JSON script {sizes, start, slots, strings, states}
   (strings: a JSON list, gzipped and base64-encoded, unpacked with DecompressionStream);
   moving a control shows the precomputed state of the controls' current grid point. */
(function () {
  "use strict";
  function fail(root, why) {
    root.classList.add("cb-broken");
    var note = root.querySelector(".cb-player-note");
    // the page's language decides the note's (the Chinese edition is <html lang="zh-CN">)
    var chinese = /^zh/i.test(document.documentElement.lang || "");
    if (note) note.textContent = chinese
      ? "本探索器预先计算的状态缺失或已损坏（" + why + "）：图片不会随控件变化。请改为运行笔记本。"
      : "This explorer's precomputed states are missing or damaged (" + why +
        "): the picture does not follow the controls. Run the notebook instead.";
    console.error("convbook-player: " + why);
  }
  function unpack(b64) {
    var bytes = Uint8Array.from(atob(b64), function (ch) { return ch.charCodeAt(0); });
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }
  function init(root) {
    var data;
    try {
      data = JSON.parse(root.querySelector("script.cb-player-data").textContent);
    } catch (e) { fail(root, "unreadable state data: " + e.message); return; }
    if (typeof DecompressionStream === "undefined") {
      fail(root, "this browser cannot unpack them (no DecompressionStream)"); return; }
    unpack(data.strings).then(function (strings) {
      data.strings = strings; play(root, data);
    }, function (e) { fail(root, "unreadable state data: " + e); });
  }
  function play(root, data) {
    var ctls = Array.prototype.slice.call(root.querySelectorAll("[data-ctl]"));
    var slots = [], readouts = [];
    root.querySelectorAll("[data-slot]").forEach(function (el) { slots[+el.dataset.slot] = el; });
    root.querySelectorAll("[data-readout]").forEach(function (el) {
      readouts[+el.dataset.readout] = el; });
    ctls.sort(function (a, b) { return a.dataset.ctl - b.dataset.ctl; });
    var total = (data.sizes || []).reduce(function (a, b) { return a * b; }, 1);
    if (!Array.isArray(data.states) || data.states.length !== total || ctls.length !== data.sizes.length) {
      fail(root, "expected " + total + " states for " + ctls.length + " controls, found " +
           (Array.isArray(data.states) ? data.states.length : "none"));
      return;
    }
    function index(el) {
      if (el.type === "checkbox") return el.checked ? 1 : 0;
      if (el.tagName === "SELECT") return el.selectedIndex;
      return +el.value;
    }
    function show() {
      var flat = 0;
      for (var j = 0; j < ctls.length; j++) flat = flat * data.sizes[j] + index(ctls[j]);
      var state = data.states[flat];
      if (!state || state.length !== data.slots + ctls.length) {
        fail(root, "state " + flat + " is missing"); return; }
      for (var k = 0; k < data.slots; k++) {
        var html = data.strings[state[k]];
        if (typeof html !== "string") { fail(root, "state " + flat + " names no picture"); return; }
        if (slots[k] && slots[k].dataset.shown !== String(state[k])) {
          slots[k].innerHTML = html; slots[k].dataset.shown = String(state[k]); }
      }
      for (var c = 0; c < ctls.length; c++)
        if (readouts[c]) readouts[c].textContent = data.strings[state[data.slots + c]];
    }
    ctls.forEach(function (el) {
      el.addEventListener("input", show); el.addEventListener("change", show); });
    root.classList.add("cb-ready");
    show();
  }
  function start() { document.querySelectorAll("div.cb-player").forEach(init); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
