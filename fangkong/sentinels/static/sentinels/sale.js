// The pharmacy sale form: drug rows, a client key per sale, and a queue for sales made offline.
// A queued sale keeps its client key, so sending it twice (or after a lost answer) stores it once.
(function () {
  "use strict";
  var form = document.getElementById("sale-form");
  if (!form) { return; }
  var QUEUE = "fangkong.sale-queue." + location.pathname;
  var rows = document.getElementById("drug-rows");
  var note = document.getElementById("queue-note");
  var offline = document.getElementById("offline-badge");

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID().replace(/-/g, ""); }
    return Date.now().toString(16) + Math.random().toString(16).slice(2);
  }
  function keyField() { return form.querySelector("input[name=client_key]"); }
  if (!keyField().value) { keyField().value = newKey(); }

  document.getElementById("drug-add").addEventListener("click", function () {
    var row = rows.querySelector(".drug-row").cloneNode(true);
    row.querySelector("select").value = "";
    row.querySelector("input").value = "1";
    rows.appendChild(row);
    row.querySelector("select").focus();
  });
  rows.addEventListener("click", function (event) {
    if (!event.target.classList.contains("drug-remove")) { return; }
    var row = event.target.closest(".drug-row");
    if (rows.querySelectorAll(".drug-row").length > 1) { row.remove(); }
    else { row.querySelector("select").value = ""; row.querySelector("input").value = "1"; }
  });

  function load() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function save(queue) { localStorage.setItem(QUEUE, JSON.stringify(queue)); show(queue); }
  function show(queue, error) {
    var text = error || (queue.length ? "有 " + queue.length + " 笔离线登记待上传，联网后自动上传。" : "");
    note.textContent = text;
    note.classList.toggle("d-none", !text);
    offline.classList.toggle("d-none", navigator.onLine);
  }
  function entries() {
    var data = {};
    new FormData(form).forEach(function (value, name) { (data[name] = data[name] || []).push(value); });
    data.sold_at = [new Date().toISOString()];
    return data;
  }
  var flushing = false;
  function flush() {
    var queue = load();
    if (flushing || !queue.length || !navigator.onLine) { show(queue); return; }
    flushing = true;
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var entry = queue[0];
    var body = new FormData();
    Object.keys(entry).forEach(function (name) {
      if (name === "csrfmiddlewaretoken") { return; }
      entry[name].forEach(function (value) { body.append(name, value); });
    });
    body.append("csrfmiddlewaretoken", token);
    fetch(location.pathname, {method: "POST", body: body, credentials: "same-origin",
                               headers: {"X-Requested-With": "fetch"}})
      .then(function (response) {
        return response.json().then(function (answer) { return {status: response.status, answer: answer}; });
      })
      .then(function (result) {
        flushing = false;
        var rest = load().filter(function (e) { return e.client_key[0] !== entry.client_key[0]; });
        if (result.status === 200 || result.status === 201) { save(rest); flush(); return; }
        if (result.status === 400) { save(rest); show(rest, "离线登记未能保存：" + result.answer.message); return; }
        show(load());
      })
      .catch(function () { flushing = false; show(load()); });
  }

  form.addEventListener("submit", function (event) {
    if (!navigator.onLine) {
      event.preventDefault();
      var queue = load();
      queue.push(entries());
      save(queue);
      form.reset();
      keyField().value = newKey();
      form.querySelector("[name=buyer_name]").focus();
      return;
    }
    document.getElementById("sale-submit").disabled = true;
  });
  window.addEventListener("online", flush);
  window.addEventListener("offline", function () { show(load()); });
  flush();
})();
