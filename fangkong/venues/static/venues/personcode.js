/* 我的个人码: draw a fresh person code every minute from the identity this device keeps (the scan
   page's localStorage keys), and show it as a QR with a running clock. Nothing is stored here. */
(function () {
  "use strict";
  var page = document.querySelector("[data-person-code-page]");
  if (!page) { return; }
  var text = JSON.parse(document.getElementById("fk-code-messages").textContent);
  var box = page.querySelector("[data-code-box]");
  var message = page.querySelector("[data-code-message]");
  var REFRESH_MS = 60 * 1000;

  function load(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function hms(d) { return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()); }
  function hm(d) { return two(d.getHours()) + ":" + two(d.getMinutes()); }
  function say(words) {
    message.textContent = words || "";
    message.classList.toggle("d-none", !words);
  }

  var token = load("fk.scan.token");
  var device = load("fk.scan.device");
  if (!token || !device) {
    say(text.not_identified);
    return;
  }

  function draw() {
    fetch(page.dataset.codeUrl, {
      method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ token: token, device: device })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 200 && data.code) {
          page.querySelector("[data-code-qr]").innerHTML = data.svg;  // drawn by this site's server
          page.querySelector("[data-code-text]").textContent = data.code;
          page.querySelector("[data-code-person]").textContent = data.person || "";
          var until = new Date(Date.now() + data.valid_minutes * 60 * 1000);
          page.querySelector("[data-code-valid]").textContent = text.valid_until + " " + hm(until);
          box.classList.remove("d-none");
          say("");
        } else if (response.status === 401) {
          box.classList.add("d-none");
          say(text.reidentify);
          window.clearInterval(refresher);
        } else {
          say(data.message || text.network);
        }
      });
    }).catch(function () { say(text.network); });
  }
  function tick() { page.querySelector("[data-code-clock]").textContent = hms(new Date()); }
  var refresher = window.setInterval(draw, REFRESH_MS);
  window.setInterval(tick, 1000);
  tick();
  draw();
})();
