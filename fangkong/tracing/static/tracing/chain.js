/* The transmission-chain graph of a cluster (ECharts, served locally).
 *
 * Nodes are cases on a time axis (x = onset, or sampling for asymptomatic cases; y = generation,
 * spread when several cases share a day and a generation), edges are "infected by" with the
 * contact evidence in the tooltip. A click on a node opens the case page.
 */
(function () {
  "use strict";
  var holder = document.getElementById("chain-graph");
  var source = document.getElementById("chain-data");
  if (!holder || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var esc = echarts.format.encodeHTML;
  var DAY = 24 * 3600 * 1000;

  function localDay(iso) {
    var p = iso.split("-");
    return new Date(+p[0], +p[1] - 1, +p[2]).getTime();
  }

  var categoryOf = {};
  data.classifications.forEach(function (c, i) { categoryOf[c.value] = i; });
  var indexOf = {};
  data.nodes.forEach(function (n, i) { indexOf[n.id] = i; });

  // Cases on the same day and generation are spread around the generation's line.
  var groups = {};
  data.nodes.forEach(function (n) {
    var key = n.date + "/" + n.generation;
    (groups[key] = groups[key] || []).push(n);
  });
  var y = {};
  Object.keys(groups).forEach(function (key) {
    var members = groups[key];
    var step = members.length > 1 ? Math.min(0.3, 0.7 / (members.length - 1)) : 0;
    members.forEach(function (n, i) { y[n.id] = n.generation + (i - (members.length - 1) / 2) * step; });
  });

  var times = data.nodes.map(function (n) { return localDay(n.date); });
  var maxGeneration = Math.max.apply(null, data.nodes.map(function (n) { return n.generation; }));
  var generationLabel = function (v) {
    return Number.isInteger(v) && v >= 0 && v <= maxGeneration ? data.labels.generation.replace("%(n)s", v + 1) : "";
  };

  var nodes = data.nodes.map(function (n) {
    return {
      id: String(n.id), name: n.number, value: [localDay(n.date), y[n.id]], category: categoryOf[n.classification],
      url: n.url, case: n,
    };
  });
  var links = data.edges.filter(function (e) {
    return e.source in indexOf && e.target in indexOf;
  }).map(function (e) {
    return { source: indexOf[e.source], target: indexOf[e.target], edge: e };
  });

  var chart = echarts.init(holder);
  chart.setOption({
    animation: false,
    legend: { top: 0, data: data.classifications.map(function (c) { return c.label; }) },
    grid: { left: 64, right: 40, top: 40, bottom: 36 },
    tooltip: {
      confine: true,
      formatter: function (p) {
        if (p.dataType === "edge") {
          var e = p.data.edge;
          var from = data.nodes[indexOf[e.source]], to = data.nodes[indexOf[e.target]];
          return esc(from.number) + " → " + esc(to.number) + "<br>" +
            (e.kind_label ? esc(e.kind_label) + "：" : "") + esc(e.summary || data.labels.no_evidence);
        }
        if (p.dataType === "node") {
          var n = p.data.case;
          return "<b>" + esc(n.number) + "</b> " + esc(n.name) + "<br>" + esc(n.classification_label) + "<br>" +
            esc(data.labels.date) + "：" + esc(n.date) + " · " + esc(generationLabel(n.generation)) + "<br>" +
            "<span style='color:#888'>" + esc(data.labels.open) + "</span>";
        }
        return "";
      },
    },
    xAxis: {
      type: "time",
      min: Math.min.apply(null, times) - DAY,
      max: Math.max.apply(null, times) + DAY,
      minInterval: DAY,
      axisLine: { onZero: false },
      axisLabel: { formatter: "{MM}-{dd}", hideOverlap: true },
      splitLine: { show: true, lineStyle: { type: "dashed", opacity: 0.5 } },
    },
    yAxis: {
      type: "value", inverse: true, min: -1, max: maxGeneration + 1, interval: 1,
      axisLabel: { formatter: generationLabel },
      splitLine: { show: false },
    },
    series: [{
      type: "graph",
      coordinateSystem: "cartesian2d",
      data: nodes,
      links: links,
      categories: data.classifications.map(function (c) { return { name: c.label, itemStyle: { color: c.color } }; }),
      symbolSize: 22,
      cursor: "pointer",
      edgeSymbol: ["none", "arrow"],
      edgeSymbolSize: [0, 9],
      lineStyle: { color: "#78909c", width: 2, curveness: 0.15, opacity: 0.9 },
      label: {
        show: true, position: "right", fontSize: 11, color: "#333", lineHeight: 13,
        formatter: function (p) { return p.data.case.number + "\n" + p.data.case.name; },
      },
      emphasis: { focus: "adjacency", lineStyle: { width: 4 } },
    }],
  });
  chart.on("click", function (p) {
    if (p.dataType === "node" && p.data.url) window.location.href = p.data.url;
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
