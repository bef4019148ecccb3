/* The outbreak board: new cases per day over 14 days, stacked by classification (ECharts, served locally). */
(function () {
  "use strict";
  var holder = document.getElementById("board-chart");
  var source = document.getElementById("board-chart-data");
  if (!holder || !source || typeof echarts === "undefined") return;
  var data = JSON.parse(source.textContent);
  var chart = echarts.init(holder);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 36, bottom: 28 },
    xAxis: { type: "category", data: data.days.map(function (d) { return d.slice(5); }) },
    yAxis: { type: "value", minInterval: 1, name: data.labels.count },
    series: data.series.map(function (s) {
      return { name: s.label, type: "bar", stack: "cases", data: s.data, itemStyle: { color: s.color }, barMaxWidth: 28 };
    }),
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
