// The portal's voucher pages. Activation: the device id, made once (crypto.randomUUID) and kept in
// localStorage. The code: a countdown to its expiry; at zero the code asks htmx for a fresh one
// (htmx also replaces it every 45 s, before the 60-second expiry).
(function () {
  "use strict";
  var KEY = "yibao.device_id";

  function deviceId() {
    var field = document.getElementById("device_id");
    if (!field) { return; }
    var known = null;
    try { known = window.localStorage.getItem(KEY); } catch (e) { known = null; }
    if (!known) {
      known = (window.crypto && typeof window.crypto.randomUUID === "function") ? window.crypto.randomUUID() : field.value;
      try { window.localStorage.setItem(KEY, known); } catch (e) { /* private mode: the server's id stands */ }
    }
    if (known) { field.value = known; }
  }

  function tick() {
    var code = document.getElementById("voucher-code");
    if (!code || !code.dataset.seconds) { return; }
    if (!code.dataset.deadline) { code.dataset.deadline = String(Date.now() + Number(code.dataset.seconds) * 1000); }
    var left = Math.max(0, Math.round((Number(code.dataset.deadline) - Date.now()) / 1000));
    var shown = code.querySelector(".countdown");
    if (shown) { shown.textContent = String(left); }
    code.classList.toggle("expired", left === 0);
    if (left === 0 && !code.dataset.asked && typeof htmx !== "undefined") {
      code.dataset.asked = "1";
      htmx.trigger(code, "expired");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    deviceId();
    tick();
    window.setInterval(tick, 1000);
  });
})();
