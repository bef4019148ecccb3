// The fever-patient form's report clock (首诊负责制: report within an hour of the first consultation).
// Counts down every second from the consultation time in the form; past the hour it says by how many whole
// minutes, as the report list will count them (首诊后 N 分钟).
// Times are read in the server's UTC offset and against the server's clock, so a phone's wrong time zone
// or clock does not move the deadline.
(function () {
  "use strict";
  var box = document.getElementById("report-countdown");
  if (!box) { return; }
  var input = document.getElementById(box.dataset.field);
  if (!input) { return; }
  var limit = Number(box.dataset.limitMinutes) * 60000;
  var skew = Number(box.dataset.serverNow) * 1000 - Date.now();
  var offset = box.dataset.utcOffset.replace(/^([+-]\d\d)(\d\d)$/, "$1:$2");
  var FUTURE_SLACK = 5 * 60000;  // the server refuses a consultation more than 5 minutes ahead
  var SOON = 10 * 60000;

  function now() { return Date.now() + skew; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (match, key) { return values[key]; });
  }
  function consultedAt() {
    var value = input.value;
    if (!value) { return null; }
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(value)) { value += ":00"; }
    return Date.parse(value + offset);
  }
  function show(text, style) {
    box.textContent = text;
    box.classList.remove("d-none", "alert-info", "alert-warning", "alert-danger", "alert-secondary");
    box.classList.add(style);
    box.dataset.state = style.replace("alert-", "");
  }
  function tick() {
    var at = consultedAt();
    if (at === null) { show(box.dataset.textEmpty, "alert-secondary"); return; }
    if (isNaN(at)) { box.classList.add("d-none"); return; }
    if (at - now() > FUTURE_SLACK) { show(box.dataset.textFuture, "alert-danger"); return; }
    var left = at + limit - now();
    if (left > 0) {
      var seconds = Math.floor(left / 1000);
      show(fill(box.dataset.textLeft, {time: pad(Math.floor(seconds / 60)) + ":" + pad(seconds % 60)}),
           left <= SOON ? "alert-warning" : "alert-info");
    } else {
      show(fill(box.dataset.textOver, {minutes: Math.max(1, Math.floor(-left / 60000))}), "alert-danger");
    }
  }
  input.addEventListener("input", tick);
  input.addEventListener("change", tick);
  window.setInterval(tick, 1000);
  tick();
})();
