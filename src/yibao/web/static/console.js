// The dashboard's charts: ECharts instances fed from the JSON that htmx swaps in every 2 s.
(function () {
  "use strict";
  var charts = {};
  var palette = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#c62828", "#5d4037", "#37474f"];
  var axisText = { color: "#455a64", fontSize: 11 };

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") { return null; }
    if (!charts[id]) { charts[id] = echarts.init(el, null, { renderer: "canvas" }); }
    return charts[id];
  }

  function yuan(v) { return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }

  function bars(id, rows, horizontal, money) {
    var c = chart(id);
    if (!c) { return; }
    var names = rows.map(function (r) { return r.name; });
    var values = rows.map(function (r) { return r.value; });
    var category = { type: "category", data: names, axisLabel: Object.assign({ width: horizontal ? 150 : 80, overflow: "truncate" }, axisText) };
    var value = { type: "value", axisLabel: axisText, splitLine: { lineStyle: { color: "#eceff1" } } };
    c.setOption({
      color: palette,
      animation: false,
      grid: { left: horizontal ? 160 : 50, right: 20, top: 15, bottom: horizontal ? 25 : 40 },
      tooltip: { trigger: "axis", valueFormatter: money ? yuan : undefined },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: [{ type: "bar", data: values, barMaxWidth: 28, itemStyle: { borderRadius: 3 } }]
    }, true);
  }

  function pie(id, rows) {
    var c = chart(id);
    if (!c) { return; }
    c.setOption({
      color: palette,
      animation: false,
      tooltip: { trigger: "item", valueFormatter: yuan },
      legend: { bottom: 0, textStyle: axisText, type: "scroll" },
      series: [{ type: "pie", radius: ["40%", "68%"], center: ["50%", "44%"], data: rows,
                 label: { formatter: "{b}\n{d}%", fontSize: 11 } }]
    }, true);
  }

  function minute(data) {
    var c = chart("chart-minute");
    if (!c) { return; }
    c.setOption({
      color: palette,
      animation: false,
      grid: { left: 45, right: 20, top: 15, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.labels, axisLabel: axisText },
      yAxis: { type: "value", minInterval: 1, axisLabel: axisText, splitLine: { lineStyle: { color: "#eceff1" } } },
      series: [{ type: "bar", data: data.values, barMaxWidth: 14, itemStyle: { borderRadius: [2, 2, 0, 0] } }]
    }, true);
  }

  function draw() {
    var source = document.getElementById("chart-data");
    if (!source) { return; }
    var data;
    try { data = JSON.parse(source.textContent || "{}"); } catch (e) { return; }
    minute(data.minute);
    pie("chart-insutype", data.insutype);
    bars("chart-medtype", data.medtype, false, true);
    bars("chart-top", data.top, true, false);
    bars("chart-district", data.district, false, false);
  }

  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail && e.detail.elt && e.detail.elt.id === "poller") { window.setTimeout(draw, 0); }
  });
})();
