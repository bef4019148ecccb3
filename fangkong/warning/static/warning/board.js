// The warning board: the county map coloured by open alerts, and one series with the detector's threshold.
(function () {
  "use strict";
  function parse(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }

  var mapEl = document.getElementById("warning-map");
  var geojson = parse("board-geojson");
  var mapData = parse("board-map-data") || [];
  if (window.echarts && mapEl && geojson && geojson.features.length) {
    echarts.registerMap("county", geojson);
    var max = Math.max(1, Math.max.apply(null, mapData.map(function (d) { return d.value; })));
    var chart = echarts.init(mapEl);
    chart.setOption({
      tooltip: { trigger: "item", formatter: function (p) { return p.name + "：" + (p.value || 0) + " 条未关闭预警"; } },
      visualMap: { min: 0, max: max, left: 8, bottom: 8, text: ["多", "0"], calculable: false,
                   inRange: { color: ["#e8f5e9", "#ffe082", "#ef6c00", "#b71c1c"] } },
      series: [{ type: "map", map: "county", roam: false, label: { show: true, fontSize: 11 },
                 emphasis: { label: { show: true } }, data: mapData }]
    });
    chart.on("click", function (p) {
      var select = document.getElementById("series-township");
      var hit = mapData.filter(function (d) { return d.name === p.name; })[0];
      if (select && hit) { select.value = hit.code; loadSeries(); }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  var seriesEl = document.getElementById("series-chart");
  var seriesChart = window.echarts && seriesEl ? echarts.init(seriesEl) : null;
  function loadSeries() {
    var township = document.getElementById("series-township");
    var signal = document.getElementById("series-signal");
    if (!seriesChart || !township || !signal || !township.value || !signal.value) { return; }
    var url = "/api/v1/series?township=" + encodeURIComponent(township.value) + "&signal=" + encodeURIComponent(signal.value);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      var note = document.getElementById("series-note");
      if (!data.days) { if (note) { note.textContent = data.message || ""; } return; }
      var alarms = data.days.map(function (d, i) { return data.alarm[i] ? [d, data.counts[i]] : null; })
        .filter(function (x) { return x; });
      seriesChart.setOption({
        animation: false, tooltip: { trigger: "axis" }, legend: { top: 0 },
        grid: { left: 40, right: 16, top: 32, bottom: 28 },
        xAxis: { type: "category", data: data.days }, yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: "计数", type: "line", data: data.counts, showSymbol: false },
          { name: "阈值", type: "line", data: data.upper, showSymbol: false, lineStyle: { type: "dashed" } },
          { name: "预期", type: "line", data: data.expected, showSymbol: false, lineStyle: { opacity: 0.5 } },
          { name: "报警", type: "scatter", data: alarms, symbolSize: 10, itemStyle: { color: "#b71c1c" } }
        ]
      }, true);
      if (note) { note.textContent = (data.method_label || data.method || "") + (data.note ? "：" + data.note : ""); }
    });
  }
  ["series-township", "series-signal"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener("change", loadSeries); }
  });
  loadSeries();
})();
