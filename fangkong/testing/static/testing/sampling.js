// The sampling page on a phone with a bad connection.
//
// Each 采样 is put in a queue in localStorage with its own client_key, then
// posted as JSON to the session's scan endpoint. What could not be sent (no
// network, a server error, an expired login) stays queued and is re-sent when
// the phone is back online; the server ignores a client_key it has already
// recorded, so a re-send never makes a second sample. Only an answer of the
// server (a JSON body) takes a scan off the queue.
(function () {
  "use strict";
  const root = document.getElementById("sampling");
  const form = document.getElementById("scan-form");
  if (!root || !form) return;

  const T = JSON.parse(document.getElementById("sampling-texts").textContent);
  const scanUrl = root.dataset.scanUrl;
  const capacity = parseInt(root.dataset.capacity, 10) || 1;
  const storeKey = "fk-testing-queue-" + root.dataset.session;
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const $ = (id) => document.getElementById(id);
  const barcodeInput = $("barcode-input"), personInput = $("person-input");
  const norm = (value) => (value || "").replace(/\s+/g, "").toUpperCase();
  const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, k) => (values[k] ?? ""));

  // The tube as the server last told it, by barcode.
  let tube = null;
  const initialBarcode = norm(barcodeInput.value);
  if (initialBarcode) {
    const filled = parseInt(($("tube-fill").textContent || "0").split("/")[0], 10) || 0;
    const members = Array.from($("tube-members").children).map((li) => li.textContent);
    tube = { barcode: initialBarcode, filled: filled, capacity: capacity, status: "open", members: members };
  }
  // The session's totals and latest tubes as the server last told them (the scan answers carry them).
  let totals = JSON.parse(($("sampling-totals") || {}).textContent || "null") || { tubes: 0, samples: 0, list: [] };
  // The tube just filled: shown as "10/10 已封管" until the next barcode is scanned.
  let justFilled = null;
  let sending = false, retryTimer = null;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "[]"); } catch (e) { return []; }
  }
  function save(queue) { localStorage.setItem(storeKey, JSON.stringify(queue)); }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Plain-HTTP pages have no randomUUID: 16 random bytes as a v4-shaped uuid.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function pendingFor(barcode) { return load().filter((item) => item.barcode === barcode).length; }

  function showError(text) {
    const box = $("scan-error");
    box.textContent = text; box.classList.toggle("d-none", !text);
    if (text) showOk("");
    if (text && navigator.vibrate) navigator.vibrate([120, 60, 120]);
  }
  function showOk(text) { const box = $("scan-ok"); box.textContent = text; box.classList.toggle("d-none", !text); }

  function addFailed(item, error) {
    const li = document.createElement("li");
    li.className = "list-group-item fs-6";
    const tail = (item.person || "").slice(-4);
    li.textContent = `${item.barcode} · ${fmt(T.id_tail, { tail: tail })}：${error}`;
    $("failed-list").prepend(li);
    $("failed-card").classList.remove("d-none");
  }

  // What the page shows: the server's count for the tube plus the scans still queued for it.
  function render() {
    const queue = load();
    const badge = $("queue-badge");
    badge.textContent = fmt(T.pending, { n: queue.length });
    badge.classList.toggle("d-none", queue.length === 0);
    $("offline-badge").classList.toggle("d-none", navigator.onLine);
    const barcode = norm(barcodeInput.value);
    if (barcode) justFilled = null;
    const shown = barcode || (justFilled ? justFilled.barcode : "");
    const known = tube && tube.barcode === shown ? tube : null;
    let filled = (known ? known.filled : 0) + (shown ? pendingFor(shown) : 0);
    let cap = known ? known.capacity : capacity;
    if (!barcode && justFilled && !known) {
      filled = justFilled.filled; cap = justFilled.capacity;
    }
    $("tube-fill").textContent = `${Math.min(filled, cap)}/${cap}`;
    const note = $("tube-fill-note");
    note.textContent = !barcode && justFilled ? (known && !known.open ? known.status_label : (filled >= cap ? T.sealed : "")) : "";
    note.classList.toggle("d-none", !note.textContent);
    $("tube-progress").style.width = `${Math.min(100, Math.round((100 * filled) / cap))}%`;
    $("tube-barcode").textContent = shown || "—";
    $("seal-barcode").value = barcode;
    $("seal-button").disabled = !barcode || filled === 0;
    const list = $("tube-members");
    list.replaceChildren(...(known ? known.members : []).map((name) => {
      const li = document.createElement("li"); li.className = "list-group-item fs-5"; li.textContent = name; return li;
    }));
    $("tube-empty").classList.toggle("d-none", list.children.length > 0);
    $("barcode-hint").textContent = barcode ? T.next_person : T.new_tube;
    renderTotals(queue);
  }

  // The header line and the list of the session's tubes: the server's numbers; queued scans apart, as pending.
  function renderTotals(queue) {
    $("session-totals").textContent = fmt(T.totals, { tubes: totals.tubes, samples: totals.samples });
    const pending = $("session-pending");
    pending.textContent = queue.length ? ` · ${fmt(T.totals_pending, { n: queue.length })}` : "";
    pending.classList.toggle("d-none", !queue.length);
    const queued = new Map();
    queue.forEach((item) => queued.set(item.barcode, (queued.get(item.barcode) || 0) + 1));
    const rows = totals.list.map((t) => Object.assign({}, t, { queued: queued.get(t.barcode) || 0 }));
    const listed = new Set(rows.map((t) => t.barcode));
    const fresh = Array.from(queued, ([code, n]) => ({ barcode: code, queued: n, capacity: capacity }))
      .filter((t) => !listed.has(t.barcode));
    const list = $("session-tubes");
    const items = fresh.reverse().concat(rows).map((t) => {
      const li = document.createElement("li");
      li.className = "list-group-item d-flex justify-content-between gap-2";
      const code = document.createElement("span");
      code.className = "fk-mono";
      if (t.url) {
        const a = document.createElement("a"); a.href = t.url; a.textContent = t.barcode; code.append(a);
      } else {
        code.textContent = t.barcode;
      }
      const right = document.createElement("span");
      const badge = (cls, text) => {
        const b = document.createElement("span"); b.className = `badge ${cls}`; b.textContent = text; return b;
      };
      if (t.status) {
        right.append(`${t.filled}/${t.capacity} `, badge(t.status === "open" ? "text-bg-success" : "text-bg-secondary", t.status_label));
        if (t.result) right.append(" ", badge(t.result === "positive" ? "text-bg-danger" : "text-bg-light", t.result_label));
      }
      if (t.queued) right.append(" ", badge("text-bg-warning", fmt(T.queued, { n: t.queued })));
      li.append(code, right);
      return li;
    });
    if (!items.length) {
      const li = document.createElement("li"); li.className = "list-group-item text-muted"; li.textContent = T.no_tubes;
      items.push(li);
    }
    list.replaceChildren(...items);
  }

  // A full or sealed tube: clear the barcode and ask for the next one.
  function nextTube(state) {
    if (norm(barcodeInput.value) === state.barcode) {
      barcodeInput.value = "";
      justFilled = { barcode: state.barcode, filled: state.filled, capacity: state.capacity };
      showOk(fmt(T.full, { filled: state.filled, capacity: state.capacity }));
      barcodeInput.focus();
    }
  }

  async function sendOne(item) {
    let response;
    try {
      response = await fetch(scanUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(item),
      });
    } catch (e) {
      return { retry: true, reason: T.offline };
    }
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("application/json")) {
      // A login page, a CSRF failure, a proxy error: keep the scan.
      const expired = response.redirected || response.status === 403;
      return { retry: true, reason: expired ? T.relogin : T.offline };
    }
    try { return { data: await response.json() }; } catch (e) { return { retry: true, reason: T.offline }; }
  }

  async function flush() {
    if (sending) return;
    sending = true;
    clearTimeout(retryTimer);
    try {
      for (;;) {
        const queue = load();
        if (!queue.length) break;
        const item = queue[0];
        const outcome = await sendOne(item);
        if (outcome.retry) {
          showError(outcome.reason === T.offline ? "" : outcome.reason);
          if (outcome.reason === T.offline) showOk(T.offline);
          retryTimer = setTimeout(flush, 15000);
          break;
        }
        save(load().filter((q) => q.client_key !== item.client_key));
        const data = outcome.data;
        if (data.session && Array.isArray(data.tubes)) {
          totals = { tubes: data.session.tubes, samples: data.session.samples, list: data.tubes };
        }
        if (data.tube) {
          tube = data.tube;
          if (!data.tube.open) nextTube(data.tube);
        }
        if (data.ok) {
          showError("");
          if (!data.tube || data.tube.open) showOk(fmt(T.ok, { person: data.person }));
        } else {
          showError(data.error);
          addFailed(item, data.error);
        }
        render();
      }
    } finally {
      sending = false;
      render();
    }
  }

  barcodeInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); personInput.focus(); }
  });
  barcodeInput.addEventListener("input", render);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const barcode = norm(barcodeInput.value);
    barcodeInput.value = barcode;
    const person = personInput.value.trim();
    if (!barcode) { showError(T.need_barcode); barcodeInput.focus(); return; }
    if (!person) { showError(T.need_person); personInput.focus(); return; }
    showError("");
    const queue = load();
    queue.push({ client_key: newKey(), barcode: barcode, person: person, sampled_at: new Date().toISOString() });
    save(queue);
    personInput.value = "";
    // Count the queued scans too: a tube full on the phone is full, even before the server says so.
    const known = tube && tube.barcode === barcode ? tube.filled : 0;
    if (known + pendingFor(barcode) >= capacity) {
      nextTube({ barcode: barcode, filled: capacity, capacity: capacity });
    } else {
      personInput.focus();
    }
    render();
    flush();
  });

  $("seal-form").addEventListener("submit", (event) => {
    const n = pendingFor($("seal-barcode").value);
    if (n) { event.preventDefault(); showError(fmt(T.seal_pending, { n: n })); flush(); }
  });
  document.getElementById("close-form")?.addEventListener("submit", (event) => {
    const n = load().length;
    if (n) { event.preventDefault(); showError(fmt(T.close_pending, { n: n })); flush(); return; }
    if (!window.confirm(T.close_confirm)) event.preventDefault();
  });

  window.addEventListener("online", () => { render(); flush(); });
  window.addEventListener("offline", render);
  render();
  flush();
})();
