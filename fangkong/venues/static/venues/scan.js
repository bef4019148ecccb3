/* The scan page: identify once per device, then one tap per scan, then the full-screen status.
   The device secret (32 random hex characters) and the personal token live in localStorage and are
   only ever sent to this site's two scan endpoints. No cookie, no session, no library. */
(function () {
  "use strict";
  var page = document.querySelector("[data-scan-page]");
  if (!page) { return; }
  var text = JSON.parse(document.getElementById("fk-scan-messages").textContent);
  var KEYS = { device: "fk.scan.device", token: "fk.scan.token", name: "fk.scan.name" };
  var memory = {};
  var storageWorks = true;
  var clockTimer = null;

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { storageWorks = false; memory[key] = value; }
  }
  function drop(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* nothing stored */ }
    delete memory[key];
  }

  function randomHex(bytes) {
    var values = new Uint8Array(bytes);
    window.crypto.getRandomValues(values);
    return Array.prototype.map.call(values, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function deviceSecret() {
    var secret = load(KEYS.device);
    if (!secret || !/^[0-9a-f]{32}$/.test(secret)) {
      secret = randomHex(16);
      save(KEYS.device, secret);
    }
    return secret;
  }

  var messageBox = page.querySelector("[data-scan-message]");
  function showMessage(message) {
    messageBox.textContent = message || "";
    messageBox.classList.toggle("d-none", !message);
  }

  function step(name) {
    document.querySelectorAll("[data-step]").forEach(function (el) {
      el.classList.toggle("d-none", el.dataset.step !== name);
    });
    if (name !== "status" && clockTimer) { window.clearInterval(clockTimer); clockTimer = null; }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  // Identify ---------------------------------------------------------------------------------------
  var form = page.querySelector("[data-identify-form]");
  function clearErrors() {
    form.querySelectorAll(".is-invalid").forEach(function (el) { el.classList.remove("is-invalid"); });
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
  }
  function showErrors(errors, fallback) {
    var shown = false;
    Object.keys(errors || {}).forEach(function (field) {
      var slot = form.querySelector('[data-error-for="' + field + '"]') || form.querySelector('[data-error-for="__all__"]');
      var input = form.elements[field];
      if (input) { input.classList.add("is-invalid"); }
      slot.textContent = (errors[field] || []).join(" ");
      shown = true;
    });
    if (!shown) { form.querySelector('[data-error-for="__all__"]').textContent = fallback || text.network; }
  }

  function showIdentify(message) {
    showMessage(message);
    step("identify");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    showMessage("");
    var button = form.querySelector("[type=submit]");
    button.disabled = true;
    post(page.dataset.identifyUrl, {
      code: page.dataset.code,
      name: form.elements.name.value.trim(),
      document_number: form.elements.document_number.value.trim().toUpperCase(),
      phone: form.elements.phone.value.trim(),
      device: deviceSecret()
    }).then(function (result) {
      if (result.status === 200 && result.data.token) {
        save(KEYS.token, result.data.token);
        save(KEYS.name, result.data.name_masked || "");
        form.reset();
        if (!storageWorks) { showMessage(text.no_storage); }
        return checkIn();
      }
      if (result.data.code === "invalid_code" || result.status === 429) {
        showMessage(result.data.message);
        return null;
      }
      showErrors(result.data.errors, result.data.message);
      return null;
    }).catch(function () {
      showErrors(null, text.network);
    }).then(function () { button.disabled = false; });
  });

  // Scan -------------------------------------------------------------------------------------------
  var tapButton = page.querySelector("[data-scan-button]");
  function showTap() {
    page.querySelector("[data-person-name]").textContent = load(KEYS.name) || "";
    step("tap");
  }

  function checkIn() {
    tapButton.disabled = true;
    var label = tapButton.textContent;
    tapButton.textContent = text.busy;
    return post(page.dataset.scanUrl, {
      code: page.dataset.code, token: load(KEYS.token) || "", device: deviceSecret()
    }).then(function (result) {
      if (result.status === 200) {
        showStatus(result.data);
      } else if (result.status === 401) {
        forget();
        showIdentify(result.data.message || text.reidentify);
      } else {
        showTap();
        showMessage(result.data.message || text.network);
      }
    }).catch(function () {
      showTap();
      showMessage(text.network);
    }).then(function () {
      tapButton.disabled = false;
      tapButton.textContent = label;
    });
  }
  tapButton.addEventListener("click", function () { showMessage(""); checkIn(); });

  // Status screen ----------------------------------------------------------------------------------
  var screen = document.querySelector('[data-step="status"]');
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function hms(d) { return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()); }
  function dateText(d) {
    try {
      return d.toLocaleDateString(document.documentElement.lang || "zh-CN",
        { year: "numeric", month: "long", day: "numeric", weekday: "short" });
    } catch (e) {
      return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate());
    }
  }
  function tick() {
    var now = new Date();
    screen.querySelector("[data-clock]").textContent = hms(now);
    screen.querySelector("[data-clock-date]").textContent = dateText(now);
  }

  function showStatus(data) {
    var colour = ["green", "yellow", "red"].indexOf(data.colour) >= 0 ? data.colour : "red";
    screen.className = "fk-status fk-status-" + colour;
    screen.querySelector("[data-status-label]").textContent = data.label || "";
    screen.querySelector("[data-status-name]").textContent = data.person || "";
    screen.querySelector("[data-status-reasons]").textContent = (data.reasons || []).join("、");
    var at = data.time ? new Date(data.time) : null;
    var note = at && !isNaN(at) ? text.scanned_at + " " + hms(at) : "";
    if (data.duplicate) { note = text.duplicate + (note ? " · " + note : ""); }
    screen.querySelector("[data-status-note]").textContent = note;
    step("status");
    tick();
    clockTimer = window.setInterval(tick, 1000);
  }
  screen.querySelector("[data-again]").addEventListener("click", function () { showTap(); });

  // Forget this device's identity --------------------------------------------------------------------
  function forget() {
    drop(KEYS.token);
    drop(KEYS.name);
  }
  document.querySelectorAll("[data-forget]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      if (!window.confirm(text.forget_confirm)) { return; }
      forget();
      showIdentify("");
    });
  });

  if (load(KEYS.token)) { showTap(); } else { showIdentify(""); }
})();
